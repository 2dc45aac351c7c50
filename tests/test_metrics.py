"""Tests of pdlib.metrics: agreement with scikit-learn, bootstrap coverage, permutation p-values, tables; the
agreement with the rater's item score and the kinematics setting's ordinal model (pdlib.baselines)."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    cohen_kappa_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)

from pdlib import baselines, metrics, tables


@pytest.mark.parametrize("k", [2, 3, 5])
def test_metrics_equal_sklearn(k):
    """binary_metrics computes from one confusion matrix what scikit-learn's four functions compute: equal to
    the last bit, on random labels, on few rows (classes absent from one side) and on one class throughout."""
    rng = np.random.default_rng(k)
    cases = [(rng.integers(0, k, n), rng.integers(0, k, n)) for n in [50] * 20 + [1, 2, 3, 4, 5, 7] * 5]
    cases += [(np.zeros(6, int), np.zeros(6, int)), (np.ones(4, int), np.ones(4, int)),
              (np.zeros(5, int), np.ones(5, int)), (np.full(3, k - 1), np.full(3, k - 1))]
    for y, p in cases:
        m = metrics.binary_metrics(y, p)
        avg = "binary" if set(np.union1d(y, p).tolist()) <= {0, 1} else "macro"
        assert m["acc"] == accuracy_score(y, p)
        assert m["precision"] == precision_score(y, p, average=avg, zero_division=0)
        assert m["recall"] == recall_score(y, p, average=avg, zero_division=0)
        assert m["mcc"] == (matthews_corrcoef(y, p) if len(np.union1d(y, p)) > 1 else 0.0), (y, p)
        cm = np.zeros((k, k))
        np.add.at(cm, (y, p), 1)
        assert metrics.mcc_from_confusion(cm) == pytest.approx(m["mcc"], abs=1e-12)
        if len(y) == 50:
            assert metrics.quadratic_kappa(y, p) == cohen_kappa_score(y, p, weights="quadratic")
    assert metrics.mcc_from_confusion(np.array([[5, 0], [3, 0]])) == 0  # undefined -> 0, as sklearn
    with pytest.raises(ValueError, match="3 labels and 2 predictions"):
        metrics.binary_metrics([0, 1, 1], [0, 1])


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


# ---- agreement with the rater's item score (issue 37) ----

def scored(n_patients=30, per_patient=3, seed=0, item=True):
    """Out-of-fold rows with the rater's score 0-4 and, with `item`, an ordinal setting's predicted item score."""
    rng = np.random.default_rng(seed)
    patient = np.repeat([f"p{i}" for i in range(n_patients)], per_patient)
    latent = np.repeat(rng.normal(0, 1, n_patients), per_patient) + rng.normal(0, 0.5, len(patient))
    score = np.clip(np.round(latent + 2 + rng.normal(0, 0.7, len(patient))), 0, 4).astype(int)
    expected = np.clip(latent + 2, 0, 4)
    df = pd.DataFrame({"video": [f"v{i}" for i in range(len(patient))], "patient": patient, "task": "finger",
                       "label": (score >= 2).astype(int), "score": score, "prob": 1 / (1 + np.exp(-latent)),
                       "fold": np.repeat(np.arange(n_patients) % 5, per_patient)})
    df["pred"] = (df["prob"] >= 0.5).astype(int)
    return df.assign(score_expected=expected, score_pred=np.round(expected).astype(int)) if item else df


def test_agreement_equals_scipy_and_sklearn_and_its_ci_resamples_patients():
    df = scored()
    a = metrics.agreement(df, n_boot=300, seed=1)
    assert a["n_scored"] == 90
    assert a["spearman"] == pytest.approx(spearmanr(df["score_expected"], df["score"]).statistic, abs=1e-12)
    assert a["spearman"] > 0.5 and a["spearman_lo"] < a["spearman"] < a["spearman_hi"] < 1
    assert a["mae"] == pytest.approx(np.mean(np.abs(df["score_pred"] - df["score"])))
    assert a["qwk"] == pytest.approx(cohen_kappa_score(df["score"], df["score_pred"], weights="quadratic"))
    codes = pd.factorize(df["patient"])[0]  # the CI: the same resampler as the MCC's, over patients
    x, y = df["score_expected"].to_numpy(), df["score"].to_numpy()
    ci = metrics.patient_bootstrap(lambda c: metrics.weighted_spearman(x, y, c[:, codes]), df["patient"], 300, seed=1)
    assert (a["spearman_lo"], a["spearman_hi"]) == pytest.approx(ci)
    # a setting without an item score: rho of P(severe); no MAE, no kappa
    b = metrics.agreement(df.drop(columns=["score_expected", "score_pred"]), n_boot=200)
    assert b["spearman"] == pytest.approx(spearmanr(df["prob"], df["score"]).statistic, abs=1e-12)
    assert np.isnan(b["mae"]) and np.isnan(b["qwk"]) and b["n_scored"] == 90


def test_weighted_spearman_is_spearman_of_the_repeated_rows():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 4, 25).astype(float), rng.integers(0, 5, 25).astype(float)  # ties on both sides
    w = rng.integers(0, 3, (20, 25))
    got = metrics.weighted_spearman(x, y, w)
    want = [spearmanr(np.repeat(x, row), np.repeat(y, row)).statistic for row in w]
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert np.isnan(metrics.weighted_spearman(np.ones(5), np.arange(5.0), np.ones((1, 5)))[0])  # constant: undefined


def test_agreement_quadratic_kappa_spaces_the_weights_over_0_to_4():
    df = scored().assign(score=[0, 1, 4] * 30, score_pred=[0, 1, 1] * 30, score_expected=[0.1, 1.0, 1.4] * 30)
    a = metrics.agreement(df, n_boot=50)
    # scores 2 and 3 absent: 4 -> 1 still weighs as 3 points apart on 0..4, not as neighbouring levels
    assert a["qwk"] == pytest.approx(cohen_kappa_score(df["score"], df["score_pred"], weights="quadratic",
                                                       labels=[0, 1, 2, 3, 4]))
    assert a["qwk"] != pytest.approx(cohen_kappa_score(df["score"], df["score_pred"], weights="quadratic"))


def test_agreement_is_nan_where_undefined():
    df = scored()
    constant = metrics.agreement(df.assign(score_expected=2.0, score_pred=2), n_boot=50)  # rho of a constant
    assert np.isnan([constant["spearman"], constant["spearman_lo"], constant["spearman_hi"]]).all()
    assert constant["mae"] == pytest.approx(np.mean(np.abs(2 - df["score"])))  # the MAE is still defined
    few = metrics.agreement(df.iloc[:2], n_boot=50)
    assert few["n_scored"] == 2 and np.isnan([few[k] for k in metrics.AGREEMENT[1:]]).all()
    old = metrics.agreement(df.drop(columns="score"), n_boot=50)  # a prediction file from before rows had scores
    assert old["n_scored"] == 0 and np.isnan(old["spearman"])
    unpredicted = df.astype({"pred": "Int64"})
    unpredicted.loc[unpredicted.index[:30], "pred"] = pd.NA
    assert metrics.agreement(unpredicted, n_boot=50)["n_scored"] == 60
    assert metrics.brier(df) == brier_score_loss(df["label"], df["prob"])  # prob_score_<s> are not classes


def test_agreement_ci_covers_the_population_rho_at_about_the_nominal_rate():
    # x = a + e1, y = a + e2 with a shared patient effect a: (x, y) bivariate normal with r = 1/2 marginally,
    # whose Spearman rho is 6/pi asin(r/2); the CI must hold it about 95% of the time despite the clustering.
    true_rho, rng, covered, n_sim = 6 / np.pi * np.arcsin(0.25), np.random.default_rng(0), 0, 80
    for s in range(n_sim):
        a = np.repeat(rng.normal(0, 1, 30), 3)
        df = pd.DataFrame({"patient": np.repeat(np.arange(30), 3), "prob": a + rng.normal(0, 1, 90),
                           "score": a + rng.normal(0, 1, 90), "pred": 1})
        res = metrics.agreement(df, n_boot=200, seed=s)
        covered += res["spearman_lo"] <= true_rho <= res["spearman_hi"]
    assert 0.85 <= covered / n_sim <= 0.99


# ---- the kinematics setting's ordinal model ----

def latent_features(n=120, seed=0):
    """Six features of which three follow a latent severity (Spearman ~0.5-0.6 with the score), in mixed units."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(0, 1, n)
    score = np.digitize(latent + rng.normal(0, 0.4, n), [-1.2, -0.3, 0.6, 1.5])
    x = rng.normal(size=(n, 6))
    x[:, :3] += np.outer(latent, [0.9, -0.9, 0.9])
    return x * [1, 10, 0.1, 5, 100, 1] + [0, 5, -3, 0, 50, 1], score, latent


