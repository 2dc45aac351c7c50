"""Evaluation of out-of-fold predictions as in the study's Tables III and V: accuracy, precision, recall,
MCC (fold mean ± std), a 95% CI by bootstrap over patients, a permutation p-value, ROC, kappa, Brier; and the
agreement with the rater's item score 0-4 (Spearman's rho with its patient-bootstrap CI, MAE, weighted kappa)."""

import re
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import brier_score_loss, cohen_kappa_score, roc_auc_score, roc_curve

from pdlib.tasks import TASKS


def binary_metrics(y_true, y_pred) -> dict[str, float]:
    """Accuracy, precision, recall and MCC (Eq. 15) of one set of predictions, equal to scikit-learn's
    (`accuracy_score`, `precision_score` and `recall_score` with zero_division=0, `matthews_corrcoef`: tested)
    from one confusion matrix, without their input checks (25 ms a call: the tables call it thousands of times).

    Binary labels: precision and recall of the positive class 1 (Table III, V). More than two classes:
    macro averages over the classes present in either, and the multi-class MCC (R_K). An undefined precision
    or recall (no predicted or no true positive) counts as 0; so does the MCC of one class throughout.
    """
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if len(y_true) != len(y_pred) or not len(y_true):
        raise ValueError(f"binary_metrics: {len(y_true)} labels and {len(y_pred)} predictions")
    classes, yt, yp = _classes_and_codes(y_true, y_pred)
    k = len(classes)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (yt, yp), 1)
    hits, predicted, actual = np.diag(cm), cm.sum(0), cm.sum(1)
    precision = np.divide(hits, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(hits, actual, out=np.zeros(k), where=actual > 0)
    if set(classes.tolist()) <= {0, 1}:  # binary: the positive class 1's, 0 when it never occurs
        precision, recall = (float(v[classes == 1][0]) if 1 in classes else 0.0 for v in (precision, recall))
    else:
        precision, recall = float(np.average(precision)), float(np.average(recall))
    return {"acc": float(np.average(yt == yp)), "precision": precision, "recall": recall,
            "mcc": float(mcc_from_confusion(cm))}


def mcc_from_confusion(cm: np.ndarray) -> np.ndarray:
    """MCC of a stack of confusion matrices (..., K, K) (rows true, columns predicted), vectorised.

    The same formula as scikit-learn's matthews_corrcoef (0 when undefined); it exists because the
    bootstrap and permutation tests need thousands of MCCs at once and scikit-learn computes one per call.
    """
    cm = np.asarray(cm, dtype=np.float64)
    t_sum, p_sum = cm.sum(axis=-1), cm.sum(axis=-2)  # (..., K) true and predicted counts
    n = cm.sum(axis=(-2, -1))
    correct = np.trace(cm, axis1=-2, axis2=-1)
    cov_tp = correct * n - (t_sum * p_sum).sum(-1)
    cov_pp = n**2 - (p_sum * p_sum).sum(-1)
    cov_tt = n**2 - (t_sum * t_sum).sum(-1)
    denom = cov_tt * cov_pp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, cov_tp / np.sqrt(np.where(denom > 0, denom, 1.0)), 0.0)


