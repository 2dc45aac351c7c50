"""Patient-level cross-validation folds and the examination-level classes of the study (Sec. IV-B, V-D)."""

import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from pdlib.data.pd4t import split_folds
from pdlib.layout import Layout, digest
from pdlib.messages import count
from pdlib.tasks import task_label

# Examination-level cut-offs of the study (Sec. V-D): slight [0, 23], moderate (23, 40], severe (40, ...).
CUTOFFS: tuple[float, float] = (23.0, 40.0)
CLASS_NAMES: tuple[str, ...] = ("slight", "moderate", "severe")


class LeakError(AssertionError):
    """A patient appears on both sides of a split."""


def patient_folds(videos: pd.DataFrame, n_splits: int = 5, seed: int = 0) -> pd.Series:
    """Fold index (0..n_splits-1) per patient, stratified by task and binary label; no patient is split.

    Uses scikit-learn's StratifiedGroupKFold on the videos with the patient as group and
    `task/label` as stratum, so every task keeps roughly its class ratio in every fold. A cohort with fewer
    patients than folds gets leave-one-patient-out instead (`leave_one_out`): each patient its own fold.
    """
    for col in ("patient", "task"):
        if col not in videos.columns:
            raise KeyError(f"patient_folds: videos has no column {col!r} (columns: {list(videos.columns)})")
    labels = videos["label"] if "label" in videos.columns else task_label(videos["score"])
    n_pat = videos["patient"].nunique()
    if n_pat < n_splits:
        return leave_one_out(videos)
    strata = videos["task"].astype(str) + "/" + pd.Series(np.asarray(labels), index=videos.index).astype(str)
    sgkf = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    fold = pd.Series(-1, index=pd.Index(sorted(videos["patient"].unique()), name="patient"), name="fold")
    with warnings.catch_warnings():
        # A task/label stratum with fewer videos than folds (a small cohort, a rare class) cannot reach every
        # fold: the split stratifies as well as it can, as documented, and scikit-learn need not say so.
        warnings.filterwarnings("ignore", r"The least populated class in y has only", UserWarning)
        splits = list(sgkf.split(np.zeros(len(videos)), strata, groups=videos["patient"]))
    for k, (_, test_idx) in enumerate(splits):
        fold.loc[videos["patient"].iloc[test_idx].unique()] = k
    return fold.astype(int)


def leave_one_out(videos: pd.DataFrame) -> pd.Series:
    """Leave-one-patient-out folds: patient i (sorted by id) is fold i. For a cohort too small for k folds."""
    patients = sorted(videos["patient"].astype(str).unique())
    if len(patients) < 2:
        raise ValueError(f"patient folds: {len(patients)} patient cannot be cross-validated (at least 2 needed)")
    return pd.Series(range(len(patients)), index=pd.Index(patients, name="patient"), name="fold")


def fold_scheme(folds: pd.Series, n_splits: int) -> str:
    """How the folds were made, for a caption: "5-fold patient-level cross-validation", or leave-one-patient-
    out when the cohort had fewer patients than folds (`patient_folds`), or the official split."""
    held = held_out(folds)
    if -1 in set(pd.Series(folds)):
        return "the official train/test split"
    if len(held) < n_splits and len(held) == pd.Series(folds).size:
        return (f"leave-one-patient-out cross-validation ({count(len(held), 'patient')}: fewer than the "
                f"{n_splits} folds asked for)")
    return f"{len(held)}-fold patient-level cross-validation"


def read_folds(path: str | Path) -> pd.Series:
    """The fold per patient (index: patient id as str) of a folds.csv (`Layout.folds_csv`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no folds at {path}: run notebooks/02_task_level.ipynb first")
    return pd.read_csv(path, dtype={"patient": str}).set_index("patient")["fold"].astype(int)


def _given_folds(path: Path, videos: pd.DataFrame, n_splits: int) -> pd.Series:
    """A dataset's own folds.csv, checked: every patient has a fold in 0..n_splits-1, and every fold is used."""
    try:
        fold = read_folds(path)
    except (KeyError, ValueError) as err:
        raise ValueError(f"{path}: expected columns patient,fold with integer folds ({err})") from None
    missing = sorted(set(videos["patient"].astype(str)) - set(fold.index))
    if missing:
        raise ValueError(f"{path}: patients {missing[:5]}{' ...' if len(missing) > 5 else ''} have no fold")
    found = sorted(int(k) for k in fold.unique())
    if found != list(range(n_splits)):
        raise ValueError(f"{path}: expected folds 0..{n_splits - 1} (n_splits {n_splits}), found {found}")
    return fold


def load_or_make_folds(layout: Layout, videos: pd.DataFrame, n_splits: int = 5, seed: int = 0) -> pd.Series:
    """The run's folds (`layout.folds`, a unit under the one staleness rule): the dataset's own `folds.csv`
    when it has one (docs/DATASET.md), else made from the videos (patient, task, label) with n_splits and
    seed; reused while what made them is unchanged, else made again (and every recipe that named the old
    folds by `folds_identity` becomes stale). A dataset with an official train/test split (PD4T's `split`
    column) gets it as folds: the test patients fold 0, the training ones fold -1 (never held out)."""
    given = layout.dataset_root / "folds.csv"
    if "split" in videos.columns:  # a dataset with an official split (PD4T): test fold 0, train fold -1
        stamp = {"split": digest(videos[["patient", "split"]].to_csv(index=False))}
        if not (layout.reuse_or_reset(layout.folds, stamp) and layout.folds_csv.is_file()):
            split_folds(videos).to_csv(layout.folds_csv)
        return read_folds(layout.folds_csv)
    if given.is_file():
        stamp = {"given": str(given), "content": digest(given.read_bytes()), "n_splits": n_splits}
    else:
        cols = [c for c in ("video", "patient", "task", "label", "score") if c in videos.columns]
        stamp = {"n_splits": n_splits, "seed": seed, "videos": digest(videos[cols].to_csv(index=False))}
    if layout.reuse_or_reset(layout.folds, stamp) and layout.folds_csv.is_file():
        return read_folds(layout.folds_csv)
    if given.is_file():
        fold = _given_folds(given, videos, n_splits)
    else:
        fold = patient_folds(videos.assign(patient=videos["patient"].astype(str)), n_splits=n_splits, seed=seed)
    fold.to_csv(layout.folds_csv)
    return fold


def held_out(folds: pd.Series) -> list[int]:
    """The folds that are held out in turn (0, 1, ...); fold -1 (an official training side) never is."""
    return sorted(int(k) for k in pd.Series(folds).unique() if k >= 0)


def folds_identity(layout: Layout) -> str:
    """What a recipe names the folds by: their recipe (videos, n_splits, seed) and their content."""
    return digest(layout.digest(layout.folds) + layout.folds_csv.read_text())


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