def test_ordinal_model_recovers_a_monotone_relation_and_beats_the_training_median():
    x, score, latent = latent_features()
    prob, note = baselines.ordinal_scores(x[:80], score[:80], x[80:])
    assert note == "" and prob.shape == (40, 5) and np.allclose(prob.sum(axis=1), 1)
    out = baselines.item_score_summary(prob)
    assert list(out.columns) == [*baselines.ITEM_SCORE_COLUMNS, "prob", "pred"]
    assert spearmanr(out["score_expected"], latent[80:]).statistic > 0.6  # rises with the latent severity
    mae, no_skill = np.mean(np.abs(out["score_pred"] - score[80:])), np.mean(np.abs(np.median(score[:80]) - score[80:]))
    assert mae < 0.8 * no_skill
    np.testing.assert_allclose(out["prob"], prob[:, 2:].sum(axis=1))  # P(severe) = P(score >= 2)
    assert (out["pred"].astype(int) == (out["prob"] >= 0.5)).all()
    assert set(baselines.select_features(x[:80], score[:80])[:3]) == {0, 1, 2}  # the informative ones first


def test_item_score_summary_takes_the_median_and_keeps_unfitted_rows_empty():
    prob = np.array([[0.1, 0.3, 0.2, 0.3, 0.1], [0.6, 0.4, 0, 0, 0], [0, 0, 0, 0.2, 0.8], [np.nan] * 5])
    out = baselines.item_score_summary(prob)
    assert out["score_pred"].tolist()[:3] == [2, 0, 4] and np.isnan(out["score_pred"].iloc[3])
    np.testing.assert_allclose(out["score_expected"].iloc[:3], [2.0, 0.4, 3.8])
    assert out["pred"].tolist()[:3] == [1, 0, 1] and out["pred"].isna().tolist() == [False] * 3 + [True]