def _classes_and_codes(y_true, y_pred) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The union of classes in either, sorted, and both label arrays as codes 0..K-1 into it."""
    y_true = np.asarray(y_true).ravel()
    classes, codes = np.unique(np.concatenate([y_true, np.asarray(y_pred).ravel()]), return_inverse=True)
    return classes, codes[:len(y_true)], codes[len(y_true):]


def _codes(y_true, y_pred) -> tuple[np.ndarray, np.ndarray, int]:
    """Labels as codes 0..K-1 over the union of classes, and K (at least 2, for a confusion matrix)."""
    classes, yt, yp = _classes_and_codes(y_true, y_pred)
    return yt, yp, max(len(classes), 2)


def patient_bootstrap(statistic: Callable[[np.ndarray], np.ndarray], patients, n_boot: int = 2000,
                      level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile confidence interval of a statistic by bootstrap over patients, the one resampler of the tables.

    Patients are resampled with replacement (all videos of a drawn patient come along), because videos of one
    patient are not independent; n_boot resamples with SciPy's `stats.bootstrap` (method="percentile"), seeded
    by `seed` so tables are reproducible. `statistic` maps how often each patient was drawn, (B, P) counts in
    the order of `pd.factorize(patients)`, to the B resamples' values. Resamples where the statistic is
    undefined (NaN) are left out of the percentiles; (NaN, NaN) when every one is.
    """
    pat_names = pd.unique(pd.Series(np.asarray(patients)).astype(str))
    n = len(pat_names)
    if n < 2:
        raise ValueError(f"patient_bootstrap: needs at least 2 patients to resample, found {n}")

    def on_draws(idx, axis=-1):  # idx (B, P): the patients drawn in each resample
        idx = np.atleast_2d(np.asarray(idx, dtype=np.int64))
        flat = idx + n * np.arange(len(idx))[:, None]
        return statistic(np.bincount(flat.ravel(), minlength=idx.size).reshape(len(idx), n).astype(np.float64))

    res = stats.bootstrap((np.arange(n),), on_draws, n_resamples=n_boot, vectorized=True, confidence_level=level,
                          method="percentile", batch=500, rng=np.random.default_rng(seed))
    dist = np.asarray(res.bootstrap_distribution, dtype=np.float64)
    if np.isnan(dist).all():
        return np.nan, np.nan
    lo, hi = np.nanquantile(dist, [(1 - level) / 2, (1 + level) / 2])  # scipy's own for a NaN-free distribution
    return float(lo), float(hi)


def mcc_ci(y_true, y_pred, patients, n_boot: int = 2000, level: float = 0.95,
           seed: int = 0) -> tuple[float, float]:
    """Percentile confidence interval of the pooled MCC by bootstrap over patients (Tables III, V "95% CI"):
    `patient_bootstrap` of the MCC of the drawn patients' confusion matrices added up."""
    yt, yp, k = _codes(y_true, y_pred)
    pat_codes, pat_names = pd.factorize(pd.Series(np.asarray(patients)).astype(str))
    if len(pat_names) < 2:
        raise ValueError(f"mcc_ci: needs at least 2 patients to resample, found {len(pat_names)}")
    cm = np.zeros((len(pat_names), k, k))
    np.add.at(cm, (pat_codes, yt, yp), 1)  # (P, K, K) one confusion matrix per patient
    return patient_bootstrap(lambda counts: mcc_from_confusion(np.einsum("bp,pkl->bkl", counts, cm)), patients,
                             n_boot, level, seed)


def weighted_spearman(x, y, weights: np.ndarray) -> np.ndarray:
    """Spearman's rho of (x, y) (N,) per row of `weights` (B, N): the data in which pair i appears weights[b, i]
    times (a patient-bootstrap resample), with midranks for ties, as `scipy.stats.spearmanr` of the repeated
    data; NaN where either side is constant. Vectorised: (N, N) comparisons, once for all B."""
    x, y, w = np.asarray(x, float), np.asarray(y, float), np.atleast_2d(np.asarray(weights, float))

    def midranks(v):  # (B, N): values below, plus half the tied copies, counted with the weights
        return w @ (v[None, :] < v[:, None]).T + (w @ (v[None, :] == v[:, None]).T + 1) / 2

    drawn = w > 0
    varies = [np.where(drawn, v, -np.inf).max(1) > np.where(drawn, v, np.inf).min(1) for v in (x, y)]
    total = np.maximum(w.sum(axis=1, keepdims=True), 1)
    rx, ry = midranks(x), midranks(y)
    dx, dy = rx - (w * rx).sum(1, keepdims=True) / total, ry - (w * ry).sum(1, keepdims=True) / total
    cov, vx, vy = (w * dx * dy).sum(1), (w * dx * dx).sum(1), (w * dy * dy).sum(1)
    ok = varies[0] & varies[1]
    return np.where(ok, cov / np.sqrt(np.where(ok, vx * vy, 1.0)), np.nan)


