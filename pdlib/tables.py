"""Tables II-IX of the study (and the dataset's Table IV, Table VI, Fig. 4 numbers), the counterpart of
`pdlib.plots`: each table is built here from the experiments' numbers, as a tidy numeric frame (one value
per cell, mean and std in their own columns: what `save_table` writes as CSV) and its formatted version
(what the study prints: the Markdown and LaTeX)."""

from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from pdlib.folds import CLASS_NAMES, exam_classes
from pdlib.metrics import brier, expected_calibration_error, task_metrics, task_rank
from pdlib.tasks import TASKS, task_label

# Table VI's conditions, in its column order; other conditions of a user's dataset follow them.
STUDY_CONDITIONS: tuple[str, ...] = ("L-OFF", "L-ON", "A", "B", "C")
# What they mean (the study's Table VI caption): the levodopa challenge test (LCT) examines a patient OFF and
# ON medication; the stimulation challenge test of patients with deep brain stimulation (SCT) three times.
CONDITIONS: dict[str, str] = {"L-OFF": "levodopa challenge test, OFF medication",
                              "L-ON": "levodopa challenge test, ON medication",
                              "A": "medication OFF, stimulation ON", "B": "medication OFF, stimulation OFF",
                              "C": "medication ON, stimulation ON"}
# Table IV: the study's share of class 1 (scores 2-4) per task, in percent.
STUDY_CLASS1_PCT: dict[str, float] = {"finger": 58.0, "hand": 44.4, "pronation": 40.9, "toe": 44.9,
                                      "leg": 21.2, "postural": 27.1, "kinetic": 22.6}


def class_counts(videos: pd.DataFrame, unusable: Collection[str] = ()) -> pd.DataFrame:
    """Table IV: per task (study order), videos of class 0 (scores 0-1) and 1 (2-4), the share of class 1
    and the study's share for comparison. `unusable` (video cells, e.g. `check_dataset`'s) are counted in
    their own column and left out of the class counts, so `total` is what the models can use."""
    bad = videos["video"].isin(set(unusable))
    skipped = videos.loc[bad, "task"].value_counts()
    tasks = [t for t in TASKS if t in set(videos["task"])]
    labels = videos[~bad].assign(label=task_label(videos.loc[~bad, "score"]))
    counts = pd.crosstab(labels["task"], labels["label"]).reindex(index=tasks, columns=[0, 1], fill_value=0)
    table = pd.DataFrame({"task": tasks, "class_0": counts[0].to_numpy(), "class_1": counts[1].to_numpy()})
    table["total"] = table["class_0"] + table["class_1"]
    table["unusable"] = table["task"].map(skipped).fillna(0).astype(int)
    table["class_1_pct"] = (100.0 * table["class_1"] / table["total"]).round(1)
    table["study_class_1_pct"] = table["task"].map(STUDY_CLASS1_PCT)
    return table


def _mean_sd(x: pd.Series) -> tuple[float, float]:
    """(mean, sd with ddof 1): sd NaN for one value, both NaN for none."""
    return (float(x.mean()) if len(x) else np.nan), (float(x.std()) if len(x) > 1 else np.nan)


def clinical_numbers(exams: pd.DataFrame, videos: pd.DataFrame, scheme: str = "cutoffs") -> pd.DataFrame:
    """Table VI's numbers: per examination class (folds.exam_classes on `total`) and in total: score mean and
    sd, patients, age and disease duration mean and sd, male, female, and video fragments in all and per
    condition."""
    for col in ("exam", "patient", "condition", "total"):
        if col not in exams.columns:
            raise KeyError(f"clinical_table: exams has no column {col!r} (columns: {list(exams.columns)})")
    exams = exams.assign(cls=exam_classes(exams["total"].reset_index(drop=True), scheme=scheme).to_numpy())
    exams["videos"] = exams["exam"].map(videos.groupby("exam").size()).fillna(0).astype(int)
    conditions = [c for c in STUDY_CONDITIONS if c in set(exams["condition"])]
    conditions += sorted(set(exams["condition"]) - set(conditions))
    rows = []
    for name, part in [(CLASS_NAMES[c], exams[exams["cls"] == c]) for c in range(3)] + [("total", exams)]:
        patients = part.drop_duplicates("patient")
        row = {"class": name}
        row["score_mean"], row["score_sd"] = _mean_sd(part["total"])
        row["patients"] = len(patients)
        for col in ("age", "disease_duration"):
            if col in part.columns:
                row[f"{col}_mean"], row[f"{col}_sd"] = _mean_sd(patients[col])
        if "sex" in part.columns:
            sex = patients["sex"].astype(str).str.upper()
            row["male"], row["female"] = int((sex == "M").sum()), int((sex == "F").sum())
        row["videos_all"] = int(part["videos"].sum())
        for c in conditions:
            row[f"videos_{c}"] = int(part.loc[part["condition"] == c, "videos"].sum())
        rows.append(row)
    return pd.DataFrame(rows)


