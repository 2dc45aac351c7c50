"""Tables II-IX of the study (and the dataset's Table IV, Table VI, Fig. 4 numbers), the counterpart of
`pdlib.plots`: each table is built here from the experiments' numbers, as a tidy numeric frame (one value
per cell, mean and std in their own columns: what `save_table` writes as CSV) and its formatted version
(what the study prints: the Markdown and LaTeX)."""

from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

from pdlib.folds import CLASS_NAMES, exam_classes
from pdlib.metrics import brier, expected_calibration_error, task_metrics, task_rank
from pdlib.tasks import SETTINGS, TASKS, task_label

# Table VI's conditions, in its column order; other conditions of a user's dataset follow them.
STUDY_CONDITIONS: tuple[str, ...] = ("L-OFF", "L-ON", "A", "B", "C")
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
    """Table VI as the study prints it (mean±sd, male/female) from `clinical_numbers`."""
    out = numbers[["class"]].copy()
    for col in ("score", "patients", "age", "disease_duration", "male/female"):
        if col == "patients":
            out[col] = numbers[col]
        elif col == "male/female" and "male" in numbers:
            out[col] = [f"{m}/{f}" for m, f in zip(numbers["male"], numbers["female"], strict=True)]
        elif f"{col}_mean" in numbers:
            out[col] = [format_pm(m, s, 0) for m, s in zip(numbers[f"{col}_mean"], numbers[f"{col}_sd"], strict=True)]
    return pd.concat([out, numbers.filter(like="videos_")], axis=1)


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


def _formatted(g: pd.DataFrame) -> dict[str, pd.Series]:
    """Formatted cells of task_metrics rows (indexed by task), keyed by Table V's headers."""
    def pairs(fmt, a, b):
        return pd.Series([fmt(x, y) for x, y in zip(g[a], g[b], strict=True)], index=g.index)

    return {
        "n": pd.Series([f"{n}" + (f" (+{k} left out)" if k else "") for n, k in zip(g["n"], g["left_out"],
                                                                                    strict=True)], index=g.index),
        "acc": g["acc"].map("{:.1f}".format),
        "precision": g["precision"].map("{:.2f}".format),
        "recall": g["recall"].map("{:.2f}".format),
        "MCC": pairs(format_pm, "mcc", "mcc_std"),
        "95% CI": pairs(format_ci, "ci_lo", "ci_hi"),
        "p-value": g["p_value"].map(format_p),
    }


def format_task_table(numeric: pd.DataFrame) -> pd.DataFrame:
    """Table V from task_metrics' frame: a row per task, columns (setting, metric), and an `average`
    row holding the mean ± std over tasks of the task MCCs."""
    blocks = {}
    for setting, g in numeric.groupby("setting", sort=False):
        g = g.set_index("task")
        cells = pd.DataFrame(_formatted(g), index=g.index)
        std = g["mcc"].std(ddof=1) if len(g) > 1 else 0.0
        cells.loc["average"] = ["-", "-", "-", "-", format_pm(g["mcc"].mean(), std), "-", "-"]
        blocks[setting] = cells
    table = pd.concat(blocks, axis=1)
    table.index.name = "task"
    return table


# ---- Table II: pretraining ----

def table_ii_numbers(results: pd.DataFrame) -> pd.DataFrame:
    """Table II's numbers: top-1 (%) mean and std (ddof 1; 0 for one split) over the splits per method and
    dataset, tidy."""
    g = results.groupby(["dataset", "method"], sort=False)["top1"]
    out = g.agg(top1_mean="mean", top1_std=lambda v: v.std(ddof=1) if len(v) > 1 else 0.0, splits="count")
    return out.reset_index()