MIN_SCORED = 3  # fewer videos with a prediction and a score: no agreement numbers (NaN)
AGREEMENT: tuple[str, ...] = ("n_scored", "spearman", "spearman_lo", "spearman_hi", "mae", "qwk")


def agreement(preds: pd.DataFrame, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Agreement of out-of-fold predictions with the rater's item score 0-4 (`score`) over the videos with a
    prediction and a score (`n_scored`), the numbers clinical papers report (issue 37):

    - spearman: Spearman's rho of the predicted item score (`score_expected`, the expected score of a setting
      with an ordinal model) or, for a setting that predicts no item score, P(severe) (`prob`) with the score;
      spearman_lo/_hi its percentile 95% CI by bootstrap over patients (`patient_bootstrap`, n_boot resamples);
      NaN where undefined: constant predictions or constant scores.
    - mae: mean |score_pred - score| in item-score points; qwk: Cohen's kappa with quadratic weights over the
      scores 0..4 (scikit-learn), of the predicted item score `score_pred`; NaN without `score_pred`.

    Every number is NaN below MIN_SCORED videos, and for prediction files written before rows carried `score`.
    """
    out = dict.fromkeys(AGREEMENT, np.nan) | {"n_scored": 0}
    if "score" not in preds:
        return out
    has_item = "score_pred" in preds and preds["score_pred"].notna().any()
    predicted = pd.to_numeric(preds["score_expected" if has_item else "prob"], errors="coerce")
    score = pd.to_numeric(preds["score"], errors="coerce")
    keep = (preds["pred"].notna() & score.notna() & predicted.notna()).to_numpy()
    out["n_scored"] = int(keep.sum())
    if out["n_scored"] < MIN_SCORED:
        return out
    x, y, patients = predicted.to_numpy(float)[keep], score.to_numpy(float)[keep], preds["patient"].to_numpy()[keep]
    out["spearman"] = float(weighted_spearman(x, y, np.ones((1, len(x))))[0])
    if np.isfinite(out["spearman"]) and pd.Series(patients).nunique() > 1:
        codes = pd.factorize(pd.Series(patients).astype(str))[0]
        out["spearman_lo"], out["spearman_hi"] = patient_bootstrap(
            lambda counts: weighted_spearman(x, y, counts[:, codes]), patients, n_boot, level, seed)
    if has_item:
        item = preds["score_pred"].to_numpy(float)[keep]
        out["mae"] = float(np.mean(np.abs(item - y)))
        out["qwk"] = quadratic_kappa(y.astype(int), item.astype(int), labels=list(range(5)))
    return out


def permutation_pvalue(y_true, y_pred, n_resamples: int = 9999, seed: int = 0) -> float:
    """One-sided permutation p-value of the MCC (Tables III, V "p-value"), with SciPy's permutation_test.

    Null hypothesis: predictions are independent of the labels, i.e. any pairing of predictions with
    videos is equally likely (permutation_type="pairings"; videos are treated as exchangeable).
    Alternative: MCC greater than under the null. A randomised test cannot give less than
    1 / (n_resamples + 1), so very small p-values of the study need a larger n_resamples.
    """
    yt, yp, k = _codes(y_true, y_pred)
    onehot_true = np.eye(k)[yt]  # (N, K)

    def statistic(pred, axis=-1):
        onehot_pred = np.eye(k)[np.asarray(pred, dtype=np.int64)]  # (..., N, K)
        return mcc_from_confusion(np.einsum("nk,...nl->...kl", onehot_true, onehot_pred))

    res = stats.permutation_test((yp,), statistic, permutation_type="pairings", vectorized=True,
                                 n_resamples=n_resamples, alternative="greater", batch=1000,
                                 rng=np.random.default_rng(seed))
    return float(res.pvalue)


def usable(preds: pd.DataFrame) -> pd.DataFrame:
    """Rows of an out-of-fold prediction frame that have a prediction; warns about the others."""
    missing = preds["pred"].isna()
    if missing.any():
        notes = sorted(set(preds.loc[missing, "note"].dropna())) if "note" in preds else []
        warnings.warn(f"{int(missing.sum())} videos without prediction are left out of the metrics: {notes}",
                      stacklevel=2)
    out = preds[~missing].copy()
    out["pred"] = out["pred"].astype(int)
    out["label"] = out["label"].astype(int)
    return out


def fold_mean_std(preds: pd.DataFrame, metric: str = "mcc") -> tuple[float, float]:
    """The study's "m ± s": `metric` of binary_metrics computed in each fold, then mean and sample std
    (ddof=1) over folds (Sec. IV-B: the overall accuracy is the average of the per-fold accuracies)."""
    preds = usable(preds)
    per_fold = [binary_metrics(g["label"], g["pred"])[metric] for _, g in preds.groupby("fold")]
    std = np.std(per_fold, ddof=1) if len(per_fold) > 1 else 0.0
    return float(np.mean(per_fold)), float(std)


def roc(preds: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, float]:
    """ROC curve (fpr, tpr) and AUC of binary out-of-fold predictions from `prob` (Figs. 5, 6), sklearn."""
    preds = usable(preds)
    fpr, tpr, _ = roc_curve(preds["label"], preds["prob"])
    return fpr, tpr, float(roc_auc_score(preds["label"], preds["prob"]))


def quadratic_kappa(y_true, y_pred, labels: list[int] | None = None) -> float:
    """Cohen's kappa with quadratic weights (ordinal agreement of severity classes), scikit-learn. `labels`: the
    ordered levels the weights are spaced over (e.g. the item scores 0..4, so that a level absent from both
    sides still counts in the distance); default the levels present. NaN where undefined (one level alone)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0/0: one level on both sides
        return float(cohen_kappa_score(y_true, y_pred, weights="quadratic", labels=labels))


