"""Scoring new videos with a run's trained task models (`pdlib score`, notebook 06).

A video of a task is decoded with the clip spec saved in the models (`ClipSpec.of_model`) and scored by
the task's cross-validated fold models as an ensemble: the mean of their class probabilities, and their
spread (the largest standard deviation of a class probability across the folds). Confidence is a
conformal prediction set calibrated on notebook 02's out-of-fold predictions of the same models, by CV+
(Romano, Sesia & Candes 2020, "Classification with valid and adaptive coverage"; Barber et al. 2021): each
calibration video i was predicted by the fold model k(i) that never saw its patient, with nonconformity
s_i = 1 - P_k(i)(true class). A new video x gets, under each fold model k, the score 1 - P_k(c | x) of
every class c; c is in its set when fewer than coverage * (n + 1) calibration videos have s_i below the
new video's score under their own fold model. Each calibration video is compared with the very model that
held it out, so the five-model ensemble needs no calibration of its own. Over new patients from the same
population the set holds the true class in about `coverage` of the videos (guaranteed at least
2 * coverage - 1). A set of one class is a call; a set of both classes is "abstain".

These are research outputs on one's own cohort, not a diagnosis.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from pdlib.data import ClipDataset, ClipSpec, cache_clips
from pdlib.layout import Layout
from pdlib.models import load_model
from pdlib.tasks import TASK_CLASSES, TASKS
from pdlib.train import TrainConfig, predict

ABSTAIN = "abstain"
CALLS = {c: name.split()[0] for c, name in TASK_CLASSES.items()}  # 0: "slight", 1: "severe"
SCORE_COLUMNS = ["video", "task", "side", "prob_0", "prob_1", "pred", "spread", "set", "call", "note"]


class ScoreError(ValueError):
    """A request scoring cannot serve: an unknown task, models never trained, models of mixed or missing
    clip specs, no calibration predictions, no video, a coverage outside (0, 1)."""


def class_probabilities(preds: pd.DataFrame) -> np.ndarray:
    """(N, K) class probabilities of prediction rows: the `prob_<c>` columns, or binary `prob` = P(class 1)."""
    found = {int(m[1]): c for c in preds.columns if (m := re.fullmatch(r"prob_(\d+)", str(c)))}
    if found:  # not the kinematics setting's prob_score_<s> (item scores): its classes are in `prob`
        return preds[[found[k] for k in sorted(found)]].to_numpy(float)
    p1 = preds["prob"].to_numpy(float)
    return np.stack([1.0 - p1, p1], axis=1)


@dataclass(frozen=True, eq=False)  # holds arrays: compared by identity (pandas compares frames' attrs)
class Conformal:
    """CV+ conformal sets at `coverage` (module docstring): per fold model k, the sorted nonconformity scores
    1 - P_k(true class) of the n calibration videos that fold k held out."""

    coverage: float
    scores: dict[int, np.ndarray]
    n: int

    @classmethod
    def calibrate(cls, probs: np.ndarray, labels: np.ndarray, folds: np.ndarray, coverage: float) -> Conformal:
        """From the (N, K) out-of-fold probabilities, the true classes and the fold that held each video out."""
        if not 0.0 < coverage < 1.0:
            raise ScoreError(f"coverage: expected a number between 0 and 1 (e.g. 0.9), found {coverage}")
        labels, folds = np.asarray(labels, dtype=int), np.asarray(folds, dtype=int)
        s = 1.0 - probs[np.arange(len(labels)), labels]
        return cls(coverage, {int(k): np.sort(s[folds == k]) for k in np.unique(folds)}, len(labels))

    def sets(self, per_fold: dict[int, np.ndarray]) -> np.ndarray:
        """(N, K) bool: class c is in video i's set, from each fold model's probabilities {k: (N, K)}; a
        video without probabilities (NaN) gets no class. With too few calibration videos for `coverage`
        every class stays in every set (always abstain)."""
        first = next(iter(per_fold.values()))
        below = np.zeros(first.shape, dtype=np.int64)  # calibration scores under the new video's, per class
        for k, scores in self.scores.items():
            if k in per_fold:
                below += np.searchsorted(scores, 1.0 - np.nan_to_num(per_fold[k], nan=0.0), side="left")
        unusable = np.isnan(first).any(axis=1)
        return (below < self.coverage * (self.n + 1)) & ~unusable[:, None]


@dataclass
class TaskModels:
    """The fold models of one (setting, task) of a run, loaded once, their clip spec and their out-of-fold
    predictions (the conformal calibration)."""

    layout: Layout
    setting: str
    task: str
    models: dict[int, nn.Module]
    spec: ClipSpec
    calibration: pd.DataFrame

    @classmethod
    def load(cls, layout: Layout, setting: str, task: str) -> TaskModels:
        if task not in TASKS:
            raise ScoreError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
        unit, folds = layout.task_unit(setting, task), layout.trained_folds(setting, task)
        if not folds:
            raise ScoreError(f"no trained models of setting {setting!r} for task {task!r} in {unit}: run "
                             f"`pdlib reproduce --profile {layout.profile}` first")
        models = {k: load_model(layout.fold_model(setting, task, k)).eval() for k in folds}
        try:
            specs = {k: ClipSpec.of_model(m) for k, m in models.items()}
        except ValueError as err:
            raise ScoreError(f"{unit}: {err}") from None
        if len(set(specs.values())) > 1:
            seen = ", ".join(f"fold {k}: {s.tag}" for k, s in specs.items())
            raise ScoreError(f"{unit}: the fold models were trained on different clip specs ({seen}); retrain "
                             f"them with `pdlib reproduce --profile {layout.profile}`")
        path = layout.predictions(setting, task)
        if not path.is_file():
            raise ScoreError(f"no out-of-fold predictions at {path} to calibrate the models' confidence: run "
                             f"`pdlib reproduce --profile {layout.profile}` first")
        preds = pd.read_csv(path, dtype={"video": str, "note": str})
        return cls(layout, setting, task, models, specs[folds[0]], preds[preds["pred"].notna()])

    def conformal(self, coverage: float) -> Conformal:
        return Conformal.calibrate(class_probabilities(self.calibration), self.calibration["label"],
                                   self.calibration["fold"], coverage)

    def probabilities(self, clips: ClipDataset, config: TrainConfig) -> dict[int, np.ndarray]:
        """Each fold model's class probabilities {fold: (N, K)}."""
        return {k: predict(m, clips, config) for k, m in self.models.items()}