def table_ii(results: pd.DataFrame, datasets: Sequence[str] = ("SynAct", "UCF-101", "HMDB-51")) -> pd.DataFrame:
    """Table II: top-1 accuracy (%) per method and dataset, mean ± std over the splits; a dataset of the study
    that was not run holds a note."""
    numbers = table_ii_numbers(results)
    numbers["cell"] = [format_pm(m, s, 1, " ± ") for m, s in zip(numbers["top1_mean"], numbers["top1_std"],
                                                                   strict=True)]
    table = numbers.pivot(index="method", columns="dataset", values="cell")
    table = table.loc[list(dict.fromkeys(numbers["method"])), list(dict.fromkeys(numbers["dataset"]))]
    table = table.reset_index().rename(columns={"method": "Method (scratch)"}).rename_axis(columns=None)
    for missing in datasets:
        if missing not in table.columns:
            table[missing] = "not run: no folder named in params"
    return table


# ---- Tables III and V: task level ----

def by_label(results: dict) -> dict[str, pd.DataFrame]:
    """The out-of-fold predictions of every setting that ran (`task_level.SettingResult`s: label, predictions
    per task, note), all tasks together, keyed by table label."""
    return {r.label: pd.concat(r.predictions.values(), ignore_index=True) for r in results.values() if r.predictions}


def task_numbers(results: dict, ceiling: pd.DataFrame | None = None, **kw) -> pd.DataFrame:
    """Tables III and V's numbers, tidy: a row per (setting, task) with `summarize`'s columns (`kw`: n_boot,
    n_resamples, seed), SynPD's `oracle_mcc` per task and each MCC as a fraction of it (`of_ceiling`) when
    `ceiling` is given, and a row with the `note` of each setting that could not run."""
    numeric = task_metrics(by_label(results), **kw)
    if ceiling is not None:
        numeric["oracle_mcc"] = numeric["task"].map(ceiling.set_index("task")["oracle_mcc"])
        numeric["of_ceiling"] = numeric["mcc"] / numeric["oracle_mcc"]  # the fraction of what SynPD allows
    notes = pd.DataFrame([{"setting": r.label, "note": r.note} for r in results.values() if not r.predictions],
                         columns=["setting", "note"])
    numeric = pd.concat([numeric.assign(note=""), notes], ignore_index=True) if len(notes) else numeric.assign(note="")
    return numeric.astype({"n": "Int64", "left_out": "Int64"})


def table_iii(numbers: pd.DataFrame) -> pd.DataFrame:
    """Table III (long format: Method, Metric, one column per task) from `task_numbers`; a setting that could
    not run as a `note` row."""
    ran = numbers[numbers["task"].notna()]
    rows = []
    for setting, g in ran.groupby("setting", sort=False):
        cells = _formatted(g.set_index("task"))
        for metric, header in (("n", "n"), ("acc", "acc"), ("precision", "precision"), ("recall", "recall"),
                               ("MCC", "MCC"), ("95% CI", "CI 95%"), ("p-value", "p-value")):
            rows.append({"Method": setting, "Metric": header, **cells[metric].to_dict()})
    tasks = list(dict.fromkeys(ran["task"]))
    rows += [{"Method": r.setting, "Metric": "note", **{t: r.note for t in tasks}}
             for r in numbers[numbers["task"].isna()].itertuples()]
    return pd.DataFrame(rows)


def table_v(numbers: pd.DataFrame) -> pd.DataFrame:
    """Table V (one column block per setting, an `average` row) from `task_numbers`; a setting that could not
    run gets a block whose cells hold the note; SynPD's oracle MCC per task in its own column, and each
    setting's MCC as a fraction of it."""
    ran = numbers[numbers["task"].notna()]
    table = format_task_table(ran)
    for r in numbers[numbers["task"].isna()].itertuples():
        table[(r.setting, "note")] = r.note
    if "oracle_mcc" in numbers:
        for setting, g in ran.groupby("setting", sort=False):  # MCC / oracle MCC after each setting's MCC
            fraction = g.set_index("task")["of_ceiling"]
            fraction.loc["average"] = fraction.mean()
            table.insert(table.columns.get_loc((setting, "MCC")) + 1, (setting, "MCC / oracle"),
                         table.index.map(fraction.map("{:.2f}".format).to_dict()))
        oracle = ran.drop_duplicates("task").set_index("task")["oracle_mcc"].round(2)
        table[("SynPD", "oracle MCC")] = table.index.map(oracle.to_dict()).fillna("-")
    table = table.reset_index()
    table.columns = [" ".join(c).strip() if isinstance(c, tuple) else c for c in table.columns]
    return table


