"""Tables III and V of the study (task level), re-exported by `pdlib.tables`: the tidy numbers of every
setting's out-of-fold predictions per task (the pooled MCC, its patient-bootstrap CI and permutation p-value,
the study's fold mean ± sd, the agreement with the rater's item score), Table III's long layout (also Table
V's details), Table V pivoted to its MCCs, its agreement table, their captions, and the calibration numbers."""

import numpy as np
import pandas as pd

from pdlib.formats import format_ci, format_p, format_pm
from pdlib.metrics import AGREEMENT, MIN_SCORED, brier, expected_calibration_error, task_metrics
from pdlib.tasks import SETTINGS


def _not_run(notes: pd.DataFrame) -> str:
    """One sentence for the settings (or datasets) that could not run, each with its reason once."""
    return " ".join(f"Not run: {r.setting}: {r.note.removeprefix('not run: ')}." for r in notes.itertuples())


# The tidy columns of Tables III and V: the pooled out-of-fold estimator first (acc_pct, precision, recall, mcc,
# its CI and p-value), then the study's fold mean and std in columns of their own, then the agreement with the
# rater's item score (`metrics.agreement`: n_scored, spearman and its CI, mae, qwk).
TASK_NUMERIC: list[str] = ["setting", "task", "patients", "n", "left_out", "folds", "acc_pct", "precision", "recall",
                           "mcc", "ci_lo", "ci_hi", "p_value", "auc", "mcc_fold_mean", "mcc_fold_std",
                           "acc_pct_fold_mean", "acc_pct_fold_std", *AGREEMENT]
KINEMATICS_LABEL = SETTINGS["kinematics"][0]


def by_label(results: dict) -> dict[str, pd.DataFrame]:
    """The out-of-fold predictions of every setting that ran (`task_level.SettingResult`s: label, predictions
    per task, note), all tasks together, keyed by table label."""
    return {r.label: pd.concat(r.predictions.values(), ignore_index=True) for r in results.values() if r.predictions}


def task_numbers(results: dict, ceiling: pd.DataFrame | None = None, **kw) -> pd.DataFrame:
    """Tables III and V's numbers, tidy: a row per (setting, task) of TASK_NUMERIC. `mcc` is the MCC of the
    out-of-fold predictions pooled over the folds, `ci_lo`/`ci_hi` its patient-bootstrap 95% CI and `p_value`
    its permutation p-value (`kw`: n_boot, n_resamples, seed); `acc_pct` (accuracy in percent), precision and
    recall are pooled too; `mcc_fold_mean`/`mcc_fold_std` and `acc_pct_fold_*` are the study's mean ± std
    over the folds. `n`: videos with a prediction, `left_out` those without. Agreement with the rater's item
    score (`metrics.agreement`, over the `n_scored` videos with a prediction and a score): `spearman` (of the
    predicted item score, or of P(severe) for a setting without one) with `spearman_lo`/`_hi`, its
    patient-bootstrap 95% CI, `mae` and `qwk` of the predicted item score (NaN for a setting without one, and
    everywhere for prediction files without the `score` column). With `ceiling`: SynPD's `oracle_mcc` per task
    and `of_ceiling` = mcc / oracle_mcc. A setting that could not run: a row with its `note` and no task."""
    numeric = task_metrics(by_label(results), **kw)
    numeric = numeric[[c for c in TASK_NUMERIC if c in numeric.columns]]
    if ceiling is not None:
        numeric["oracle_mcc"] = numeric["task"].map(ceiling.set_index("task")["oracle_mcc"])
        numeric["of_ceiling"] = numeric["mcc"] / numeric["oracle_mcc"]  # the fraction of what SynPD allows
    notes = pd.DataFrame([{"setting": r.label, "note": r.note} for r in results.values() if not r.predictions],
                         columns=["setting", "note"])
    numeric = pd.concat([numeric.assign(note=""), notes], ignore_index=True) if len(notes) else numeric.assign(note="")
    return numeric.astype({c: "Int64" for c in ("patients", "n", "left_out", "folds", "n_scored") if c in numeric})