def prob_matrix(preds: pd.DataFrame) -> np.ndarray | None:
    """(N, K) class probabilities of a predictions or scores frame: its `prob_<c>` columns in class order; None
    when it has none (a binary frame's `prob` = P(class 1); the kinematics setting's prob_score_<s> are item
    scores, not classes)."""
    found = {int(m[1]): c for c in preds.columns if (m := re.fullmatch(r"prob_(\d+)", str(c)))}
    return preds[[found[k] for k in sorted(found)]].to_numpy(float) if found else None


def brier(preds: pd.DataFrame) -> float:
    """Brier score of out-of-fold probabilities: `prob` for binary frames, `prob_<c>` columns otherwise."""
    preds = usable(preds)
    probs = prob_matrix(preds)
    if probs is not None:
        return float(brier_score_loss(preds["label"], probs, labels=list(range(probs.shape[1]))))
    return float(brier_score_loss(preds["label"], preds["prob"], pos_label=1))


def summarize(preds: pd.DataFrame, n_boot: int = 2000, n_resamples: int = 9999, seed: int = 0) -> dict:
    """Numeric summary of one task's out-of-fold predictions, the cells of Tables III and V.

    The estimator is pooled (`pooled_metrics`: one confusion matrix over all folds): acc_pct, precision,
    recall and mcc, with ci_lo/ci_hi the patient-bootstrap 95% CI and p_value the permutation p-value of that
    same mcc. The study's fold mean and sample std are kept apart: mcc_fold_mean/std, acc_pct_fold_mean/std.
    n: the videos with a prediction, left_out those without (unusable videos, folds that could not be
    trained); patients and folds: those the pooled estimator counts. Then `agreement`'s columns: Spearman's rho
    with the rater's item score and its patient-bootstrap CI, MAE and quadratic-weighted kappa (n_scored videos).
    """
    left_out = int(preds["pred"].isna().sum())
    preds = usable(preds)
    per_fold = pd.DataFrame([binary_metrics(g["label"], g["pred"]) for _, g in preds.groupby("fold")])
    ddof = 1 if len(per_fold) > 1 else 0
    lo, hi = mcc_ci(preds["label"], preds["pred"], preds["patient"], n_boot=n_boot, seed=seed)
    pooled = pooled_metrics(preds)
    out = {
        "patients": pooled["patients"], "n": pooled["videos"], "left_out": left_out, "folds": pooled["folds"],
        "acc_pct": pooled["acc_pct"], "precision": pooled["precision"], "recall": pooled["recall"],
        "mcc": pooled["mcc"], "ci_lo": lo, "ci_hi": hi,
        "p_value": permutation_pvalue(preds["label"], preds["pred"], n_resamples=n_resamples, seed=seed),
        "mcc_fold_mean": per_fold["mcc"].mean(), "mcc_fold_std": per_fold["mcc"].std(ddof=ddof),
        "acc_pct_fold_mean": 100 * per_fold["acc"].mean(), "acc_pct_fold_std": 100 * per_fold["acc"].std(ddof=ddof),
    }
    if preds["label"].nunique() == 2 and "prob" in preds:
        out["auc"] = float(roc_auc_score(preds["label"], preds["prob"]))
    return out | agreement(preds, n_boot=n_boot, seed=seed)