def table_vi(numbers: pd.DataFrame) -> pd.DataFrame:
    """Table VI as the study prints it (mean±sd, male/female) from `clinical_numbers`, each unit in its
    header: ages and durations in years, video fragments counted per condition."""
    out = numbers[["class"]].copy()
    headers = {"score": "score", "patients": "patients", "age": "age (years)",
               "disease_duration": "disease duration (years)", "male/female": "male/female"}
    for col, header in headers.items():
        if col == "patients":
            out[header] = numbers[col]
        elif col == "male/female" and "male" in numbers:
            out[header] = [f"{m}/{f}" for m, f in zip(numbers["male"], numbers["female"], strict=True)]
        elif f"{col}_mean" in numbers:
            out[header] = [format_pm(m, s, 0) for m, s in zip(numbers[f"{col}_mean"], numbers[f"{col}_sd"],
                                                               strict=True)]
    videos = numbers.filter(like="videos_")
    return pd.concat([out, videos.rename(columns=lambda c: "videos " + c.removeprefix("videos_"))], axis=1)


def table_vi_caption(numbers: pd.DataFrame, scheme: str = "cutoffs") -> str:
    """Table VI's caption: the classes, what each column counts and in which unit, and the conditions of the
    columns `videos <condition>` that the study names (others are the exams.csv's own names)."""
    classes = ("slight: total ≤ 23, moderate: 23 < total ≤ 40, severe: total > 40" if scheme == "cutoffs"
               else f"classes by {scheme} of the totals")
    total = numbers.set_index("class").loc["total"]
    named = [c for c in numbers.filter(like="videos_").columns.str.removeprefix("videos_") if c in CONDITIONS]
    conditions = "; ".join(f"{c}: {CONDITIONS[c]}" for c in named)
    return (f"Table VI: clinical information per examination class ({classes}; MDS-UPDRS-III total). "
            f"score: the examinations' MDS-UPDRS-III total, mean±sd; age and disease duration in years, mean±sd "
            f"over the class's patients; patients: those with an examination in the class (a patient examined "
            f"under several conditions can fall in several classes, so the classes add up to more than the "
            f"{int(total['patients'])} patients in total); videos: video fragments of the class's examinations, "
            f"all and per examination condition" + (f" ({conditions})." if conditions else "."))


def ceiling_table(ceiling: pd.DataFrame) -> pd.DataFrame:
    """SynPD's ceiling (`ceiling.csv`, `synth.oracle_ceiling`) with each unit in its column name: accuracy and
    class-1 share in percent like every table's, `simulated_videos` the Monte-Carlo videos the ceiling was
    computed on (default-size cohorts, independent of this dataset's size), `videos_in_dataset` the task's
    videos in this dataset."""
    out = pd.DataFrame({"task": ceiling["task"], "oracle_mcc": ceiling["oracle_mcc"],
                        "oracle_acc_pct": (100 * ceiling["oracle_accuracy"]).round(1),
                        "class_1_pct": (100 * ceiling["class1_share"]).round(1),
                        "rater_noise_sd": ceiling["rater_noise_sd"]})
    if "videos_here" in ceiling:
        out["videos_in_dataset"] = ceiling["videos_here"]
    out["simulated_videos"] = ceiling["n_videos"]
    return out