def score_videos(videos: pd.DataFrame, models: TaskModels, coverage: float = 0.9, config: TrainConfig | None = None,
                 workers: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Score the videos (rows with `path`, and `video`, `side` and whatever else to keep) with `models`.

    Returns SCORE_COLUMNS (prob_<c>: the ensemble's P(class c); set: the conformal set's classes, e.g. "0 1";
    call: "slight", "severe" or "abstain") then the given columns; an unusable video keeps its row with no
    probabilities and `note` "unusable video: <reason>". `.attrs["conformal"]` is the calibration used.
    """
    config = config or TrainConfig(progress=False)  # one decoding bar; no bar per fold model
    rows = videos.reset_index(drop=True).copy()
    rows["video"] = rows["video"] if "video" in rows.columns else rows["path"].astype(str)
    rows["side"] = rows["side"].fillna("") if "side" in rows.columns else ""
    crops = list(rows["crop"]) if "crop" in rows.columns else None
    status = cache_clips(list(rows["path"]), models.spec, models.layout.cache_dir, crops=crops, workers=workers,
                         progress=progress)
    ok = status["ok"].to_numpy(bool)
    per_fold = {k: np.full((len(rows), 2), np.nan) for k in models.models}
    if ok.any():
        clips = ClipDataset.from_files(list(status.loc[ok, "cache"]), np.zeros(int(ok.sum()), int), rows.loc[ok])
        for k, p in models.probabilities(clips, config).items():
            per_fold[k][ok] = p
    stacked = np.stack(list(per_fold.values()))  # (F, N, K)
    probs, spread = stacked.mean(axis=0), stacked.std(axis=0).max(axis=1)
    conformal = models.conformal(coverage)
    sets = conformal.sets(per_fold)
    rows["task"] = models.task
    rows[["prob_0", "prob_1"]] = probs
    rows["pred"] = pd.array([int(p.argmax()) if good else None for p, good in zip(probs, ok, strict=True)],
                            dtype="Int64")
    rows["spread"] = spread
    rows["set"] = [" ".join(str(c) for c in np.flatnonzero(s)) for s in sets]
    rows["call"] = [("" if not good else CALLS[int(np.flatnonzero(s)[0])] if s.sum() == 1 else ABSTAIN)
                    for s, good in zip(sets, ok, strict=True)]
    rows["note"] = np.where(ok, status["warning"], "unusable video: " + status["reason"])
    rows = rows[SCORE_COLUMNS + [c for c in rows.columns if c not in SCORE_COLUMNS]]
    rows.attrs["conformal"] = conformal
    return rows


def write_scores(scores: pd.DataFrame, out: Path, meta: dict) -> tuple[Path, Path]:
    """`<out>/scores.csv` (one row per video) and `<out>/scores.json` ({"meta": ..., "videos": rows})."""
    out.mkdir(parents=True, exist_ok=True)
    csv, js = out / "scores.csv", out / "scores.json"
    scores.to_csv(csv, index=False)
    records = json.loads(scores.to_json(orient="records"))
    js.write_text(json.dumps({"meta": meta, "videos": records}, indent=2, default=str))
    return csv, js


def meta_of(models: list[TaskModels], coverage: float) -> dict:
    """What made a scores file: the run, setting, each task's folds, clip spec and calibration videos."""
    return {"profile": models[0].layout.profile, "setting": models[0].setting, "coverage": coverage,
            "conformal": "CV+ on the out-of-fold predictions", "note": "research outputs, not a diagnosis",
            "tasks": {m.task: {"folds": sorted(m.models), "clip": m.spec.as_dict(),
                               "calibration_videos": m.conformal(coverage).n} for m in models}}


def score_dataset(root: str | Path, layout: Layout, setting: str, coverage: float = 0.9,
                  config: TrainConfig | None = None, workers: int | None = None,
                  progress: bool = True) -> tuple[pd.DataFrame, list[TaskModels]]:
    """Score every video of a dataset folder (docs/DATASET.md; `score` may be empty) with the models of its
    tasks: the scores of all tasks (with the manifest's patient, exam, score and label) and, for every
    examination with a usable video of each task, its examination-level rows (`score_exams`); and the
    task models used."""
    from pdlib.data import load_manifest

    videos, exams = load_manifest(root, scored=False)
    if "kind" not in videos:  # PD4T's layout: videos only
        videos["kind"] = "video"
    tasks = [t for t in TASKS if ((videos["task"] == t) & (videos["kind"] == "video")).any()]
    if not (videos["task"].isin(TASKS)).any():
        raise ScoreError(f"{root}: videos.csv lists no video of the study's tasks ({', '.join(TASKS)})")
    models = [TaskModels.load(layout, setting, t) for t in tasks]
    keep = [c for c in ("video", "path", "side", "patient", "exam", "score", "label", "crop", "kind", "mirrored",
                        "width", "height") if c in videos]
    from pdlib.score_kinematics import no_video_rows

    parts = [score_videos(videos.loc[(videos["task"] == m.task) & (videos["kind"] == "video"), keep], m, coverage,
                          config, workers, progress) for m in models]
    scores = pd.concat([*parts, no_video_rows(videos[videos["kind"] != "video"])], ignore_index=True)
    given = ~exams["total_from_items"] | ~exams["exam"].isin(videos.loc[videos["score"].isna(), "exam"])
    totals = exams.loc[given].set_index("exam")["total"]  # a total summed over missing scores is not known
    return pd.concat([scores, score_exams(scores, layout, coverage, totals)], ignore_index=True), models


def _run_and_models(args) -> tuple[Layout, str]:
    """(the run's layout, the setting) from --models DIR or --profile and --setting (or --models kinematics)."""
    from pdlib.score_kinematics import run_dataset

    if args.models and args.models != "kinematics":
        unit = Path(args.models).resolve()
        if not unit.is_dir() or unit.parent.name != "models":
            raise ScoreError(f"--models {args.models}: expected a setting's folder of trained models, "
                             "outputs/<profile>/models/<setting>, or kinematics")
        return Layout(unit.parents[1].name, run_dataset(unit.parents[1].name), outputs=unit.parents[2]), unit.name
    from pdlib.params import load_params

    layout = Layout(args.profile, run_dataset(args.profile))
    return layout, args.models or args.setting or load_params(args.profile).get("setting", "tsa_synact")


def score_request(paths: list[str], layout: Layout, setting: str, task: str = "", side: str = "",
                  coverage: float = 0.9, workers: int | None = None,
                  progress: bool = True) -> tuple[pd.DataFrame, list[TaskModels]]:
    """What `pdlib score` and notebook 06 score: one dataset folder (every task of it), or video and landmark
    files and folders of `task` (filmed on `side`). Videos are scored by the deep setting's fold models,
    landmark files not (no video); beside, every row of a task whose kinematics setting was run gets the
    kinematics model's columns from its keypoints (`pdlib.score_kinematics`). `setting` "kinematics": that
    model alone (`kinematics_only` columns; no deep model, nothing decoded). Returns the scores (`.attrs
    ["kinematics"]`: the kinematics models' meta) and the deep task models used."""
    from pdlib.score_kinematics import KINEMATICS, add_kinematics, kinematics_only, no_video_rows, request_rows

    rows = request_rows(paths, task, side)
    models: list[TaskModels] = []
    if setting == KINEMATICS:
        scores, meta = add_kinematics(rows, layout, coverage, required=True)
        scores = kinematics_only(scores)
    else:
        if len(paths) == 1 and (Path(paths[0]) / "videos.csv").is_file():
            scores, models = score_dataset(paths[0], layout, setting, coverage, workers=workers, progress=progress)
        else:
            videos = rows[rows["kind"] == "video"]
            models = [TaskModels.load(layout, setting, task)] if len(videos) else []
            parts = [score_videos(videos, m, coverage, workers=workers, progress=progress) for m in models]
            scores = pd.concat([*parts, no_video_rows(rows[rows["kind"] != "video"])], ignore_index=True)
        scores, meta = add_kinematics(scores, layout, coverage)
    scores.attrs["kinematics"] = meta
    return scores, models


def score_main(args) -> int:
    """`pdlib score`: 0 every row scored (by the deep models or the kinematics model), 1 some rows without any
    prediction (named with the reason, the others scored), 2 a request that cannot be served (ScoreError, said
    in one line)."""
    layout, setting = _run_and_models(args)
    scores, models = score_request(args.paths, layout, setting, args.task or "", args.side or "", args.coverage,
                                   args.workers)
    out = Path(args.out) if args.out else layout.dir("scores")
    meta = meta_of(models, args.coverage) if models else {
        "profile": layout.profile, "setting": setting, "coverage": args.coverage, "tasks": {},
        "conformal": "CV+ on the out-of-fold predictions", "note": "research outputs, not a diagnosis"}
    csv, js = write_scores(scores, out, meta | {"kinematics": scores.attrs.get("kinematics", {})})
    _print(scores)
    print(f"scores of {len(scores)} videos ({setting}, coverage {args.coverage}): {csv}, {js}")
    from pdlib.score_kinematics import unscored

    bad = unscored(scores)
    for r in bad.itertuples():
        print(f"  unusable {r.video}: {r.why}")
    return 1 if len(bad) else 0


def coverage_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Per task, on videos with a known label: how often the set held the true class (coverage, a share to set
    against the nominal one), how often the models abstained (a share), and accuracy in percent, like every
    table's, on all videos and on the called ones."""
    known = scores[scores["label"].notna() & (scores["call"] != "")].copy()
    known["label"] = known["label"].astype(int)
    known["covered"] = [str(y) in s.split() for y, s in zip(known["label"], known["set"], strict=True)]
    known["correct"] = known["pred"].astype(int) == known["label"]
    known["called"] = known["call"] != ABSTAIN
    rows = []
    for task, g in known.groupby("task", sort=False):
        called = g[g["called"]]
        rows.append({"task": task, "videos": len(g), "coverage": g["covered"].mean(),
                     "abstained": 1.0 - g["called"].mean(), "acc_pct_all": 100 * g["correct"].mean(),
                     "called": len(called),
                     "acc_pct_called": 100 * called["correct"].mean() if len(called) else np.nan})
    return pd.DataFrame(rows, columns=["task", "videos", "coverage", "abstained", "acc_pct_all", "called",
                                       "acc_pct_called"])


def _print(scores: pd.DataFrame) -> None:
    shown = scores.assign(**{c: scores[c].round(3) for c in ("prob_1", "spread", "kinematics_prob") if c in scores})
    cols = [c for c in ("video", "task", "side", "prob_1", "spread", "set", "call", "kinematics_score",
                        "kinematics_prob", "kinematics_set", "kinematics_call") if c in shown]
    print(shown[cols].rename(columns={"prob_1": "P(severe)", "kinematics_prob": "kinematics P(severe)"}
                             ).to_string(index=False))


# ---- the examination level: the assembling heads of notebooks 04 and 05 ----

EXAM_LEVELS = {"assembling": "examination", "slight_vs_severe": "slight_vs_severe"}  # heads -> the rows' task


def best_method(layout: Layout, experiment: str) -> str:
    """The assembling method (Table I) whose saved heads had the highest mean out-of-fold MCC over repeats."""
    from sklearn.metrics import matthews_corrcoef

    from pdlib.models.heads import METHODS

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
    from pdlib.features import clip_features

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
    from pdlib.kinematics import exam_features
    from pdlib.tracking import video_features

    rows = scores[scores["exam"].isin(exams) & scores["task"].isin(tasks) & (scores["call"] != "")]
    rows = rows.reset_index(drop=True)
    return exam_features(video_features(rows, layout.cache_dir), rows, np.asarray(exams),
                         tasks)


def score_exams(scores: pd.DataFrame, layout: Layout, coverage: float = 0.9, totals: pd.Series | None = None,
                config: TrainConfig | None = None) -> pd.DataFrame:
    """Examination rows (same columns; `task` "examination" or "slight_vs_severe") from the assembling heads
    notebooks 04 and 05 saved (the method with the best out-of-fold MCC), for every examination of `scores`
    with a usable video of each task they assemble: the heads' mean class probabilities over folds and
    repeats, each fold's heads on features of that fold's task models standardised as in training, and a
    conformal set calibrated on the heads' out-of-fold probabilities. `totals` (exam -> MDS-UPDRS-III total),
    when known, give the rows' `label`. A run without saved heads gives no rows."""
    from pdlib.exam_level import load_heads, load_standardisation, standardise
    from pdlib.folds import exam_classes

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