def _videos(g: pd.DataFrame) -> pd.Series:
    """"12" or "12 (+3 left out)": the videos with a prediction and those without."""
    return pd.Series([f"{n}" + (f" (+{k} left out)" if k else "") for n, k in zip(g["n"], g["left_out"], strict=True)],
                     index=g.index)


def _num(x: float) -> str:
    """A number of the tables with two decimals, "-" where undefined (NaN)."""
    return f"{x:.2f}" if np.isfinite(x) else "-"


def _ci(lo: float, hi: float) -> str:
    """`format_ci`, "-" where undefined."""
    return format_ci(lo, hi) if np.isfinite(lo) and np.isfinite(hi) else "-"


def _task_cells(g: pd.DataFrame) -> dict[str, pd.Series]:
    """The printed cells of Tables III and V's rows (a setting's rows of `task_numbers`, indexed by task),
    keyed by their row labels: the pooled estimator, then the fold mean ± std, then the agreement with the rater."""
    def pairs(fmt, a, b):
        return pd.Series([fmt(x, y) for x, y in zip(g[a], g[b], strict=True)], index=g.index)

    cells = {"n": _videos(g), "acc (%)": g["acc_pct"].map("{:.1f}".format),
             "precision": g["precision"].map("{:.2f}".format), "recall": g["recall"].map("{:.2f}".format),
             "MCC": g["mcc"].map("{:.2f}".format), "MCC 95% CI": pairs(format_ci, "ci_lo", "ci_hi"),
             "MCC p-value": g["p_value"].map(format_p),
             "MCC fold mean±sd": pairs(format_pm, "mcc_fold_mean", "mcc_fold_std")}
    if "of_ceiling" in g:
        cells["MCC / oracle MCC"] = g["of_ceiling"].map("{:.2f}".format)
    if "spearman" in g:
        cells |= {"Spearman ρ": g["spearman"].map(_num), "Spearman ρ 95% CI": pairs(_ci, "spearman_lo", "spearman_hi"),
                  "MAE": g["mae"].map(_num), "κ (quadratic)": g["qwk"].map(_num)}
    return cells


def table_iii(numbers: pd.DataFrame) -> pd.DataFrame:
    """Table III (long: Method, Metric, one column per task), also Table V's details, from `task_numbers`: per
    setting that ran the rows of `_task_cells`. A setting that could not run has no rows: `task_caption`
    names it once."""
    ran = numbers[numbers["task"].notna()]
    rows = []
    for setting, g in ran.groupby("setting", sort=False):
        for metric, cells in _task_cells(g.set_index("task")).items():
            rows.append({"Method": setting, "Metric": metric, **cells.to_dict()})
    return pd.DataFrame(rows, columns=["Method", "Metric", *dict.fromkeys(ran["task"])])


def _mean_sd(values: pd.Series) -> str:
    """The `average` row's cell: mean ± sd (ddof 1) over the tasks of the defined values, "-" for none."""
    x = values.dropna().astype(float)
    return format_pm(x.mean(), x.std(ddof=1) if len(x) > 1 else np.nan) if len(x) else "-"


def _pivot(numbers: pd.DataFrame, columns) -> pd.DataFrame:
    """A row per task and an `average` row: the videos (`n`, or `<setting> n` per setting when the settings saw
    different videos), then per setting that ran the columns `columns(rows of the setting by task)` gives,
    {header: (cells by task, average cell)}, as `<setting> <header>`."""
    ran = numbers[numbers["task"].notna()]
    table = pd.DataFrame(index=pd.Index([*dict.fromkeys(ran["task"]), "average"], name="task"))
    groups = {setting: g.set_index("task") for setting, g in ran.groupby("setting", sort=False)}
    videos = {setting: _videos(g) for setting, g in groups.items()}
    one_n = all(v.sort_index().equals(next(iter(videos.values())).sort_index()) for v in videos.values())
    if one_n and videos:  # every setting saw the same videos: one n column
        table["n"] = next(iter(videos.values())).reindex(table.index).fillna("-")
    for setting, g in groups.items():
        if not one_n:
            table[f"{setting} n"] = videos[setting].reindex(table.index).fillna("-")
        for header, (cells, average) in columns(g).items():
            table[f"{setting} {header}"] = cells.reindex(table.index)
            table.loc["average", f"{setting} {header}"] = average
    return table