CEILING_CAPTION = (
    "SynPD's ceiling per task: the MCC and accuracy (%) of an oracle that knows each video's true severity, "
    "against the rated binary label (class 1: item score 2-4), which carries the simulated rater's noise "
    "(rater_noise_sd: its sd in item-score points). No model can be expected to beat it on SynPD. "
    "class_1_pct: the share of class 1 among the rated videos (%). The ceiling is a Monte-Carlo estimate over "
    "simulated_videos videos (100 default-size cohorts × 10 draws of rater noise), the same for every SynPD "
    "size; videos_in_dataset: the task's videos in this dataset.")


def score_distribution(videos: pd.DataFrame) -> pd.Series:
    """Fig. 4b: number of videos per item score 0..4 over the seven tasks."""
    scores = videos.loc[videos["task"].isin(TASKS), "score"].astype(int)
    counts = np.bincount(scores, minlength=5)[:5]
    return pd.Series(counts, index=pd.Index(range(5), name="score"), name="videos")


def format_p(p: float) -> str:
    """A p-value as the study prints it, e.g. 1.7×10^-4."""
    if not np.isfinite(p):
        return "-"
    if p >= 0.01:
        return f"{p:.2f}"
    mantissa, exponent = f"{p:.1e}".split("e")
    return f"{mantissa}×10^{int(exponent)}"


def format_pm(mean: float, std: float, digits: int = 2, sep: str = "±") -> str:
    """"m±s" as in the study's tables (Table II prints " ± "): the one mean ± std format of the suite. A NaN
    std prints the mean alone, a NaN mean nothing."""
    if not np.isfinite(mean):
        return ""
    return f"{mean:.{digits}f}" if not np.isfinite(std) else f"{mean:.{digits}f}{sep}{std:.{digits}f}"


def format_ci(lo: float, hi: float) -> str:
    """"[lo, hi]" as in the study's tables."""
    return f"[{lo:.2f}, {hi:.2f}]"




def _not_run(notes: pd.DataFrame) -> str:
    """One sentence for the settings (or datasets) that could not run, each with its reason once."""
    return " ".join(f"Not run: {r.setting}: {r.note.removeprefix('not run: ')}." for r in notes.itertuples())


# ---- Table II: pretraining ----

def table_ii_numbers(results: pd.DataFrame) -> pd.DataFrame:
    """Table II's numbers: top-1 accuracy in percent, mean and std (ddof 1; 0 for one split) over the splits
    per method and dataset, tidy."""
    g = results.groupby(["dataset", "method"], sort=False)["top1"]
    out = g.agg(top1_pct_mean="mean", top1_pct_std=lambda v: v.std(ddof=1) if len(v) > 1 else 0.0,
                splits="count")
    return out.reset_index()


def table_ii(results: pd.DataFrame) -> pd.DataFrame:
    """Table II: top-1 accuracy (%) per method and dataset that ran, mean ± std over the splits (the study's
    datasets that did not run are named once, by `table_ii_caption`)."""
    numbers = table_ii_numbers(results)
    numbers["cell"] = [format_pm(m, s, 1, " ± ") for m, s in zip(numbers["top1_pct_mean"], numbers["top1_pct_std"],
                                                                   strict=True)]
    table = numbers.pivot(index="method", columns="dataset", values="cell")
    table = table.loc[list(dict.fromkeys(numbers["method"])), list(dict.fromkeys(numbers["dataset"]))]
    table.columns = [f"{d} top-1 (%)" for d in table.columns]
    return table.reset_index().rename(columns={"method": "Method (scratch)"}).rename_axis(columns=None)


def table_ii_caption(results: pd.DataFrame, datasets: Sequence[str] = ("SynAct", "UCF-101", "HMDB-51")) -> str:
    """Table II's caption: the estimator, the splits and test clips, and the study's datasets not run."""
    splits = results.groupby("dataset", sort=False)["split"].nunique()
    tests = results.groupby("dataset", sort=False)["test"].first() if "test" in results else None
    runs = ", ".join(f"{d}: {n} splits" + (f" of {tests[d]} test clips" if tests is not None else "")
                     for d, n in splits.items())
    missing = [d for d in datasets if d not in set(results["dataset"])]
    note = f" Not run: {', '.join(missing)} (no folder named in params)." if missing else ""
    return (f"Table II: top-1 accuracy (%) on each split's test clips, mean ± sd (ddof 1) over the splits "
            f"({runs}); models trained from scratch.{note}")


