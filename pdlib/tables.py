"""Tables II-IX of the study (and the dataset's Table IV, Table VI, Fig. 4 numbers), the counterpart of
`pdlib.plots`: each table is built here from the experiments' numbers, as a tidy numeric frame (one value
per cell, mean and std in their own columns: what `save_table` writes as CSV) and its formatted version
(what the study prints: the Markdown and LaTeX)."""

from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

from pdlib.folds import CLASS_NAMES, exam_classes
from pdlib.formats import format_ci as format_ci
from pdlib.formats import format_p as format_p
from pdlib.formats import format_pm
from pdlib.metrics import task_rank
from pdlib.task_tables import TASK_NUMERIC as TASK_NUMERIC  # Tables III and V: `tables` is every table's door
from pdlib.task_tables import agreement_caption as agreement_caption
from pdlib.task_tables import by_label as by_label
from pdlib.task_tables import calibration_numbers as calibration_numbers
from pdlib.task_tables import table_iii as table_iii
from pdlib.task_tables import table_v as table_v
from pdlib.task_tables import table_v_agreement as table_v_agreement
from pdlib.task_tables import task_caption as task_caption
from pdlib.task_tables import task_numbers as task_numbers
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
