"""Non-deep baselines on the same clips as the deep models: pooled motion-energy maps and a logistic
regression (scikit-learn), the yardstick a 3D CNN must beat before its numbers mean anything; and the
kinematics setting's ordinal model of the item score 0-4 (statsmodels' cumulative-logit `OrderedModel`)."""

import warnings

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from statsmodels.miscmodels.ordinal_model import OrderedModel


def motion_features(clips: np.ndarray | torch.Tensor, pool: int = 4, appearance: bool = False,
                    windows: int = 1) -> np.ndarray:
    """(N, T, S, S, 3) uint8 -> (N, k (S/pool)^2): per-pixel temporal std and mean |frame difference| of the
    gray clip, average-pooled by `pool`; with `appearance`, the mean frame's three colour planes too. A clip
    of `windows` K windows (ClipSpec "windows<K>") averages the differences within its windows only."""
    x = torch.as_tensor(np.asarray(clips)).float()  # (N, T, S, S, 3)
    gray = x.mean(-1)  # (N, T, S, S)
    diff = (gray[:, 1:] - gray[:, :-1]).abs()  # (N, T-1, S, S)
    if windows > 1:
        width = gray.shape[1] // windows
        diff = diff[:, [i for i in range(diff.shape[1]) if (i + 1) % width]]  # not frame W-1 -> W, ...
    maps = [gray.std(1)[:, None], diff.mean(1)[:, None]]
    if appearance:
        maps.append(x.mean(1).permute(0, 3, 1, 2))  # (N, 3, S, S)
    return torch.cat([F.avg_pool2d(m, pool).flatten(1) for m in maps], dim=1).numpy()


def probe(train_x: np.ndarray, train_y: np.ndarray, c: float = 0.1, seed: int = 0):
    """A fitted L2 logistic regression on standardised features (class-balanced, lbfgs; multinomial for
    more than two classes)."""
    head = LogisticRegression(C=c, max_iter=3000, class_weight="balanced", random_state=seed)
    return make_pipeline(StandardScaler(), head).fit(train_x, train_y)


def action_probe_top1(train, test, pool: int = 8, seed: int = 0) -> float:
    """Top-1 accuracy (%) of the motion-and-appearance probe on an action split (Table II's baseline row):
    `train`/`test` are ClipDatasets (clips (N, T, S, S, 3) uint8, labels)."""
    model = probe(motion_features(train.clips, pool, appearance=True), train.labels.numpy(), seed=seed)
    pred = model.predict(motion_features(test.clips, pool, appearance=True))
    return 100.0 * float(np.mean(pred == test.labels.numpy()))


# ---- the kinematics setting's ordinal item-score model ----

SCORES = np.arange(5)  # MDS-UPDRS-III item scores 0..4
PROB_SCORE_COLUMNS = [f"prob_score_{s}" for s in SCORES]  # P(item score = s) of a prediction row
ITEM_SCORE_COLUMNS = [*PROB_SCORE_COLUMNS, "score_expected", "score_pred"]
# The ordinal model's features, chosen on each training side: those with |Spearman's rho| >= ORDINAL_MIN_RHO with
# the score, at least 2 and at most 5 of them. Measured on simulated cohorts of 26 patients, 76 videos (issue 37,
# benchmarks/RESULTS.md): with 3 of 6 features informative, 3 fixed is best (rho +0.007 over this rule); with five
# informative features of |rho| 0.30-0.53 as on real finger tapping, this rule is best (+0.035 over 3 fixed).
ORDINAL_FEATURES: tuple[int, int] = (2, 5)
ORDINAL_MIN_RHO = 0.25
# The L2 penalty of the ordinal model's coefficients (per standardised feature). Measured as above: the same rho on
# 76 videos as without (0.618 and 0.619), on 12 (SynPD smoke's size) 0.49 instead of 0.37 and MCC 0.42 for 0.33.
ORDINAL_L2 = 1.0


def select_features(x: np.ndarray, score: np.ndarray, bounds: tuple[int, int] = ORDINAL_FEATURES,
                    min_rho: float = ORDINAL_MIN_RHO) -> np.ndarray:
    """The columns of x (n, F) whose |Spearman's rho| with `score` (n,) is at least `min_rho`, strongest first,
    at least bounds[0] and at most bounds[1] of them (fewer only when x has fewer columns); a constant column
    counts as rho 0 and ties keep the columns' order. Called on the training side only."""
    rho = np.nan_to_num([abs(stats.spearmanr(col, score).statistic) if np.ptp(col) > 0 else 0.0 for col in x.T])
    k = int(np.clip((rho >= min_rho).sum(), *bounds))
    return np.argsort(-rho, kind="stable")[: min(k, x.shape[1])]


