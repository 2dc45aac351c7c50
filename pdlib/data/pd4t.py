"""PD4T (PECoP's dataset, WACV 2024) read as a dataset folder: `Annotations/<Task>/{train,test}.csv` and
`Videos/<Task>/...`, with its official train/test split (docs/DATASET.md "PD4T").

The annotation rows are `video_id,frames,score` (PD4T's files have no header; one naming the columns is
accepted). A video id such as `15-001139_l_017` (visit, side, patient) is matched to the file under
Videos/<Task> whose path parts split at '/' and '_' are the same set of tokens (`l/15-001139_017.mp4` or
`15-001139_l_017.mp4`). The result has the manifest's shape (`load_manifest`), plus `split` (train/test)
and `person` (the patient token): PD4T's official split is by video, so a person may have videos on both
sides; the suite follows the split (to compare with PECoP) and says how many people straddle it. To keep the
engine's patient-level guards meaningful within each side, `patient` is the person and the side
(`017@test`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

PD4T_TASKS = {"finger": "Finger tapping", "hand": "Hand movement", "leg": "Leg agility", "gait": "Gait"}
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
SIDE_TOKENS = ("l", "r")  # PD4T's side token in a video id


def is_pd4t(root: str | Path) -> bool:
    """A folder in PD4T's layout: Annotations/ and Videos/, and no videos.csv."""
    root = Path(root)
    return (root / "Annotations").is_dir() and (root / "Videos").is_dir() and not (root / "videos.csv").exists()


def pd4t_rows(csv: Path) -> pd.DataFrame:
    """PD4T annotation rows (video_id, score): headerless `video_id,frames,score` (the official files) or with
    a header naming video/video_id, frames and score. Raises ValueError naming the file, row and column."""
    try:
        df = pd.read_csv(csv, header=None, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:  # an empty split: no videos
        df = pd.DataFrame(columns=[0, 1, 2], dtype=str)
    header = bool(len(df)) and not re.fullmatch(r"\d+(\.0)?", df.iloc[0, -1].strip())
    df = df.iloc[1:] if header else df
    if df.shape[1] < 3:
        raise ValueError(f"{csv}: expected rows 'video_id,frames,score', found {df.shape[1]} columns")
    rows = pd.DataFrame({"video_id": df.iloc[:, 0].str.strip(), "score": df.iloc[:, -1].str.strip()})
    bad = ~rows["score"].str.fullmatch(r"[0-4](\.0)?")
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{csv}, row {rows.index[i] + 1}, column 3 (score): expected an integer 0..4, "
                         f"found {rows['score'].iloc[i]!r}")
    out = rows.assign(score=rows["score"].astype(float).astype(np.int64)).reset_index(drop=True)
    out.attrs["header"] = header
    return out


def pd4t_tables(root: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str]]:
    """(videos, exams, errors, warnings) of a PD4T folder as string frames in the manifest's columns (video,
    patient, exam, task, side, score; exam, patient, condition, total) plus videos' `split`, `person`, `visit`
    and `video_id`.
    An annotated video without a file keeps the path it would have (Videos/<Task>/<id>.mp4): `pdlib check`
    and decoding report it as missing, nothing is dropped silently."""
    root = Path(root)
    errors, warns, parts = [], [], []
    folders = sorted(p.name for p in (root / "Annotations").iterdir() if p.is_dir())
    if not folders:
        errors.append(f"{root / 'Annotations'}: no task folder (PD4T's: {', '.join(PD4T_TASKS.values())})")
    for folder in folders:
        task = next((k for k, v in PD4T_TASKS.items() if v == folder), None)
        if task is None:
            errors.append(f"{root / 'Annotations' / folder}: not a PD4T task folder (expected one of "
                          f"{', '.join(PD4T_TASKS.values())})")
            continue
        vids = root / "Videos" / folder
        by_tokens = {frozenset(re.split(r"[/_]", p.relative_to(vids).with_suffix("").as_posix())): p
                     for p in vids.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS} if vids.is_dir() else {}
        for split in ("train", "test"):
            csv = root / "Annotations" / folder / f"{split}.csv"
            if not csv.is_file():
                errors.append(f"{csv}: missing (PD4T has train.csv and test.csv per task)")
                continue
            try:
                rows = pd4t_rows(csv)
            except ValueError as err:
                errors.append(str(err))
                continue
            first = 2 if rows.attrs["header"] else 1  # the file line of the first data row
            tokens = rows["video_id"].str.split("_")
            paths = [by_tokens.get(frozenset(t), vids / f"{v}.mp4") for t, v in zip(tokens, rows["video_id"],
                                                                                   strict=True)]
            parts.append(pd.DataFrame({
                "video": [p.relative_to(root).as_posix() for p in paths], "person": [t[-1] for t in tokens],
                "visit": [t[0] for t in tokens], "task": task,
                "side": [next((x.upper() for x in t[1:-1] if x in SIDE_TOKENS), "") for t in tokens],
                "score": rows["score"].astype(str), "split": split, "video_id": rows["video_id"],
                "where": [f"{csv.relative_to(root).as_posix()} row {i + first}" for i in range(len(rows))]}))
    videos = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["video", "person", "visit", "task", "side", "score", "split", "video_id", "where"])
    videos["patient"] = videos["person"] + "@" + videos["split"]
    videos["exam"] = videos["visit"] + "_" + videos["patient"]
    straddle = sorted(set(videos.loc[videos["split"] == "train", "person"])
                      & set(videos.loc[videos["split"] == "test", "person"]))
    if straddle:
        warns.append(f"PD4T's official split is by video: {len(straddle)} of {videos['person'].nunique()} people "
                     f"have videos on both sides ({', '.join(straddle[:5])}{' ...' if len(straddle) > 5 else ''}); "
                     "results on it are not patient-level")
    exams = videos.drop_duplicates("exam")[["exam", "patient"]].assign(condition="", total="")
    return videos, exams.reset_index(drop=True), errors, warns


def split_folds(videos: pd.DataFrame) -> pd.Series:
    """The official split as folds per patient: test patients fold 0 (held out, scored), train patients fold -1
    (never held out: always on the training side)."""
    split = videos.drop_duplicates("patient").set_index("patient")["split"]
    return pd.Series(np.where(split == "test", 0, -1), index=split.index.astype(str), name="fold").rename_axis(
        "patient")