# ---- Tables III and V: task level ----

# The tidy columns of Tables III and V: the pooled out-of-fold estimator first (acc_pct, precision, recall, mcc,
# its CI and p-value), then the study's fold mean and std in columns of their own.
TASK_NUMERIC: list[str] = ["setting", "task", "patients", "n", "left_out", "folds", "acc_pct", "precision", "recall",
                           "mcc", "ci_lo", "ci_hi", "p_value", "auc", "mcc_fold_mean", "mcc_fold_std",
                           "acc_pct_fold_mean", "acc_pct_fold_std"]


def by_label(results: dict) -> dict[str, pd.DataFrame]:
    """The out-of-fold predictions of every setting that ran (`task_level.SettingResult`s: label, predictions
    per task, note), all tasks together, keyed by table label."""
    return {r.label: pd.concat(r.predictions.values(), ignore_index=True) for r in results.values() if r.predictions}


def task_numbers(results: dict, ceiling: pd.DataFrame | None = None, scores: pd.Series | None = None,
                 **kw) -> pd.DataFrame:
    """Tables III and V's numbers, tidy: a row per (setting, task) of TASK_NUMERIC. `mcc` is the MCC of the
    out-of-fold predictions pooled over the folds, `ci_lo`/`ci_hi` its patient-bootstrap 95% CI and `p_value`
    its permutation p-value (`kw`: n_boot, n_resamples, seed); `acc_pct` (accuracy in percent), precision and
    recall are pooled too; `mcc_fold_mean`/`mcc_fold_std` and `acc_pct_fold_*` are the study's mean ± std
    over the folds. `n`: videos with a prediction, `left_out` those without. With `ceiling`: SynPD's
    `oracle_mcc` per task and `of_ceiling` = mcc / oracle_mcc. With `scores` (video -> item score 0..4):
    `spearman_x100`, 100 times Spearman's rank correlation of P(severe) with the item score over the predicted
    videos (PECoP's metric on PD4T). A setting that could not run: a row with its `note` and no task."""
    preds = by_label(results)
    numeric = task_metrics(preds, **kw)
    numeric = numeric[[c for c in TASK_NUMERIC if c in numeric.columns]]
    if scores is not None:
        rho = {(label, task): 100 * spearmanr(g["prob"], g["video"].map(scores)).statistic
               for label, p in preds.items() for task, g in p[p["pred"].notna()].groupby("task")}
        numeric["spearman_x100"] = [rho.get(k, np.nan) for k in zip(numeric["setting"], numeric["task"],
                                                                    strict=True)]
    if ceiling is not None:
        numeric["oracle_mcc"] = numeric["task"].map(ceiling.set_index("task")["oracle_mcc"])
        numeric["of_ceiling"] = numeric["mcc"] / numeric["oracle_mcc"]  # the fraction of what SynPD allows
    notes = pd.DataFrame([{"setting": r.label, "note": r.note} for r in results.values() if not r.predictions],
                         columns=["setting", "note"])
    numeric = pd.concat([numeric.assign(note=""), notes], ignore_index=True) if len(notes) else numeric.assign(note="")
    return numeric.astype({c: "Int64" for c in ("patients", "n", "left_out", "folds") if c in numeric})


def _videos(g: pd.DataFrame) -> pd.Series:
    """"12" or "12 (+3 left out)": the videos with a prediction and those without."""
    return pd.Series([f"{n}" + (f" (+{k} left out)" if k else "") for n, k in zip(g["n"], g["left_out"], strict=True)],
                     index=g.index)


