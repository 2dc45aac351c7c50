"""Scoring videos with a run's trained task models: the fold ensemble.

A video of a task is decoded with the clip spec saved in the models (`ClipSpec.of_model`) and scored by
the task's cross-validated fold models as an ensemble: the mean of their class probabilities, and their
spread (the largest standard deviation of a class probability across the folds). Its confidence is a CV+
conformal set calibrated on notebook 02's out-of-fold predictions of the same models
(`pdlib.scoring.conformal`); a set of one class is a call, a set of both classes is "abstain".

These are research outputs on one's own cohort, not a diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from torch import nn

from pdlib.boxes import add_notes, clip_boxes, track_missing
from pdlib.data import ClipDataset, ClipSpec, cache_clips
from pdlib.layout import Layout
from pdlib.models import load_model
from pdlib.scoring.conformal import ABSTAIN, CALLS, Conformal, ScoreError, class_probabilities
from pdlib.tasks import DEFAULT_COVERAGE, TASKS, UNUSABLE
from pdlib.train import TrainConfig, predict

SCORE_COLUMNS = ["video", "task", "side", "prob_0", "prob_1", "pred", "spread", "set", "call", "note"]


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

    def fold_probabilities(self, clips: ClipDataset, config: TrainConfig) -> dict[int, np.ndarray]:
        """Each fold model's class probabilities {fold: (N, K)}."""
        return {k: predict(m, clips, config) for k, m in self.models.items()}


def score_videos(videos: pd.DataFrame, models: TaskModels, coverage: float = DEFAULT_COVERAGE,
                 config: TrainConfig | None = None, workers: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Score the videos (rows with `path`, and `video`, `side` and whatever else to keep) with `models`.

    Returns SCORE_COLUMNS (prob_<c>: the ensemble's P(class c); set: the conformal set's classes, e.g. "0 1";
    call: "slight", "severe" or "abstain") then the given columns; an unusable video keeps its row with no
    probabilities and `note` "unusable video: <reason>". Models trained on keypoint crops (`ClipSpec.crop`)
    see each video's box by the same rule (`pdlib.boxes`; its keypoints tracked first when MediaPipe is
    installed); a video without keypoints is scored on its whole picture, said in its note. `.attrs["conformal"]`
    is the calibration used.
    """
    config = config or TrainConfig(progress=False)  # one decoding bar; no bar per fold model
    rows = videos.reset_index(drop=True).copy()
    rows["video"] = rows["video"] if "video" in rows.columns else rows["path"].astype(str)
    rows["side"] = rows["side"].fillna("") if "side" in rows.columns else ""
    rows["task"] = models.task
    if models.spec.crop == "keypoints":  # the models saw their task's landmarks' box: so do new videos
        line = track_missing(rows, models.layout.cache_dir)
        if line:
            print(line)
    crops, notes = clip_boxes(rows, models.spec, models.layout.cache_dir)
    status = cache_clips(list(rows["path"]), models.spec, models.layout.cache_dir, crops=crops, workers=workers,
                         progress=progress)
    status["warning"] = add_notes(status["warning"], notes)
    ok = status["ok"].to_numpy(bool)
    per_fold = {k: np.full((len(rows), 2), np.nan) for k in models.models}
    if ok.any():
        clips = ClipDataset.from_files(list(status.loc[ok, "cache"]), np.zeros(int(ok.sum()), int), rows.loc[ok])
        for k, p in models.fold_probabilities(clips, config).items():
            per_fold[k][ok] = p
    stacked = np.stack(list(per_fold.values()))  # (F, N, K)
    probs, spread = stacked.mean(axis=0), stacked.std(axis=0).max(axis=1)
    conformal = models.conformal(coverage)
    sets = conformal.sets(per_fold)
    rows[["prob_0", "prob_1"]] = probs
    rows["pred"] = pd.array([int(p.argmax()) if good else None for p, good in zip(probs, ok, strict=True)],
                            dtype="Int64")
    rows["spread"] = spread
    rows["set"] = [" ".join(str(c) for c in np.flatnonzero(s)) for s in sets]
    rows["call"] = [("" if not good else CALLS[int(np.flatnonzero(s)[0])] if s.sum() == 1 else ABSTAIN)
                    for s, good in zip(sets, ok, strict=True)]
    rows["note"] = np.where(ok, status["warning"], UNUSABLE + status["reason"])
    rows = rows[SCORE_COLUMNS + [c for c in rows.columns if c not in SCORE_COLUMNS]]
    rows.attrs["conformal"] = conformal
    return rows
