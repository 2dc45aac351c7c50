"""Scoring new recordings from their keypoints with a run's kinematics setting (`pdlib score --models kinematics`,
and the kinematics columns beside the deep ensemble's).

The kinematics setting of notebook 02 keeps no model file: its fold models are ordinal models
(`pdlib.baselines.ordinal_scores`) refitted in seconds. For a task, this module refits them exactly as the
cross-validation did (`task_level.kinematics_cross_validate`): the cohort's kinematic features
(`tracking.video_features` of the run's dataset), the run's folds, and per fold k the rows of the training
side (patients not in fold k) with usable keypoints and a score. A new recording's features are scored by
every fold model; their item-score distributions (P(score = 0..4)) are averaged: the predicted item score is
the median of the average (`item_score_summary`), the expected score its mean, P(severe) = P(score >= 2).
The confidence is the deep models' (`scoring.conformal.Conformal`, CV+): calibrated on the setting's out-of-fold
predictions (`layout.predictions("kinematics", task)`), each calibration row compared with the very fold model
that held it out, which is valid because the refitted fold models are those models. A set of both classes
(slight, severe) is "abstain". Research outputs on one's own cohort, not a diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pdlib.baselines import item_score_summary, ordinal_scores
from pdlib.data import load_manifest
from pdlib.folds import read_folds
from pdlib.kinematics import TASK_CONVENTION, feature_names
from pdlib.layout import Layout
from pdlib.scoring.conformal import ABSTAIN, CALLS, Conformal, ScoreError, class_probabilities
from pdlib.tasks import DEFAULT_COVERAGE, UNUSABLE
from pdlib.tracking import video_features

KINEMATICS = "kinematics"
# kinematics_score: the predicted item score 0-4 (the median of the fold models' mean distribution);
# kinematics_expected: its mean (item-score points); kinematics_prob: P(score >= 2), P(severe);
# kinematics_spread: the standard deviation of P(severe) across the fold models; kinematics_set: the conformal
# set's classes ("0 1"); kinematics_call: "slight", "severe" or "abstain" ("" without a prediction).
KINEMATICS_COLUMNS = ["kinematics_score", "kinematics_expected", "kinematics_prob", "kinematics_spread",
                      "kinematics_set", "kinematics_call"]


@dataclass(eq=False)
class KinematicsModels:
    """One task's kinematics fold models, as training data to refit them: the cohort's features `x` (n, F) of
    the rows usable in the cross-validation, their item scores and patient folds, and the out-of-fold
    predictions (the conformal calibration)."""

    layout: Layout
    task: str
    x: np.ndarray
    score: np.ndarray
    fold: np.ndarray
    calibration: pd.DataFrame

    @classmethod
    def load(cls, layout: Layout, task: str) -> KinematicsModels:
        """From the run: its dataset (`layout.dataset_root`), folds (`layout.folds_csv`) and the kinematics
        setting's out-of-fold predictions; a ScoreError says which is missing or does not match."""
        if task not in TASK_CONVENTION:
            raise ScoreError(f"task {task!r} has no kinematics model (tasks: {', '.join(TASK_CONVENTION)})")
        path = layout.predictions(KINEMATICS, task)
        if not path.is_file():
            raise ScoreError(f"no out-of-fold predictions of the kinematics setting for task {task!r} at {path}: "
                             f"run `pdlib reproduce --profile {layout.profile}` (notebook 02) first")
        preds = pd.read_csv(path, dtype={"video": str, "patient": str, "side": str, "note": str})
        preds["side"] = preds["side"].fillna("")
        try:
            folds, (videos, _) = read_folds(layout.folds_csv), load_manifest(layout.dataset_root)
        except (FileNotFoundError, ValueError) as err:
            raise ScoreError(f"the kinematics model of {layout.profile!r} cannot be refitted: {err}") from None
        rows = videos[videos["task"] == task].reset_index(drop=True)
        rows["side"] = rows["side"].fillna("")
        key = list(zip(rows["video"].astype(str), rows["side"], strict=True))
        known = set(zip(preds["video"], preds["side"], strict=True))
        if set(key) != known:
            raise ScoreError(f"{path} was made on other {task} rows than those of the run's dataset "
                             f"{layout.dataset_root}: rerun notebook 02 (`pdlib reproduce --profile "
                             f"{layout.profile}`)")
        undecoded = set(zip(*[preds.loc[preds["note"].fillna("").str.startswith(UNUSABLE), c]
                              for c in ("video", "side")], strict=True))
        rows = rows[[k not in undecoded for k in key]].reset_index(drop=True)  # left out of the CV too
        table = video_features(rows, layout.cache_dir)
        x = table.reindex(columns=feature_names(task)).to_numpy(float, copy=True)
        score = pd.to_numeric(rows["score"], errors="coerce").to_numpy(float)
        usable = table["note"].eq("").to_numpy() & np.isfinite(x).all(axis=1) & np.isfinite(score)
        fold = rows["patient"].astype(str).map(folds).to_numpy(float)
        if np.isnan(fold).any():
            raise ScoreError(f"{layout.folds_csv}: some patients of {layout.dataset_root} have no fold: rerun "
                             f"notebook 02 (`pdlib reproduce --profile {layout.profile}`)")
        return cls(layout, task, x[usable], score[usable].astype(int), fold[usable].astype(int),
                   preds[preds["pred"].notna()].reset_index(drop=True))

    def conformal(self, coverage: float) -> Conformal:
        """CV+ sets of slight vs severe, from the out-of-fold P(severe) (`prob`) of the calibration rows."""
        cal = self.calibration
        return Conformal.calibrate(class_probabilities(cal), cal["label"].astype(int), cal["fold"].astype(int),
                                   coverage)

    def fold_probabilities(self, x_new: np.ndarray) -> dict[int, np.ndarray]:
        """Each fitted fold model's (n, 5) item-score probabilities of the rows of x_new (NaN rows stay NaN);
        a fold whose model cannot be fitted (its training side has one score) is left out."""
        out = {}
        usable = np.isfinite(x_new).all(axis=1)
        for k in sorted(set(self.calibration["fold"].astype(int))):
            train = self.fold != k
            prob = np.full((len(x_new), 5), np.nan)
            if usable.any():
                prob[usable], _ = ordinal_scores(self.x[train], self.score[train], x_new[usable])
            if not usable.any() or np.isfinite(prob[usable]).all():
                out[k] = prob
        return out