def table_v(numbers: pd.DataFrame) -> pd.DataFrame:
    """Table V pivoted to fit a page: a row per task and an `average` row; the videos (`n`, or `<setting> n`
    per setting when the settings saw different videos); per setting that ran, its pooled MCC with the 95%
    CI of that same MCC (`<setting> MCC [95% CI]`); SynPD's oracle MCC when `numbers` has it. The average
    row: mean ± sd over the tasks of the pooled MCCs (of the oracle MCCs). Accuracy, precision, recall,
    p-values and fold means: `table_iii(numbers)` (Table V's details); agreement with the rater:
    `table_v_agreement(numbers)`."""
    def mcc(g):
        cells = pd.Series([f"{m:.2f} {format_ci(lo, hi)}" for m, lo, hi in zip(g["mcc"], g["ci_lo"], g["ci_hi"],
                                                                                 strict=True)], index=g.index)
        return {"MCC [95% CI]": (cells, _mean_sd(g["mcc"]))}

    table = _pivot(numbers, mcc)
    ran = numbers[numbers["task"].notna()]
    if "oracle_mcc" in ran:
        oracle = ran.drop_duplicates("task").set_index("task")["oracle_mcc"]
        table["SynPD oracle MCC"] = oracle.map("{:.2f}".format).reindex(table.index)
        table.loc["average", "SynPD oracle MCC"] = format_pm(oracle.mean(), oracle.std(ddof=1))
    return table.fillna("-").reset_index()


def table_v_agreement(numbers: pd.DataFrame) -> pd.DataFrame:
    """Table V's agreement with the rater's item score, pivoted like `table_v`: a row per task and an `average`
    row, the videos, and per setting that ran Spearman's rho with its patient-bootstrap 95% CI (`<setting>
    Spearman ρ [95% CI]`); a setting that predicts an item score (the kinematics row) adds its MAE and
    quadratic-weighted kappa (`<setting> MAE`, `<setting> κ`). "-": undefined (`metrics.agreement`). The
    average row: mean ± sd over the tasks of the defined values."""
    def agreement_columns(g):
        cells = pd.Series([f"{_num(r)} {_ci(lo, hi)}" if np.isfinite(r) else "-" for r, lo, hi in
                           zip(g["spearman"], g["spearman_lo"], g["spearman_hi"], strict=True)], index=g.index)
        out = {"Spearman ρ [95% CI]": (cells, _mean_sd(g["spearman"]))}
        if g["mae"].notna().any():
            out |= {"MAE": (g["mae"].map(_num), _mean_sd(g["mae"])), "κ": (g["qwk"].map(_num), _mean_sd(g["qwk"]))}
        return out

    return _pivot(numbers, agreement_columns).fillna("-").reset_index()


def _compared(ran: pd.DataFrame, protocol: str) -> str:
    """What Tables III and V compare: the protocol (given, or the folds'), the videos and patients per task."""
    counts = ran.drop_duplicates("task").set_index("task")
    same = ran.groupby("task")[["n", "patients"]].nunique().eq(1).all(axis=None)
    if counts[["n", "patients"]].drop_duplicates().shape[0] == 1 and same:
        first = counts.iloc[0]
        compared = f"every setting on the same {first['n']} videos of {first['patients']} patients per task"
    else:
        compared = "videos (patients) per task: " + ", ".join(f"{t} {r.n} ({r.patients})" for t, r in counts.iterrows())
        compared += "" if same else "; n per setting in the table"
    folds = int(ran["folds"].max()) if len(ran) else 0
    protocol = protocol or (f"{folds}-fold patient-level cross-validation" if folds != 1 else
                            "the dataset's official split (PD4T: trained on train.csv's videos, tested on test.csv's; "
                            "a patient here is a person on one side of the split)")
    return f"{protocol}, {compared}"