def test_ordinal_model_with_absent_levels_and_with_one_level():
    x, score, _ = latent_features()
    score = np.where(score == 2, 3, score)  # no 2 on the training side
    score[score == 4] = 3
    prob, note = baselines.ordinal_scores(x[:80], score[:80], x[80:])
    assert note == "" and (prob[:, [2, 4]] == 0).all() and np.allclose(prob.sum(axis=1), 1)
    assert set(baselines.item_score_summary(prob)["score_pred"]) <= {0, 1, 3}
    prob, note = baselines.ordinal_scores(x[:80], np.full(80, 1), x[80:])
    assert np.isnan(prob).all() and note == "not fitted: the training side has one item score (1)"
    with pytest.raises(ValueError, match="item scores must be 0..4, found \\[5\\]"):
        baselines.ordinal_scores(x[:80], np.r_[score[:79], 5], x[80:])


def test_ordinal_model_falls_back_to_fewer_features_then_says_it_did_not_converge(monkeypatch):
    x, score, _ = latent_features()
    fit = baselines._ordered_logit
    monkeypatch.setattr(baselines, "_ordered_logit", lambda z, codes: fit(z, codes) if z.shape[1] == 1 else None)
    prob, note = baselines.ordinal_scores(x[:80], score[:80], x[80:])
    assert np.allclose(prob.sum(axis=1), 1) and note == "ordinal fit converged with 1 of 3 features"
    monkeypatch.setattr(baselines, "_ordered_logit", lambda z, codes: None)
    prob, note = baselines.ordinal_scores(x[:80], score[:80], x[80:])
    assert np.isnan(prob).all() and note == "not fitted: the ordinal model did not converge on 80 training videos"
