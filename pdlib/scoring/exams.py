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

from pdlib.data import ClipDataset, cache_clips
from pdlib.exam_heads import SavedHeads
from pdlib.features import exam_task_features
from pdlib.folds import exam_classes
from pdlib.kinematics import exam_features
from pdlib.layout import Layout
from pdlib.metrics import binary_metrics
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
            mcc[method] = np.mean([binary_metrics(g["label"], g["pred"])["mcc"] for _, g in preds.groupby("repeat")])
    if not mcc:
        raise ScoreError(f"no saved assembling heads with predictions in {layout.heads(experiment)}: run "
                         f"`pdlib reproduce --profile {layout.profile}` (notebooks 04 and 05) first")
    return max(mcc, key=mcc.get)


def _exam_clips(scores: pd.DataFrame, exams: list[str], models: dict[str, TaskModels]) -> dict[str, ClipDataset]:
    """Per task, the usable clips of the examinations (decoded already: read from the cache), their rows as meta."""
    out = {}
    for task, m in models.items():
        rows = scores[(scores["task"] == task) & scores["exam"].isin(exams) & (scores["call"] != "")]
        status = cache_clips(list(rows["path"]), m.spec, m.layout.cache_dir, progress=False)
        out[task] = ClipDataset.from_files(list(status["cache"]), np.zeros(len(rows), int), rows)
    return out


def _exam_features(clips: dict[str, ClipDataset], exams: list[str],
                   models: dict[str, TaskModels], fold: int, config: TrainConfig) -> dict[str, np.ndarray]:
    """(E, M, ...) avgpool and layer4 of the examinations under fold `fold`'s task models: each task's
    `exam_task_features`, as notebook 02 extracted them for training (sides averaged)."""
    out: dict[str, np.ndarray] = {}
    for m, (task, dataset) in enumerate(clips.items()):
        ids, *feats = exam_task_features(models[task].models[fold], dataset, config)
        order = pd.Index(ids).get_indexer(exams)
        for name, x in zip(("avgpool", "layer4"), feats, strict=True):
            out.setdefault(name, np.zeros((len(exams), len(clips), *x.shape[1:]), np.float32))[:, m] = x[order]
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
        heads = SavedHeads.load(layout, experiment, method)
        recipe = layout.recipe(layout.heads(experiment))
        have = scores[scores["call"] != ""].groupby("exam")["task"].agg(set)
        exams = sorted(e for e, tasks in have.items() if set(heads.tasks) <= tasks)
        if not exams:
            continue
        models = {t: TaskModels.load(layout, recipe["features"], t) for t in heads.tasks}
        clips = _exam_clips(scores, exams, models)
        mask = np.ones((len(exams), len(heads.tasks)), bool)
        kinematic = _exam_kinematics(scores, exams, heads.tasks, layout) if recipe.get("kinematics") else None
        per_fold = {}
        for k in heads.folds:
            feats = _exam_features(clips, exams, models, k, config)[heads.input]
            if kinematic is not None and heads.input == "avgpool":  # heads trained with kinematics (notebook 04)
                feats = np.concatenate([feats, kinematic], axis=2)
            try:
                per_fold[k] = heads.predict(feats, mask, k)  # (repeats, E, K)
            except ValueError as err:
                raise ScoreError(f"{layout.heads(experiment)}: {err} from fold {k}'s task models: rerun notebooks "
                                 f"02-05 (`pdlib reproduce --profile {layout.profile} --from 02_task_level`)"
                                 ) from None
        rows = _exam_rows(scores, exams, per_fold, _exam_conformal(layout, experiment, method, coverage),
                          heads.class_names, label, f"{method} heads of {experiment}")
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
