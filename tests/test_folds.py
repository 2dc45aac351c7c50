"""Tests of pdlib.folds: patient-level folds, the fold file, examination classes, the leak check."""

import numpy as np
import pandas as pd
import pytest

from pdlib.folds import (
    LeakError,
    assert_patient_disjoint,
    exam_classes,
    fold_scheme,
    folds_identity,
    load_or_make_folds,
    patient_folds,
    read_folds,
)
from pdlib.layout import Layout


def videos(n_patients=40, seed=0):
    """Each patient has 1-4 videos of two tasks; a patient's scores are correlated (as in real data)."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        severity = rng.integers(0, 5)
        for task in ("finger", "hand"):
            for side in "LR"[: rng.integers(1, 3)]:
                rows.append({"patient": f"P{p:02d}", "task": task, "side": side,
                             "score": int(np.clip(severity + rng.integers(-1, 2), 0, 4))})
    return pd.DataFrame(rows)


def test_patient_folds_disjoint_nonempty_and_stratified():
    v = videos()
    fold = patient_folds(v, n_splits=5, seed=0)
    assert fold.index.is_unique and set(fold.index) == set(v["patient"])  # one fold per patient
    assert sorted(fold.unique()) == [0, 1, 2, 3, 4]
    v["fold"] = v["patient"].map(fold)
    assert v.groupby("patient")["fold"].nunique().max() == 1
    v["label"] = (v["score"] >= 2).astype(int)
    overall = v.groupby("task")["label"].mean()
    for _, g in v.groupby("fold"):
        assert len(g) > 0
        assert (g.groupby("task")["label"].mean() - overall).abs().max() < 0.25
    for k in range(5):  # every fold is a real split: the leak check passes
        assert_patient_disjoint(v[v["fold"] != k], v[v["fold"] == k])
    assert patient_folds(v, seed=0).equals(fold) and not patient_folds(v, seed=1).equals(fold)


def test_a_cohort_smaller_than_the_folds_is_left_one_patient_out():
    """3 patients, 5 folds asked: each patient its own fold (issue 36: said in the caption, not a crash)."""
    fold = patient_folds(videos(3))
    assert sorted(fold.tolist()) == [0, 1, 2] and fold.index.nunique() == 3
    assert fold_scheme(fold, 5).startswith("leave-one-patient-out cross-validation (3 patients")
    assert fold_scheme(patient_folds(videos()), 5) == "5-fold patient-level cross-validation"
    with pytest.raises(ValueError, match="1 patient cannot be cross-validated"):
        patient_folds(videos(1))


def test_patient_folds_errors():
    with pytest.raises(KeyError, match="'task'"):
        patient_folds(videos().drop(columns="task"))


def test_folds_are_a_unit_remade_when_their_seed_or_videos_change(tmp_path):
    """The folds follow the one staleness rule: reused while the videos, n_splits and seed are the same, made
    again otherwise; `folds_identity` (what task recipes name them by) changes with them."""
    layout = Layout("t", dataset=tmp_path / "ds", outputs=tmp_path / "out")
    (tmp_path / "ds").mkdir()
    v = videos()
    v.to_csv(tmp_path / "ds" / "videos.csv", index=False)
    first = load_or_make_folds(layout, v)
    identity = folds_identity(layout)
    assert read_folds(layout.folds_csv).equals(first) and load_or_make_folds(layout, v).equals(first)
    assert folds_identity(layout) == identity  # an unchanged rerun: the same folds, the same identity
    reseeded = load_or_make_folds(layout, v, seed=1)
    assert not reseeded.equals(first) and folds_identity(layout) != identity
    more = pd.concat([v, videos(45, seed=1).query("patient >= 'P40'")])
    assert set(load_or_make_folds(layout, more, seed=1).index) == set(more["patient"])  # new patients: remade


def test_a_datasets_own_folds_are_used_and_checked(tmp_path):
    """A dataset folder's folds.csv is the run's folds (docs/DATASET.md); one that leaves a patient out or
    misses a fold is refused, naming the file and the fault."""
    layout = Layout("t", dataset=tmp_path, outputs=tmp_path / "out")
    v = videos()
    v.to_csv(tmp_path / "videos.csv", index=False)
    made = load_or_make_folds(layout, v)
    mine = pd.Series(np.arange(40) % 5, index=pd.Index(sorted(v["patient"].unique()), name="patient"), name="fold")
    mine.to_csv(tmp_path / "folds.csv")
    assert load_or_make_folds(layout, v).equals(mine) and not mine.equals(made)
    mine.iloc[1:].to_csv(tmp_path / "folds.csv")
    with pytest.raises(ValueError, match=r"folds.csv: patients \['P00'\] have no fold"):
        load_or_make_folds(layout, v)
    (mine % 4).to_csv(tmp_path / "folds.csv")
    with pytest.raises(ValueError, match=r"folds.csv: expected folds 0..4 \(n_splits 5\), found \[0, 1, 2, 3\]"):
        load_or_make_folds(layout, v)


def test_exam_classes_cutoffs_and_tertiles():
    totals = pd.Series([0, 23, 23.5, 40, 40.5, 80], index=list("abcdef"))
    assert list(exam_classes(totals)) == [0, 0, 1, 1, 2, 2]
    svs = exam_classes(totals, slight_vs_severe=True)
    assert list(svs.index) == ["a", "b", "e", "f"] and list(svs) == [0, 0, 1, 1]
    tert = exam_classes(pd.Series(np.arange(30.0)[::-1]), scheme="tertiles")
    assert tert.value_counts().tolist() == [10, 10, 10]
    assert tert.iloc[0] == 2 and tert.iloc[-1] == 0  # highest totals in the top class
    with pytest.raises(ValueError, match="unknown scheme 'median'"):
        exam_classes(totals, scheme="median")
    with pytest.raises(ValueError, match="missing total"):
        exam_classes(pd.Series([1.0, np.nan]))


def test_leaky_split_raises_naming_the_patient():
    v = videos()
    with pytest.raises(LeakError, match=r"\['P07'\]"):
        assert_patient_disjoint(v[v["patient"] <= "P07"], v[v["patient"] >= "P07"])
    with pytest.raises(LeakError, match="P03"):
        assert_patient_disjoint(["P01", "P03"], ["P03"])
