"""Patient-level cross-validation folds and the examination-level classes of the study (Sec. IV-B, V-D)."""

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from pdlib.tasks import task_label

# Examination-level cut-offs of the study (Sec. V-D): slight [0, 23], moderate (23, 40], severe (40, ...).
CUTOFFS: tuple[float, float] = (23.0, 40.0)
CLASS_NAMES: tuple[str, ...] = ("slight", "moderate", "severe")


class LeakError(AssertionError):
    """A patient appears on both sides of a split."""


def patient_folds(videos: pd.DataFrame, n_splits: int = 5, seed: int = 0) -> pd.Series:
    """Fold index (0..n_splits-1) per patient, stratified by task and binary label; no patient is split.

    Uses scikit-learn's StratifiedGroupKFold on the videos with the patient as group and
    `task/label` as stratum, so every task keeps roughly its class ratio in every fold.
    """
    for col in ("patient", "task"):
        if col not in videos.columns:
            raise KeyError(f"patient_folds: videos has no column {col!r} (columns: {list(videos.columns)})")
    labels = videos["label"] if "label" in videos.columns else task_label(videos["score"])
    n_pat = videos["patient"].nunique()
    if n_pat < n_splits:
        raise ValueError(f"patient_folds: {n_pat} patients cannot fill {n_splits} folds")
    strata = videos["task"].astype(str) + "/" + pd.Series(np.asarray(labels), index=videos.index).astype(str)
    sgkf = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    fold = pd.Series(-1, index=pd.Index(sorted(videos["patient"].unique()), name="patient"), name="fold")
    for k, (_, test_idx) in enumerate(sgkf.split(np.zeros(len(videos)), strata, groups=videos["patient"])):
        fold.loc[videos["patient"].iloc[test_idx].unique()] = k
    return fold.astype(int)


def load_or_make_folds(videos: pd.DataFrame, path: str | Path, n_splits: int = 5, seed: int = 0) -> pd.Series:
    """The dataset's fold file: read `path` when it exists and covers every patient, else make and save it."""
    path = Path(path)
    if path.is_file():
        saved = pd.read_csv(path, dtype={"patient": str}).set_index("patient")["fold"]
        missing = set(videos["patient"].astype(str)) - set(saved.index)
        if not missing and saved.nunique() == n_splits:
            return saved.astype(int)
    fold = patient_folds(videos.assign(patient=videos["patient"].astype(str)), n_splits=n_splits, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    fold.to_csv(path)
    return fold


def exam_classes(totals: pd.Series | Iterable[float], scheme: str = "cutoffs",
                 slight_vs_severe: bool = False) -> pd.Series:
    """Examination-level severity class from the MDS-UPDRS-III total (Sec. V-D).

    scheme="cutoffs": 0 = [0, 23], 1 = (23, 40], 2 = (40, ...); scheme="tertiles": three classes with an
    equal number of examinations. slight_vs_severe drops the middle class (Table IX): returned
    classes are 0 (slight) and 1 (severe), and middle examinations are removed from the result.
    """
    totals = pd.Series(totals, dtype=float)
    if totals.isna().any():
        raise ValueError(f"exam_classes: missing total for {list(totals.index[totals.isna()])}")
    if scheme == "cutoffs":
        cls = pd.Series(np.digitize(totals, CUTOFFS, right=True), index=totals.index)
    elif scheme == "tertiles":
        cls = pd.Series(pd.qcut(totals.rank(method="first"), 3, labels=False), index=totals.index)
    else:
        raise ValueError(f"exam_classes: unknown scheme {scheme!r}; expected 'cutoffs' or 'tertiles'")
    cls = cls.astype(int)
    if slight_vs_severe:
        cls = cls[cls != 1] // 2
    return cls.rename("label")


def assert_patient_disjoint(train: pd.DataFrame | Iterable, test: pd.DataFrame | Iterable) -> None:
    """Raise LeakError naming the patients found on both sides (DataFrames with `patient` or id lists)."""
    def ids(side):
        return set(side["patient"].astype(str)) if isinstance(side, pd.DataFrame) else {str(p) for p in side}

    shared = ids(train) & ids(test)
    if shared:
        raise LeakError(f"patient-level leak: patients {sorted(shared)} are in both train and test")
