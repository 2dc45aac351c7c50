"""Confidence of a score: conformal prediction sets, and the call (a class, or "abstain") they make.

Confidence is a conformal prediction set calibrated on out-of-fold predictions of the same models, by CV+
(Romano, Sesia & Candes 2020, "Classification with valid and adaptive coverage"; Barber et al. 2021): each
calibration video i was predicted by the fold model k(i) that never saw its patient, with nonconformity
s_i = 1 - P_k(i)(true class). A new video x gets, under each fold model k, the score 1 - P_k(c | x) of
every class c; c is in its set when fewer than coverage * (n + 1) calibration videos have s_i below the
new video's score under their own fold model. Each calibration video is compared with the very model that
held it out, so the five-model ensemble needs no calibration of its own. Over new patients from the same
population the set holds the true class in about `coverage` of the videos (guaranteed at least
2 * coverage - 1). A set of one class is a call; a set of both classes is "abstain".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pdlib.metrics import prob_matrix
from pdlib.tasks import TASK_CLASSES

ABSTAIN = "abstain"
CALLS = {c: name.split()[0] for c, name in TASK_CLASSES.items()}  # 0: "slight", 1: "severe"


class ScoreError(ValueError):
    """A request scoring cannot serve: an unknown task, models never trained, models of mixed or missing
    clip specs, no calibration predictions, no video, a coverage outside (0, 1)."""


def class_probabilities(preds: pd.DataFrame) -> np.ndarray:
    """(N, K) class probabilities of prediction rows: the `prob_<c>` columns, or binary `prob` = P(class 1)."""
    probs = prob_matrix(preds)  # not the kinematics setting's prob_score_<s> (item scores): its classes are in `prob`
    if probs is not None:
        return probs
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