def kinematics_columns(rows: pd.DataFrame, models: KinematicsModels,
                       coverage: float = DEFAULT_COVERAGE) -> pd.DataFrame:
    """KINEMATICS_COLUMNS and `kinematics_note` for the rows (columns video, path, task, side; optional
    mirrored, width, height) of the models' task, index as given. Keypoints: a row's own (a landmark file, or
    one beside its video), else `pdlib track`'s in the run's cache; a row without usable keypoints (none, the
    side's hand not seen tapping, poorly tracked) gets its reason as note and no prediction."""
    table = video_features(rows.reset_index(drop=True), models.layout.cache_dir)
    x = table.reindex(columns=feature_names(models.task)).to_numpy(float, copy=True)
    notes = table["note"].fillna("").to_numpy(object)
    x[notes != ""] = np.nan
    per_fold = models.fold_probabilities(x)
    out = pd.DataFrame(index=rows.index, columns=[*KINEMATICS_COLUMNS, "kinematics_note"])
    if not per_fold:
        return out.assign(kinematics_set="", kinematics_call="",
                          kinematics_note=f"no kinematics fold model of {models.task} could be fitted")
    stacked = np.stack(list(per_fold.values()))  # (F, N, 5)
    summary = item_score_summary(stacked.mean(axis=0))
    severe = {k: np.stack([1.0 - p[:, 2:].sum(axis=1), p[:, 2:].sum(axis=1)], axis=1) for k, p in per_fold.items()}
    sets = models.conformal(coverage).sets(severe)
    ok = np.isfinite(summary["prob"].to_numpy(float))
    out["kinematics_score"] = pd.array(np.where(ok, summary["score_pred"].fillna(-1), -1), dtype="Int64")
    out.loc[~ok, "kinematics_score"] = pd.NA
    out["kinematics_expected"] = summary["score_expected"].to_numpy(float)
    out["kinematics_prob"] = summary["prob"].to_numpy(float)
    out["kinematics_spread"] = stacked[:, :, 2:].sum(axis=2).std(axis=0)
    out["kinematics_set"] = [" ".join(str(c) for c in np.flatnonzero(s)) for s in sets]
    out["kinematics_call"] = [("" if not good else CALLS[int(np.flatnonzero(s)[0])] if s.sum() == 1 else ABSTAIN)
                              for s, good in zip(sets, ok, strict=True)]
    out["kinematics_note"] = notes
    return out


def add_kinematics(scores: pd.DataFrame, layout: Layout, coverage: float = DEFAULT_COVERAGE,
                   required: bool = False) -> tuple[pd.DataFrame, dict]:
    """`scores` (rows with video, path, task, side) with the kinematics columns of every row of a task whose
    kinematics setting was run (others: no prediction, a note why), and the models' meta. `required`: a task
    without a kinematics model is a ScoreError (--models kinematics) instead of a note."""
    out = scores.copy()
    for col in [*KINEMATICS_COLUMNS, "kinematics_note"]:
        out[col] = pd.NA
    out[["kinematics_set", "kinematics_call", "kinematics_note"]] = ""
    meta = {}
    for task in out["task"].drop_duplicates():
        rows = out["task"] == task
        if task not in TASK_CONVENTION:  # an examination-level row, or a task without landmarks (gait)
            out.loc[rows, "kinematics_note"] = f"no kinematics model for task {task!r}" if required else ""
            continue
        try:
            models = KinematicsModels.load(layout, task)
        except ScoreError as err:
            if required:
                raise
            out.loc[rows, "kinematics_note"] = f"no kinematics score: {err}"
            continue
        cols = kinematics_columns(out.loc[rows], models, coverage)
        out.loc[rows, cols.columns] = cols
        meta[task] = {"folds": sorted(int(k) for k in set(models.fold)), "training_videos": len(models.x),
                      "calibration_videos": len(models.calibration)}
    for col in ("kinematics_score", "kinematics_expected", "kinematics_prob", "kinematics_spread"):
        out[col] = pd.to_numeric(out[col].astype(object).where(out[col].notna(), np.nan), errors="coerce")
    out["kinematics_score"] = out["kinematics_score"].round().astype("Int64")
    return out, meta


def kinematics_only(scores: pd.DataFrame) -> pd.DataFrame:
    """`add_kinematics`' frame as `--models kinematics` writes it: video, task, side, the kinematics columns,
    `note` (why a row has no prediction), then the rows' other columns (path and kind dropped)."""
    out = scores.rename(columns={"kinematics_note": "note"}).drop(columns=["path", "kind"], errors="ignore")
    first = ["video", "task", "side", *KINEMATICS_COLUMNS, "note"]
    return out[first + [c for c in out.columns if c not in first]]