def _task_cells(g: pd.DataFrame) -> dict[str, pd.Series]:
    """The printed cells of Tables III and V's rows (a setting's rows of `task_numbers`, indexed by task),
    keyed by their row labels: the pooled estimator, then the fold mean ± std."""
    def pairs(fmt, a, b):
        return pd.Series([fmt(x, y) for x, y in zip(g[a], g[b], strict=True)], index=g.index)

    cells = {"n": _videos(g), "acc (%)": g["acc_pct"].map("{:.1f}".format),
             "precision": g["precision"].map("{:.2f}".format), "recall": g["recall"].map("{:.2f}".format),
             "MCC": g["mcc"].map("{:.2f}".format), "MCC 95% CI": pairs(format_ci, "ci_lo", "ci_hi"),
             "MCC p-value": g["p_value"].map(format_p),
             "MCC fold mean±sd": pairs(format_pm, "mcc_fold_mean", "mcc_fold_std")}
    if "of_ceiling" in g:
        cells["MCC / oracle MCC"] = g["of_ceiling"].map("{:.2f}".format)
    if "spearman_x100" in g:
        cells["Spearman ×100"] = g["spearman_x100"].map("{:.1f}".format)
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


def table_v(numbers: pd.DataFrame) -> pd.DataFrame:
    """Table V pivoted to fit a page: a row per task and an `average` row; the videos (`n`, or `<setting> n`
    per setting when the settings saw different videos); per setting that ran, its pooled MCC with the 95%
    CI of that same MCC (`<setting> MCC [95% CI]`); SynPD's oracle MCC when `numbers` has it. The average
    row: mean ± sd over the tasks of the pooled MCCs (of the oracle MCCs). Accuracy, precision, recall,
    p-values and fold means: `table_iii(numbers)` (Table V's details)."""
    ran = numbers[numbers["task"].notna()]
    tasks = list(dict.fromkeys(ran["task"]))
    table = pd.DataFrame(index=pd.Index([*tasks, "average"], name="task"))
    videos = {setting: _videos(g.set_index("task")) for setting, g in ran.groupby("setting", sort=False)}
    one_n = all(v.sort_index().equals(next(iter(videos.values())).sort_index()) for v in videos.values())
    if one_n and videos:  # every setting saw the same videos: one n column
        table["n"] = next(iter(videos.values())).reindex(table.index).fillna("-")
    for setting, g in ran.groupby("setting", sort=False):
        g = g.set_index("task")
        cell = pd.Series([f"{m:.2f} {format_ci(lo, hi)}" for m, lo, hi in zip(g["mcc"], g["ci_lo"], g["ci_hi"],
                                                                                strict=True)], index=g.index)
        std = g["mcc"].std(ddof=1) if len(g) > 1 else np.nan
        if not one_n:
            table[f"{setting} n"] = videos[setting].reindex(table.index).fillna("-")
        table[f"{setting} MCC [95% CI]"] = cell.reindex(table.index).fillna("-")
        table.loc["average", f"{setting} MCC [95% CI]"] = format_pm(g["mcc"].mean(), std)
        if "spearman_x100" in g:  # PECoP's metric beside the MCC (PD4T)
            table[f"{setting} Spearman ×100"] = g["spearman_x100"].map("{:.1f}".format).reindex(table.index)
            table.loc["average", f"{setting} Spearman ×100"] = f"{g['spearman_x100'].mean():.1f}"
    if "oracle_mcc" in ran:
        oracle = ran.drop_duplicates("task").set_index("task")["oracle_mcc"]
        table["SynPD oracle MCC"] = oracle.map("{:.2f}".format).reindex(table.index)
        table.loc["average", "SynPD oracle MCC"] = format_pm(oracle.mean(), oracle.std(ddof=1))
    return table.fillna("-").reset_index()


