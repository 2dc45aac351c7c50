"""Evaluation of out-of-fold predictions as in the study's Tables III and V: accuracy, precision, recall,
MCC (fold mean ± std), a 95% CI by bootstrap over patients, a permutation p-value, ROC, kappa, Brier."""

import warnings

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    cohen_kappa_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from pdlib.tasks import TASKS


def binary_metrics(y_true, y_pred) -> dict[str, float]:
    """Accuracy, precision, recall and MCC (Eq. 15) of one set of predictions, with scikit-learn.

    Binary labels: precision and recall of the positive class 1 (Table III, V). More than two classes:
    macro averages over classes and the multi-class MCC (R_K). An undefined precision or recall
    (no predicted or no true positive) counts as 0.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    average = "binary" if set(np.union1d(y_true, y_pred).tolist()) <= {0, 1} else "macro"
    return {
        "acc": accuracy_score(y_true, y_pred),
        "precision": precision_score(y_true, y_pred, average=average, zero_division=0),
        "recall": recall_score(y_true, y_pred, average=average, zero_division=0),
        # one class in labels and predictions alike (a validation set of one class, all called right): 0, as
        # scikit-learn's, without its warning 'A single label was found in y_true and y_pred' (a 1x1 matrix)
        "mcc": matthews_corrcoef(y_true, y_pred) if len(np.union1d(y_true, y_pred)) > 1 else 0.0,
    }


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


def _codes(y_true, y_pred) -> tuple[np.ndarray, np.ndarray, int]:
    """Labels as codes 0..K-1 over the union of classes, and K."""
    classes, codes = np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]), return_inverse=True)
    n = len(np.asarray(y_true))
    return codes[:n], codes[n:], max(len(classes), 2)


def mcc_ci(y_true, y_pred, patients, n_boot: int = 2000, level: float = 0.95,
           seed: int = 0) -> tuple[float, float]:
    """Percentile confidence interval of the pooled MCC by bootstrap over patients (Tables III, V "95% CI").

    Patients are resampled with replacement (all videos of a drawn patient come along), because
    videos of one patient are not independent; n_boot resamples with SciPy's `stats.bootstrap`
    (method="percentile"), seeded by `seed` so tables are reproducible.
    """
    yt, yp, k = _codes(y_true, y_pred)
    pat_codes, pat_names = pd.factorize(pd.Series(np.asarray(patients)).astype(str))
    if len(pat_names) < 2:
        raise ValueError(f"mcc_ci: needs at least 2 patients to resample, found {len(pat_names)}")
    cm = np.zeros((len(pat_names), k, k))
    np.add.at(cm, (pat_codes, yt, yp), 1)  # (P, K, K) one confusion matrix per patient

    def statistic(idx, axis=-1):
        return mcc_from_confusion(cm[np.asarray(idx, dtype=np.int64)].sum(axis=-3))

    res = stats.bootstrap((np.arange(len(pat_names)),), statistic, n_resamples=n_boot, vectorized=True,
                          confidence_level=level, method="percentile", batch=500,
                          rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


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


def quadratic_kappa(y_true, y_pred) -> float:
    """Cohen's kappa with quadratic weights (ordinal agreement of severity classes), scikit-learn."""
    return float(cohen_kappa_score(y_true, y_pred, weights="quadratic"))


def brier(preds: pd.DataFrame) -> float:
    """Brier score of out-of-fold probabilities: `prob` for binary frames, `prob_<c>` columns otherwise."""
    preds = usable(preds)
    prob_cols = sorted((c for c in preds.columns if c.startswith("prob_")), key=lambda c: int(c[5:]))
    if prob_cols:
        return float(brier_score_loss(preds["label"], preds[prob_cols].to_numpy(),
                                      labels=list(range(len(prob_cols)))))
    return float(brier_score_loss(preds["label"], preds["prob"], pos_label=1))


def summarize(preds: pd.DataFrame, n_boot: int = 2000, n_resamples: int = 9999, seed: int = 0) -> dict:
    """Numeric summary of one task's out-of-fold predictions, the cells of Tables III and V.

    The estimator is pooled (`pooled_metrics`: one confusion matrix over all folds): acc_pct, precision,
    recall and mcc, with ci_lo/ci_hi the patient-bootstrap 95% CI and p_value the permutation p-value of that
    same mcc. The study's fold mean and sample std are kept apart: mcc_fold_mean/std, acc_pct_fold_mean/std.
    n: the videos with a prediction, left_out those without (unusable videos, folds that could not be
    trained); patients and folds: those the pooled estimator counts.
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
    return out


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
