"""Tests of pdlib.metrics: agreement with scikit-learn, bootstrap coverage, permutation p-values, tables."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    cohen_kappa_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)

from pdlib import metrics, tables


@pytest.mark.parametrize("k", [2, 3])
def test_metrics_equal_sklearn(k):
    rng = np.random.default_rng(k)
    for _ in range(20):
        y, p = rng.integers(0, k, 50), rng.integers(0, k, 50)
        m = metrics.binary_metrics(y, p)
        avg = "binary" if k == 2 else "macro"
        assert m["acc"] == accuracy_score(y, p)
        assert m["precision"] == precision_score(y, p, average=avg, zero_division=0)
        assert m["recall"] == recall_score(y, p, average=avg, zero_division=0)
        assert m["mcc"] == pytest.approx(matthews_corrcoef(y, p), abs=1e-12)
        cm = np.zeros((k, k))
        np.add.at(cm, (y, p), 1)
        assert metrics.mcc_from_confusion(cm) == pytest.approx(matthews_corrcoef(y, p), abs=1e-12)
        assert metrics.quadratic_kappa(y, p) == cohen_kappa_score(y, p, weights="quadratic")
    assert metrics.mcc_from_confusion(np.array([[5, 0], [3, 0]])) == 0  # undefined -> 0, as sklearn


def oof(n_patients=40, per_patient=5, acc=0.8, seed=0, task="finger"):
    """Out-of-fold predictions with a patient effect: each patient's videos share its label."""
    rng = np.random.default_rng(seed)
    patient = np.repeat([f"p{i}" for i in range(n_patients)], per_patient)
    label = np.repeat(rng.integers(0, 2, n_patients), per_patient)
    prob = np.clip(np.where(label == 1, 0.7, 0.3) + rng.normal(0, 0.25, len(label)), 0, 1)
    pred = np.where(rng.random(len(label)) < acc, label, 1 - label)
    return pd.DataFrame({"video": [f"v{i}" for i in range(len(label))], "patient": patient, "task": task,
                         "label": label, "pred": pred, "prob": prob,
                         "fold": np.repeat(np.arange(n_patients) % 5, per_patient)})


def test_fold_mean_std_and_curves_equal_sklearn():
    df = oof()
    per_fold = [matthews_corrcoef(g["label"], g["pred"]) for _, g in df.groupby("fold")]
    assert metrics.fold_mean_std(df) == pytest.approx((np.mean(per_fold), np.std(per_fold, ddof=1)))
    fpr, tpr, auc = metrics.roc(df)
    assert auc == roc_auc_score(df["label"], df["prob"]) and fpr[0] == 0 and tpr[-1] == 1
    assert metrics.brier(df) == brier_score_loss(df["label"], df["prob"])
    probs = np.random.default_rng(0).dirichlet(np.ones(3), len(df))
    multi = df.assign(label=df["label"] + df["pred"], **{f"prob_{c}": probs[:, c] for c in range(3)})
    assert metrics.brier(multi) == pytest.approx(brier_score_loss(multi["label"], probs, labels=[0, 1, 2]))


def test_bootstrap_ci_covers_true_mcc_at_nominal_rate():
    # Known joint distribution: each patient is "easy" (p=0.3) or "hard" (p=0.7) with 4 videos from
    # table[kind]; the population MCC is that of the mixed table.
    tables = {"easy": np.array([[0.4, 0.05], [0.05, 0.5]]), "hard": np.array([[0.3, 0.25], [0.2, 0.25]])}
    mix = 0.3 * tables["easy"] + 0.7 * tables["hard"]
    true_mcc = metrics.mcc_from_confusion(mix)
    rng = np.random.default_rng(0)
    covered, n_sim, n_pat, per = 0, 200, 40, 4
    for s in range(n_sim):
        kinds = rng.random(n_pat) < 0.3
        cells = np.concatenate([rng.choice(4, per, p=tables["easy" if e else "hard"].ravel()) for e in kinds])
        lo, hi = metrics.mcc_ci(cells // 2, cells % 2, np.repeat(np.arange(n_pat), per), n_boot=300, seed=s)
        covered += lo <= true_mcc <= hi
    assert 0.85 <= covered / n_sim <= 0.99


def test_permutation_pvalue():
    strong, null = oof(acc=0.9), oof(acc=0.5, seed=3)
    p = metrics.permutation_pvalue(strong["label"], strong["pred"], n_resamples=999)
    assert p == pytest.approx(1 / 1000)  # nothing beats a strong signal: the minimum 1/(n+1)
    assert metrics.permutation_pvalue(null["label"], null["pred"], n_resamples=999) > 0.05
    rng = np.random.default_rng(1)
    pvals = [metrics.permutation_pvalue(rng.integers(0, 2, 40), rng.integers(0, 2, 40), 199, seed=i)
             for i in range(40)]
    assert 0.02 <= np.mean(np.array(pvals) < 0.2) <= 0.45  # roughly uniform under the null


def test_task_metrics_pool_the_folds_and_keep_the_fold_mean_apart():
    preds = {"I3D": pd.concat([oof(task="hand"), oof(seed=1, task="finger")]),
             "TSA": pd.concat([oof(acc=0.9, seed=2, task="finger"), oof(seed=4, task="hand")])}
    numeric = metrics.task_metrics(preds, n_boot=200, n_resamples=199)
    assert list(numeric["task"]) == ["finger", "hand", "finger", "hand"]  # the study's task order
    row = numeric.iloc[2]
    df = preds["TSA"][preds["TSA"]["task"] == "finger"]
    assert row["mcc"] == pytest.approx(matthews_corrcoef(df["label"], df["pred"]))  # pooled over the folds
    assert row["acc_pct"] == pytest.approx(100 * accuracy_score(df["label"], df["pred"]))
    assert (row["mcc_fold_mean"], row["mcc_fold_std"]) == pytest.approx(metrics.fold_mean_std(df))
    assert row["acc_pct_fold_mean"] == pytest.approx(100 * np.mean([accuracy_score(g["label"], g["pred"])
                                                                  for _, g in df.groupby("fold")]))
    assert row["ci_lo"] < row["mcc"] < row["ci_hi"] and row["p_value"] == pytest.approx(1 / 200)
    assert (row["n"], row["patients"], row["folds"]) == (len(df), df["patient"].nunique(), df["fold"].nunique())


def test_formatters_and_missing_predictions():
    assert tables.format_p(1.7e-4) == "1.7×10^-4" and tables.format_p(0.25) == "0.25"
    assert tables.format_ci(0.161, 0.52) == "[0.16, 0.52]" and tables.format_pm(0.3456, 0.09) == "0.35±0.09"
    df = oof().astype({"pred": "Int64"})
    df.loc[df["fold"] == 0, "pred"] = pd.NA
    with pytest.warns(UserWarning, match="without prediction"):
        mean = metrics.fold_mean_std(df)[0]
    assert mean == pytest.approx(metrics.fold_mean_std(oof()[oof()["fold"] > 0])[0])