def task_caption(title: str, numbers: pd.DataFrame, n_boot: int, n_resamples: int, pivoted: bool = False,
                 details: str = "", **_) -> str:
    """The caption of Table III or V (`pivoted`: `table_v`'s layout; `details`: the table holding the rest):
    `title`, the videos and patients compared, the estimator of every number, and each setting that could
    not run, once."""
    ran = numbers[numbers["task"].notna()]
    counts = ran.drop_duplicates("task").set_index("task")
    same = ran.groupby("task")[["n", "patients"]].nunique().eq(1).all(axis=None)
    if counts[["n", "patients"]].drop_duplicates().shape[0] == 1 and same:
        first = counts.iloc[0]
        compared = f"every setting on the same {first['n']} videos of {first['patients']} patients per task"
    else:
        compared = "videos (patients) per task: " + ", ".join(f"{t} {r.n} ({r.patients})" for t, r in counts.iterrows())
        compared += "" if same else "; n per setting in the table"
    folds = int(ran["folds"].max()) if len(ran) else 0
    protocol = (f"{folds}-fold patient-level cross-validation" if "spearman_x100" not in ran else
                "PD4T's official split (trained on train.csv's videos, tested on test.csv's; a patient here is a "
                "person on one side of the split)")
    estimator = (f"Binary task classes (0: item score 0-1, 1: 2-4), {protocol}, "
                 f"{compared}. MCC: of the out-of-fold predictions of all folds pooled; 95% CI: percentile "
                 f"bootstrap of that same pooled MCC over patients ({n_boot} resamples)")
    if "spearman_x100" in ran:
        estimator += ("; Spearman ×100: Spearman's rank correlation of P(severe) with the item score (0-4), "
                      "times 100 (PECoP's metric on PD4T)")
    if pivoted:
        text = (f"{title}. Each cell: pooled MCC [95% CI]. {estimator}. average: mean ± sd over the tasks of the "
                f"pooled MCCs.")
        if "oracle_mcc" in ran:
            text += (" SynPD oracle MCC: what an oracle knowing the true severity reaches against the noisy rated "
                     "labels (tables/synpd_ceiling).")
        if details:
            text += f" Accuracy, precision, recall, p-values and fold means: {details}."
    else:
        text = (f"{title}. {estimator}; p-value: one-sided permutation test of it ({n_resamples} permutations). "
                f"acc (%), precision and recall: pooled the same way. MCC fold mean±sd: the MCC computed within "
                f"each fold, mean and sd over the folds (the study's m±s; not the number the CI is of). "
                f"n: videos with a prediction.")
        if "of_ceiling" in ran:
            text += " MCC / oracle MCC: the pooled MCC as a fraction of SynPD's ceiling (tables/synpd_ceiling)."
    notes = numbers[numbers["task"].isna()]
    return f"{text} {_not_run(notes)}".strip()


def calibration_numbers(results: dict) -> pd.DataFrame:
    """How far the out-of-fold probabilities can be taken at their word, per setting and task (the settings'
    `SettingResult`s): the videos, the Brier score and the expected calibration error over 10 bins
    (`metrics.expected_calibration_error`; 0 = what the models say is what happens)."""
    rows = [{"setting": r.label, "task": task, "videos": int(preds["pred"].notna().sum()), "brier": brier(preds),
             "ece": expected_calibration_error(preds)}
            for r in results.values() for task, preds in r.predictions.items()]
    return pd.DataFrame(rows, columns=["setting", "task", "videos", "brier", "ece"])


# ---- Tables VII-IX: examination level ----

# Row labels of Tables VIII and IX.
METHOD_LABELS: dict[str, str] = {
    "single_task": "single task baseline",
    "vector_averaging": "vector averaging",
    "vector_weighting": "vector weighting",
    "channel_attention": "channel-wise attention weighting",
    "pixel_attention": "pixel-wise attention weighting",
}
# The tidy numbers of Tables VII-IX: accuracy in percent as in every table, MCC; mean and std over repeats.
EXAM_NUMERIC: list[str] = ["exams", "acc_pct_mean", "acc_pct_std", "mcc_mean", "mcc_std"]


def exam_numbers(results: pd.DataFrame) -> pd.DataFrame:
    """`exam_level`'s results (accuracy as a fraction) with accuracy in percent, like every table's."""
    out = results.assign(acc_mean=100 * results["acc_mean"], acc_std=100 * results["acc_std"])
    return out.rename(columns={"acc_mean": "acc_pct_mean", "acc_std": "acc_pct_std"})


def _acc_mcc(df: pd.DataFrame) -> dict[str, list[str]]:
    """Accuracy (%) as "60.3±2.8" and MCC as "0.30±0.05", the study's format, from exam_numbers' columns."""
    return {"Accuracy (%)": [format_pm(m, s, 1) for m, s in zip(df["acc_pct_mean"], df["acc_pct_std"], strict=True)],
            "MCC": [format_pm(m, s) for m, s in zip(df["mcc_mean"], df["mcc_std"], strict=True)]}