def _agreement_words(ran: pd.DataFrame, n_boot: int) -> str:
    """What the agreement columns compare, in plain words, and what the kinematics row reads."""
    text = (f"Agreement with the rater, over the videos with a prediction and a rater's item score (0-4): "
            f"Spearman ρ: rank correlation between a setting's predicted item score (the kinematics row: the "
            f"expected score of its ordinal model) or, for a setting that predicts no item score (the deep settings "
            f"and the probe), its P(severe), and the rater's item score; its 95% CI: percentile bootstrap over "
            f"patients ({n_boot} resamples). MAE: mean absolute difference in item-score points between the "
            f"predicted item score (the median of the ordinal model's predictive distribution) and the rater's. "
            f"κ: Cohen's kappa with quadratic weights over the scores 0-4 between those same two (1: perfect, 0: "
            f"chance). \"-\": undefined (MAE, κ: a setting that predicts no item score; ρ: constant predictions or "
            f"scores, or fewer than {MIN_SCORED} videos).")
    if KINEMATICS_LABEL in set(ran["setting"]):
        text += (" The kinematics row reads each row's keypoints: its landmark file, the keypoints beside its video "
                 "(on SynPD the true joints: an ideal tracker, so it shows what the features carry, not what a tracker "
                 "would give), or `pdlib track`'s.")
    return text


def task_caption(title: str, numbers: pd.DataFrame, n_boot: int, n_resamples: int, pivoted: bool = False,
                 details: str = "", protocol: str = "", **_) -> str:
    """The caption of Table III or V (`pivoted`: `table_v`'s layout; `details`: the table holding the rest):
    `title`, the videos and patients compared, the estimator of every number, and each setting that could
    not run, once. `protocol`: how the predictions were made out of fold (default: the folds' count, or
    PD4T's official split when there is one fold)."""
    ran = numbers[numbers["task"].notna()]
    estimator = (f"Binary task classes (0: item score 0-1, 1: 2-4), {_compared(ran, protocol)}. MCC: of the "
                 f"out-of-fold predictions of all folds pooled; 95% CI: percentile bootstrap of that same pooled MCC "
                 f"over patients ({n_boot} resamples)")
    if pivoted:
        text = (f"{title}. Each cell: pooled MCC [95% CI]. {estimator}. average: mean ± sd over the tasks of the "
                f"pooled MCCs.")
        if "oracle_mcc" in ran:
            text += (" SynPD oracle MCC: what an oracle knowing the true severity reaches against the noisy rated "
                     "labels (tables/synpd_ceiling).")
        if details:
            text += f" Accuracy, precision, recall, p-values, fold means and agreement with the rater: {details}."
    else:
        text = (f"{title}. {estimator}; p-value: one-sided permutation test of it ({n_resamples} permutations). "
                f"acc (%), precision and recall: pooled the same way. MCC fold mean±sd: the MCC computed within "
                f"each fold, mean and sd over the folds (the study's m±s; not the number the CI is of). "
                f"n: videos with a prediction.")
        if "of_ceiling" in ran:
            text += " MCC / oracle MCC: the pooled MCC as a fraction of SynPD's ceiling (tables/synpd_ceiling)."
        if "spearman" in ran:
            text += " " + _agreement_words(ran, n_boot)
    return f"{text} {_not_run(numbers[numbers['task'].isna()])}".strip()


def agreement_caption(title: str, numbers: pd.DataFrame, n_boot: int, protocol: str = "", **_) -> str:
    """The caption of `table_v_agreement`: `title`, the videos and patients compared, what ρ, MAE and κ compare,
    what the kinematics row reads, and each setting that could not run, once."""
    ran = numbers[numbers["task"].notna()]
    text = (f"{title}. Each cell: Spearman ρ [95% CI], MAE, κ. Out-of-fold predictions: {_compared(ran, protocol)}. "
            f"{_agreement_words(ran, n_boot)} average: mean ± sd over the tasks of the defined values.")
    return f"{text} {_not_run(numbers[numbers['task'].isna()])}".strip()


def calibration_numbers(results: dict) -> pd.DataFrame:
    """How far the out-of-fold probabilities can be taken at their word, per setting and task (the settings'
    `SettingResult`s): the videos, the Brier score and the expected calibration error over 10 bins
    (`metrics.expected_calibration_error`; 0 = what the models say is what happens)."""
    rows = [{"setting": r.label, "task": task, "videos": int(preds["pred"].notna().sum()), "brier": brier(preds),
             "ece": expected_calibration_error(preds)}
            for r in results.values() for task, preds in r.predictions.items()]
    return pd.DataFrame(rows, columns=["setting", "task", "videos", "brier", "ece"])