def calibration_numbers(results: dict) -> pd.DataFrame:
    """How far the out-of-fold probabilities can be taken at their word, per setting and task (the settings'
    `SettingResult`s): the videos, the Brier score and the expected calibration error over 10 bins
    (`metrics.expected_calibration_error`; 0 = what the models say is what happens)."""
    rows = [{"setting": r.label, "task": task, "videos": int(preds["pred"].notna().sum()), "brier": brier(preds),
             "ece": expected_calibration_error(preds)}
            for r in results.values() for task, preds in r.predictions.items()]
    return pd.DataFrame(rows, columns=["setting", "task", "videos", "brier", "ece"])


def best_settings(numbers: pd.DataFrame) -> dict[str, str]:
    """Per task, the deep setting with the highest mean MCC (the bold numbers of Table V, used by Fig. 6);
    the probe row is the yardstick, not a candidate."""
    ran = numbers[numbers["task"].notna() & (numbers["setting"] != SETTINGS["probe"][0])]
    return ran.loc[ran.groupby("task", sort=False)["mcc"].idxmax()].set_index("task")["setting"].to_dict()


# ---- Tables VII-IX: examination level ----

# Row labels of Tables VIII and IX.
METHOD_LABELS: dict[str, str] = {
    "single_task": "single task baseline",
    "vector_averaging": "vector averaging",
    "vector_weighting": "vector weighting",
    "channel_attention": "channel-wise attention weighting",
    "pixel_attention": "pixel-wise attention weighting",
}
EXAM_NUMERIC: list[str] = ["exams", "acc_mean", "acc_std", "mcc_mean", "mcc_std"]


def _acc_mcc(df: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Accuracy as "60.3±2.8" (percent) and MCC as "0.30±0.05", the study's format."""
    acc = [format_pm(100 * m, 100 * s, 1) for m, s in zip(df["acc_mean"], df["acc_std"], strict=True)]
    mcc = [format_pm(m, s) for m, s in zip(df["mcc_mean"], df["mcc_std"], strict=True)]
    return acc, mcc


def table_vii_numbers(results: pd.DataFrame) -> pd.DataFrame:
    """Table VII's numbers: task, input, the repeats' accuracy and MCC, and the task's rank (by its MCC
    averaged over its inputs)."""
    return results.assign(rank=task_rank(results))


def table_vii(numbers: pd.DataFrame) -> pd.DataFrame:
    """Table VII: Task, Input, Accuracy, MCC, Rank, and the numbers."""
    acc, mcc = _acc_mcc(numbers)
    out = pd.DataFrame({"Task": numbers["task"], "Input": numbers["input"], "Accuracy": acc, "MCC": mcc,
                        "Rank": numbers["rank"]})
    return pd.concat([out, numbers[EXAM_NUMERIC]], axis=1)


def table_viii(results: pd.DataFrame) -> pd.DataFrame:
    """Tables VIII and IX: Method, Input, Tasks, Accuracy, MCC and the numbers, from `assembling_results`."""
    acc, mcc = _acc_mcc(results)
    labels = pd.DataFrame({"Method": results["method"].map(METHOD_LABELS), "Input": results["input"],
                           "Tasks": results["tasks"], "Accuracy": acc, "MCC": mcc})
    return pd.concat([labels, results[EXAM_NUMERIC]], axis=1)