def _exam_estimator(repeats: int) -> str:
    return (f"Accuracy (%) and MCC of the out-of-fold predictions pooled over the folds, mean ± sd (ddof 0) over "
            f"{repeats} repeats of the heads' training (the sd is the spread over training seeds, not a confidence "
            f"interval over patients)")


def table_vii_numbers(results: pd.DataFrame) -> pd.DataFrame:
    """Table VII's numbers: task, input, exams, accuracy (%) and MCC over the repeats, and the task's rank (by
    its MCC averaged over its inputs)."""
    return exam_numbers(results).assign(rank=task_rank(results))


def table_vii(numbers: pd.DataFrame) -> pd.DataFrame:
    """Table VII as printed: Task, Input, Exams (those with a usable video of the task), Accuracy (%), MCC,
    Rank (the numbers are `numbers`, the CSV)."""
    return pd.DataFrame({"Task": numbers["task"], "Input": numbers["input"], "Exams": numbers["exams"],
                         **_acc_mcc(numbers), "Rank": numbers["rank"]})


def table_vii_caption(numbers: pd.DataFrame, exams: pd.DataFrame, repeats: int, classes: Sequence[str]) -> str:
    """Table VII's caption: what was compared on how many examinations and patients, and the estimator."""
    return (f"Table VII: single task baseline, examination-level severity ({len(classes)} classes: "
            f"{', '.join(classes)}). Each task alone, on the examinations with a usable video of it (Exams) of the "
            f"{len(exams)} examinations of {exams['patient'].nunique()} patients. {_exam_estimator(repeats)}. "
            f"Rank: by the task's MCC averaged over both inputs.")


def table_viii_numbers(results: pd.DataFrame, exams: pd.DataFrame | None = None,
                       predictions: dict | None = None) -> pd.DataFrame:
    """Tables VIII and IX's numbers (method, input, tasks, exams, patients, accuracy (%) and MCC over the
    repeats) from `assembling_results`; `patients` (those of the examinations each method predicted) when
    `exams` (exam, patient) and each method's out-of-fold `predictions` (frames or `head_predictions` CSVs)
    are given."""
    out = exam_numbers(results)
    if exams is not None and predictions is not None:
        patient = exams.assign(exam=exams["exam"].astype(str)).set_index("exam")["patient"]
        frames = {m: p if isinstance(p, pd.DataFrame) else pd.read_csv(p, dtype={"exam": str})
                  for m, p in predictions.items()}
        counts = {m: patient.reindex(f["exam"].astype(str).unique()).nunique() for m, f in frames.items()}
        out.insert(out.columns.get_loc("exams") + 1, "patients", out["method"].map(counts).astype("Int64"))
    return out


def table_viii(numbers: pd.DataFrame) -> pd.DataFrame:
    """Tables VIII and IX as printed: Method, Input, Tasks, Exams (and Patients), Accuracy (%), MCC, from
    `table_viii_numbers`."""
    counts = {"Exams": numbers["exams"]} | ({"Patients": numbers["patients"]} if "patients" in numbers else {})
    return pd.DataFrame({"Method": numbers["method"].map(METHOD_LABELS), "Input": numbers["input"],
                         "Tasks": numbers["tasks"], **counts, **_acc_mcc(numbers)})


def table_viii_caption(title: str, numbers: pd.DataFrame, repeats: int) -> str:
    """Tables VIII and IX's caption: `title`, on how many examinations (patients) the baseline and the
    assembling methods were compared, and the estimator."""
    def on(row) -> str:
        return f"{row['exams']} examinations" + (f" of {row['patients']} patients" if "patients" in row else "")

    base = numbers[numbers["method"] == "single_task"]
    rest = numbers[numbers["method"] != "single_task"]
    parts = []
    if len(base):
        b = base.iloc[0]
        parts.append(f"the single task baseline ({b['tasks']}, {b['input']}) on the {on(b)} with a usable "
                     f"{b['tasks']} video")
    if len(rest):
        counts = rest.drop_duplicates(["exams"] + (["patients"] if "patients" in rest else []))
        parts.append("the assembling methods (all tasks) on " + " / ".join(on(r) for _, r in counts.iterrows())
                     + " with a usable video of any task")
    return f"{title}. Compared: {'; '.join(parts)}. {_exam_estimator(repeats)}."