class PenalisedOrderedModel(OrderedModel):
    """statsmodels' cumulative-logit `OrderedModel` whose log-likelihood carries an L2 penalty on the features'
    coefficients, -0.5 * ORDINAL_L2 * sum(beta^2) (a normal prior of sd 1 on standardised features; the
    thresholds are free): it keeps a small or separable training side (12 videos of SynPD smoke) from
    coefficients that run off, and fits in half the time. `score` is this log-likelihood's exact gradient
    (statsmodels would difference it numerically, k + 1 evaluations per step)."""

    def loglike(self, params):
        return super().loglike(params) - 0.5 * ORDINAL_L2 * float(np.sum(np.asarray(params)[: self.k_vars] ** 2))

    def score(self, params):
        """d loglike / d params: params are (beta, theta), the thresholds t_j = theta_0 + sum_{1..j} exp(theta_i);
        an observation of level k has the log of F(t_k - xb) - F(t_{k-1} - xb) (+1e-20, as statsmodels)."""
        params = np.asarray(params, float)
        low, upp = self._bounds(params)
        prob = self.prob(low, upp) + 1e-20
        f_low, f_upp = self.pdf(low), self.pdf(upp)  # 0 at the infinite outer thresholds
        beta = (f_low - f_upp) / prob @ self.exog - ORDINAL_L2 * params[: self.k_vars]
        k = self.k_levels - 1
        d_t = np.zeros(k)  # d loglike / d t_j over the observations
        np.add.at(d_t, self.endog[self.endog < k], (f_upp / prob)[self.endog < k])
        np.add.at(d_t, self.endog[self.endog > 0] - 1, -(f_low / prob)[self.endog > 0])
        jac = np.tril(np.ones((k, k))) * np.concatenate([[1.0], np.exp(params[self.k_vars + 1:])])  # d t_j / d theta_i
        return np.concatenate([beta, d_t @ jac])


def _ordered_logit(x: np.ndarray, codes: np.ndarray):
    """`PenalisedOrderedModel` (logit link) fitted by BFGS, or None when the fit fails or does not converge."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and Hessian warnings: judged below instead
        try:
            res = PenalisedOrderedModel(codes, x, distr="logit").fit(method="bfgs", maxiter=2000, disp=False,
                                                                     skip_hessian=True)
        except (ValueError, np.linalg.LinAlgError):
            return None
    ok = res.mle_retvals.get("converged", False) and np.isfinite(res.params).all()
    return res if ok else None


def ordinal_scores(train_x: np.ndarray, train_score: np.ndarray, test_x: np.ndarray,
                   bounds: tuple[int, int] = ORDINAL_FEATURES) -> tuple[np.ndarray, str]:
    """(n_test, 5) probabilities of the item scores 0..4 of the rows of test_x, and a note ("" when fitted).

    A cumulative-logit (proportional-odds) model, statsmodels' `OrderedModel` with an L2 penalty
    (`PenalisedOrderedModel`), on the k features of the training side most rank-correlated with its scores
    (`select_features`, k within `bounds`), standardised with the training side's mean and sd: its size fits
    50-200 videos (k + levels - 1 parameters, at most 9).
    Score levels absent from the training side get probability 0 (the model is fitted on the levels present
    and mapped back to 0..4). A training side with one level, or a fit that does not converge with k, k-1,
    ..., 1 features, gives NaN rows and a note saying why.
    """
    train_score = np.asarray(train_score, dtype=np.int64)
    levels = np.unique(train_score)
    out = np.full((len(test_x), len(SCORES)), np.nan)
    if len(levels) < 2:
        said = f"one item score ({levels[0]})" if len(levels) else "no item score"
        return out, f"not fitted: the training side has {said}"
    if not set(levels.tolist()) <= set(SCORES.tolist()):
        bad = sorted(set(levels.tolist()) - set(SCORES.tolist()))
        raise ValueError(f"ordinal_scores: item scores must be 0..4, found {bad}")
    scaler = StandardScaler().fit(train_x)
    train_z, test_z = scaler.transform(train_x), scaler.transform(test_x)
    chosen = select_features(train_z, train_score, bounds)
    codes = np.searchsorted(levels, train_score)  # 0..L-1 over the levels present
    for n in range(len(chosen), 0, -1):
        res = _ordered_logit(train_z[:, chosen[:n]], codes)
        if res is not None:
            out[:, levels] = res.model.predict(res.params, exog=test_z[:, chosen[:n]])  # (n_test, L)
            out[:, np.setdiff1d(SCORES, levels)] = 0.0
            return out, ("" if n == len(chosen) else f"ordinal fit converged with {n} of {len(chosen)} features")
    return out, f"not fitted: the ordinal model did not converge on {len(train_x)} training videos"


def item_score_summary(prob: np.ndarray) -> pd.DataFrame:
    """What a row of item-score probabilities (n, 5) says, in the prediction rows' columns: `prob_score_<s>`,
    `score_expected` (sum of s P(s), in item-score points), `score_pred` (the median of the predictive
    distribution: the smallest s with P(score <= s) >= 1/2, which minimises the expected absolute error),
    `prob` = P(score >= 2) (P(severe)) and `pred` = prob >= 0.5. NaN rows stay NaN (pred <NA>)."""
    prob = np.asarray(prob, dtype=float)
    known = np.isfinite(prob).all(axis=1)
    out = pd.DataFrame(prob, columns=PROB_SCORE_COLUMNS)
    out["score_expected"] = prob @ SCORES
    median = (np.cumsum(np.nan_to_num(prob), axis=1) >= 0.5 - 1e-9).argmax(axis=1)
    out["score_pred"] = np.where(known, median, np.nan)
    out["prob"] = prob[:, 2:].sum(axis=1)
    out["pred"] = pd.array(np.where(known, out["prob"] >= 0.5, 0).astype(int), dtype="Int64")
    out.loc[~known, "pred"] = pd.NA
    return out
