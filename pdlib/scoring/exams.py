"""Scoring examinations: the assembling heads notebooks 04 and 05 saved, on the features of new examinations.

For every examination of a scored dataset with a usable video of each task the heads assemble, each fold's
heads (the method with the best out-of-fold MCC) take the features of that fold's task models, standardised
as in training; their mean class probabilities over folds and repeats are the examination's, and its CV+
conformal set (`pdlib.scoring.conformal`) is calibrated on the heads' out-of-fold probabilities.
Research outputs on one's own cohort, not a diagnosis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import matthews_corrcoef

from pdlib.data import ClipDataset, cache_clips
from pdlib.exam_level import load_heads, load_standardisation, standardise
from pdlib.features import clip_features
from pdlib.folds import exam_classes
from pdlib.kinematics import exam_features
from pdlib.layout import Layout
from pdlib.models.heads import METHODS
from pdlib.scoring.conformal import ABSTAIN, Conformal, ScoreError, class_probabilities
from pdlib.scoring.videos import TaskModels
from pdlib.tasks import DEFAULT_COVERAGE
from pdlib.tracking import video_features
from pdlib.train import TrainConfig

EXAM_LEVELS = {"assembling": "examination", "slight_vs_severe": "slight_vs_severe"}  # heads -> the rows' task


def best_method(layout: Layout, experiment: str) -> str:
    """The assembling method (Table I) whose saved heads had the highest mean out-of-fold MCC over repeats."""
    mcc = {}
    for method in METHODS:
        path = layout.head_predictions(experiment, method)
        if path.is_file():
            preds = pd.read_csv(path)
            mcc[method] = np.mean([matthews_corrcoef(g["label"], g["pred"]) for _, g in preds.groupby("repeat")])
    if not mcc:
        raise ScoreError(f"no saved assembling heads with predictions in {layout.heads(experiment)}: run "
                         f"`pdlib reproduce --profile {layout.profile}` (notebooks 04 and 05) first")
    return max(mcc, key=mcc.get)


def _exam_clips(scores: pd.DataFrame, exams: list[str], models: dict[str, TaskModels]
                ) -> dict[str, tuple[ClipDataset, np.ndarray]]:
    """Per task, the usable clips of the examinations (decoded already: read from the cache) and their exam."""
    out = {}
    for task, m in models.items():
        rows = scores[(scores["task"] == task) & scores["exam"].isin(exams) & (scores["call"] != "")]
        status = cache_clips(list(rows["path"]), m.spec, m.layout.cache_dir, progress=False)
        out[task] = (ClipDataset.from_files(list(status["cache"]), np.zeros(len(rows), int), rows),
                     rows["exam"].to_numpy(str))
    return out


def _exam_features(clips: dict[str, tuple[ClipDataset, np.ndarray]], exams: list[str],
                   models: dict[str, TaskModels], fold: int, config: TrainConfig) -> dict[str, np.ndarray]:
    """(E, M, ...) avgpool and layer4 of the examinations under fold `fold`'s task models (sides averaged)."""
    out: dict[str, np.ndarray] = {}
    for m, (task, (dataset, exam_of)) in enumerate(clips.items()):
        for name, x in zip(("avgpool", "layer4"), clip_features(models[task].models[fold], dataset, config),
                           strict=True):
            per_exam = np.stack([x[exam_of == e].mean(axis=0) for e in exams])
            out.setdefault(name, np.zeros((len(exams), len(clips), *x.shape[1:]), np.float32))[:, m] = per_exam
    return out


def _exam_kinematics(scores: pd.DataFrame, exams: list[str], tasks: list[str], layout: Layout) -> np.ndarray:
    """(E, M, F) kinematic features of the scored examinations (their videos' keypoints: beside each video or
    tracked into the run's cache; a task without usable keypoints is 0, as in training)."""
    rows = scores[scores["exam"].isin(exams) & scores["task"].isin(tasks) & (scores["call"] != "")]
    rows = rows.reset_index(drop=True)
    return exam_features(video_features(rows, layout.cache_dir), rows, np.asarray(exams),
                         tasks)


