"""Descriptive tables and measurements of an examination-video dataset: Table IV (class counts per task),
Table VI (clinical information per examination class) and the durations and scores of Fig. 4."""

from collections.abc import Collection
from pathlib import Path

import av
import numpy as np
import pandas as pd

from pdlib.folds import CLASS_NAMES, exam_classes
from pdlib.tasks import TASKS, task_label

# Table VI's conditions, in its column order; other conditions of a user's dataset follow them.
STUDY_CONDITIONS: tuple[str, ...] = ("L-OFF", "L-ON", "A", "B", "C")
# Table IV: the study's share of class 1 (scores 2-4) per task, in percent.
STUDY_CLASS1_PCT: dict[str, float] = {"finger": 58.0, "hand": 44.4, "pronation": 40.9, "toe": 44.9,
                                      "leg": 21.2, "postural": 27.1, "kinetic": 22.6}


def video_durations(root: str | Path, videos: pd.DataFrame) -> pd.Series:
    """Duration in seconds of every video (Fig. 4a), read from the container with PyAV; index = video.

    Pass the usable videos (`check_dataset`'s report lists the others with their reason): an unreadable
    file raises ValueError naming it and its row.
    """
    root = Path(root)
    out = {}
    for rel in videos["video"]:
        path = root / rel
        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                if stream.duration is not None:
                    out[rel] = float(stream.duration * stream.time_base)
                elif container.duration is not None:
                    out[rel] = container.duration / av.time_base
                else:
                    out[rel] = float(stream.frames / stream.average_rate)
        except (av.FFmpegError, IndexError, OSError) as err:
            raise ValueError(f"video_durations: cannot read the duration of {path} "
                             f"(videos.csv row video={rel!r}): {err}; pdlib check lists unusable videos") from err
    return pd.Series(out, name="seconds").rename_axis("video")


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


def _mean_sd(x: pd.Series) -> str:
    return f"{x.mean():.0f}±{x.std():.0f}" if len(x) > 1 else (f"{x.mean():.0f}" if len(x) else "")


def clinical_table(exams: pd.DataFrame, videos: pd.DataFrame, scheme: str = "cutoffs") -> pd.DataFrame:
    """Table VI: per examination class (folds.exam_classes on `total`) and in total: score mean±sd,
    patients, age, disease duration, male/female, and video fragments in all and per condition."""
    for col in ("exam", "patient", "condition", "total"):
        if col not in exams.columns:
            raise KeyError(f"clinical_table: exams has no column {col!r} (columns: {list(exams.columns)})")
    exams = exams.assign(cls=exam_classes(exams["total"].reset_index(drop=True), scheme=scheme).to_numpy())
    n_videos = videos.groupby("exam").size()
    exams["videos"] = exams["exam"].map(n_videos).fillna(0).astype(int)
    conditions = [c for c in STUDY_CONDITIONS if c in set(exams["condition"])]
    conditions += sorted(set(exams["condition"]) - set(conditions))
    rows = []
    groups = [(CLASS_NAMES[c], exams[exams["cls"] == c]) for c in range(3)] + [("total", exams)]
    for name, part in groups:
        patients = part.drop_duplicates("patient")
        row = {"class": name, "score": _mean_sd(part["total"]), "patients": len(patients)}
        for col, label in (("age", "age"), ("disease_duration", "disease_duration")):
            if col in part.columns:
                row[label] = _mean_sd(patients[col])
        if "sex" in part.columns:
            sex = patients["sex"].astype(str).str.upper()
            row["male/female"] = f"{(sex == 'M').sum()}/{(sex == 'F').sum()}"
        row["videos_all"] = int(part["videos"].sum())
        for c in conditions:
            row[f"videos_{c}"] = int(part.loc[part["condition"] == c, "videos"].sum())
        rows.append(row)
    return pd.DataFrame(rows)


def score_distribution(videos: pd.DataFrame) -> pd.Series:
    """Fig. 4b: number of videos per item score 0..4 over the seven tasks."""
    scores = videos.loc[videos["task"].isin(TASKS), "score"].astype(int)
    counts = np.bincount(scores, minlength=5)[:5]
    return pd.Series(counts, index=pd.Index(range(5), name="score"), name="videos")