def _task_order(tasks) -> list[str]:
    known = [t for t in TASKS if t in set(tasks)]
    return known + sorted(set(tasks) - set(known))


def task_metrics(preds_by_setting: dict[str, pd.DataFrame], **kw) -> pd.DataFrame:
    """Long numeric frame (setting, task, summarize's columns) over every task of every setting's
    out-of-fold predictions (Table V's numbers); `kw` goes to summarize (n_boot, n_resamples, seed)."""
    rows = []
    for setting, preds in preds_by_setting.items():
        for task in _task_order(preds["task"].unique()):
            rows.append({"setting": setting, "task": task, **summarize(preds[preds["task"] == task], **kw)})
    return pd.DataFrame(rows)


def task_rank(results: pd.DataFrame) -> pd.Series:
    """Table VII's rank of each row's task: by the task's MCC averaged over its inputs (1 = best, ties share)."""
    rank = results.groupby("task")["mcc_mean"].mean().rank(ascending=False, method="min").astype(int)
    return results["task"].map(rank)


def reliability(preds: pd.DataFrame, n_bins: int = 10) -> pd.DataFrame:
    """The reliability diagram of binary out-of-fold predictions: per bin of equal width of P(class 1),
    the videos in it, their mean predicted probability and the observed share of class 1."""
    preds = usable(preds)
    p, y = preds["prob"].to_numpy(float), preds["label"].to_numpy(int)
    bins = np.clip((p * n_bins).astype(int), 0, n_bins - 1)
    rows = [{"bin": b, "videos": int((bins == b).sum()), "predicted": p[bins == b].mean(),
             "observed": y[bins == b].mean()} for b in np.unique(bins)]
    return pd.DataFrame(rows, columns=["bin", "videos", "predicted", "observed"])


def expected_calibration_error(preds: pd.DataFrame, n_bins: int = 10) -> float:
    """ECE: the video-weighted mean gap |observed - predicted| over the reliability diagram's bins."""
    r = reliability(preds, n_bins)
    return float((r["videos"] * (r["observed"] - r["predicted"]).abs()).sum() / max(r["videos"].sum(), 1))


def pooled_metrics(preds: pd.DataFrame) -> dict:
    """The pooled out-of-fold estimator of Tables III and V: accuracy (in percent, `acc_pct`), precision,
    recall and MCC of one confusion matrix over every video with a prediction, all folds together (the MCC
    whose patient-bootstrap CI is `mcc_ci` and whose p-value is `permutation_pvalue`), with the videos,
    patients and folds it counts."""
    preds = preds[preds["pred"].notna()]
    m = binary_metrics(preds["label"].astype(int), preds["pred"].astype(int))
    return {"videos": len(preds), "patients": int(preds["patient"].nunique()), "folds": int(preds["fold"].nunique()),
            "acc_pct": 100 * m["acc"], "precision": m["precision"], "recall": m["recall"], "mcc": m["mcc"]}