def score_exams(scores: pd.DataFrame, layout: Layout, coverage: float = DEFAULT_COVERAGE,
                totals: pd.Series | None = None, config: TrainConfig | None = None) -> pd.DataFrame:
    """Examination rows (same columns; `task` "examination" or "slight_vs_severe") from the assembling heads
    notebooks 04 and 05 saved (the method with the best out-of-fold MCC), for every examination of `scores`
    with a usable video of each task they assemble: the heads' mean class probabilities over folds and
    repeats, each fold's heads on features of that fold's task models standardised as in training, and a
    conformal set calibrated on the heads' out-of-fold probabilities. `totals` (exam -> MDS-UPDRS-III total),
    when known, give the rows' `label`. A run without saved heads gives no rows."""
    config = config or TrainConfig(progress=False)
    parts = []
    for experiment, label in EXAM_LEVELS.items():
        if not layout.head_standardisation(experiment).is_file():
            continue
        method = best_method(layout, experiment)
        heads, meta = load_heads(layout.head_file(experiment, method))
        classes, stats = load_standardisation(layout.head_standardisation(experiment))
        recipe = layout.recipe(layout.heads(experiment))
        have = scores[scores["call"] != ""].groupby("exam")["task"].agg(set)
        exams = sorted(e for e, tasks in have.items() if set(meta["tasks"]) <= tasks)
        if not exams:
            continue
        models = {t: TaskModels.load(layout, recipe["features"], t) for t in meta["tasks"]}
        clips = _exam_clips(scores, exams, models)
        inp = "layer4" if len(meta["in_shape"]) > 2 else "avgpool"
        mask = np.ones((len(exams), len(meta["tasks"])), bool)
        kinematic = _exam_kinematics(scores, exams, meta["tasks"], layout) if recipe.get("kinematics") else None
        per_fold = {}
        for k in sorted(stats):
            feats = _exam_features(clips, exams, models, k, config)[inp]
            if kinematic is not None and inp == "avgpool":  # heads trained with kinematics (notebook 04's option)
                feats = np.concatenate([feats, kinematic], axis=2)
            if list(feats.shape[1:]) != list(meta["in_shape"]):
                raise ScoreError(f"{layout.heads(experiment)}: the heads take features {tuple(meta['in_shape'])} "
                                 f"but fold {k}'s task models give {feats.shape[1:]}: rerun notebooks 02-05 "
                                 f"(`pdlib reproduce --profile {layout.profile} --from 02_task_level`)")
            x = torch.from_numpy(standardise(feats, mask, stats[k][inp]))
            with torch.no_grad():
                per_fold[k] = np.stack([torch.softmax(head(x, torch.from_numpy(mask)).float(), dim=1).numpy()
                                        for (fold, _), head in heads.items() if fold == k])  # (repeats, E, K)
        rows = _exam_rows(scores, exams, per_fold, _exam_conformal(layout, experiment, method, coverage),
                          classes, label, f"{method} heads of {experiment}")
        if totals is not None:
            known = exam_classes(totals.dropna(), recipe["scheme"], recipe["slight_vs_severe"])
            rows["label"] = pd.array(rows["exam"].map(known), dtype="Int64")
        parts.append(rows)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=scores.columns)


def _exam_conformal(layout: Layout, experiment: str, method: str, coverage: float) -> Conformal:
    """CV+ sets of the heads' out-of-fold probabilities, averaged over repeats per examination (fold k's
    heads held out fold k's examinations)."""
    preds = pd.read_csv(layout.head_predictions(experiment, method))
    per_exam = preds.groupby("exam").mean(numeric_only=True)
    return Conformal.calibrate(class_probabilities(per_exam), per_exam["label"].astype(int),
                               per_exam["fold"].astype(int), coverage)


def _exam_rows(scores: pd.DataFrame, exams: list[str], per_fold: dict[int, np.ndarray], conformal: Conformal,
               classes: tuple[str, ...], label: str, note: str) -> pd.DataFrame:
    """The examination rows: `per_fold` {fold: (repeats, E, K)} of the heads' probabilities."""
    probs = np.concatenate(list(per_fold.values()))  # (folds x repeats, E, K)
    mean = probs.mean(axis=0)
    sets = conformal.sets({k: p.mean(axis=0) for k, p in per_fold.items()})
    first = scores.drop_duplicates("exam").set_index("exam")
    rows = pd.DataFrame({"video": "", "task": label, "side": "", "exam": exams,
                         "patient": first.loc[exams, "patient"].to_numpy() if "patient" in first else ""})
    rows[[f"prob_{c}" for c in range(mean.shape[1])]] = mean
    rows["pred"] = pd.array(mean.argmax(axis=1), dtype="Int64")
    rows["spread"] = probs.std(axis=0).max(axis=1)
    rows["set"] = [" ".join(str(c) for c in np.flatnonzero(s)) for s in sets]
    rows["call"] = [classes[int(np.flatnonzero(s)[0])] if s.sum() == 1 else ABSTAIN for s in sets]
    rows["note"] = note
    return rows
