"""Reading and validating a dataset folder (docs/DATASET.md "Dataset format"): videos.csv, exams.csv, the videos.

Faults are named by file, row and column. Rows are numbered as a spreadsheet shows them: the header is
row 1, the first data row is row 2.
"""

import difflib
import os
import posixpath
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from pdlib.data.pd4t import is_pd4t, pd4t_tables
from pdlib.landmarks import is_landmark_file
from pdlib.messages import count, plural
from pdlib.tasks import TASKS, task_label

VIDEO_COLUMNS = ("video", "patient", "exam", "task", "side", "score")
EXAM_COLUMNS = ("exam", "patient", "condition", "total")
# crop: "x0 y0 x1 y1" in pixels of the upright picture (read_clip's box); width, height: the frame size in pixels
# (a landmark file's coordinates as fractions of it); mirrored: yes when the picture is mirrored (a selfie view)
OPTIONAL_VIDEO_COLUMNS = ("crop", "width", "height", "mirrored")
YES, NO = ("yes", "y", "true", "1"), ("no", "n", "false", "0", "")
OPTIONAL_EXAM_COLUMNS = ("age", "sex", "disease_duration")
SIDES = ("L", "R", "")
MAX_TOTAL = 132  # MDS-UPDRS-III: 33 item scores of 0..4


class DatasetError(Exception):
    """A malformed dataset; the message names the file, the row and the column of each fault."""


class DatasetWarning(UserWarning):
    """Something a dataset lacks that the suite works around (e.g. a missing total), said out loud."""


def _row(i: int) -> int:
    """Spreadsheet row of the 0-based data row i (the header is row 1)."""
    return i + 2


def _read_csv(path: Path, required: tuple[str, ...], optional: tuple[str, ...],
              errors: list[str]) -> pd.DataFrame | None:
    """The CSV as stripped strings, or None (with errors) when it is missing, unreadable or lacks columns."""
    if not path.is_file():
        errors.append(f"{path.name}: missing file (expected {path})")
        return None
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        errors.append(f"{path.name}: not a readable CSV ({e})")
        return None
    df.columns = [str(c).strip() for c in df.columns]
    df = df.apply(lambda col: col.str.strip())
    unknown = [c for c in df.columns if c not in required + optional]
    missing = [c for c in required if c not in df.columns]
    delimiter = next((d for d in (";", "\t", "|") if len(df.columns) == 1 and d in df.columns[0]), None)
    if missing and delimiter:  # one fault, not one per column
        errors.append(f"{path.name}, row 1 (header): expected comma-separated columns {', '.join(required)}; "
                      f"found one column {df.columns[0]!r}: the file looks {delimiter!r}-delimited, "
                      "save it with commas")
        return None
    if not missing and df.empty:
        errors.append(f"{path.name}: a header and no rows (expected one row per "
                      f"{'video' if 'video' in required else 'examination'})")
        return None
    for col in missing:
        close = difflib.get_close_matches(col, unknown, n=1, cutoff=0.6)
        hint = f"; found {close[0]!r}: misspelled? rename it to {col!r}" if close else ""
        errors.append(f"{path.name}, row 1 (header): expected column {col!r}, not found "
                      f"(columns: {list(df.columns)}){hint}")
    return None if missing else df


def _relative_path(video: str) -> str | None:
    """The normalised relative path, or None when it is absolute or leaves the folder."""
    v = video.replace("\\", "/")
    if v.startswith("/") or (len(v) > 1 and v[1] == ":"):
        return None
    norm = posixpath.normpath(v)
    return None if norm == ".." or norm.startswith("../") else norm


def _parse_crop(text: str) -> tuple[int, int, int, int] | None:
    parts = text.replace(",", " ").replace(";", " ").split()
    if len(parts) != 4 or not all(p.lstrip("-").isdigit() for p in parts):
        raise ValueError("expected four integers 'x0 y0 x1 y1'")
    x0, y0, x1, y1 = map(int, parts)
    if x1 <= x0 or y1 <= y0:
        raise ValueError("expected x1 > x0 and y1 > y0")
    return x0, y0, x1, y1


def _check_frame(r, row: int, f: str, errors: list[str]) -> None:
    """The optional width, height and mirrored cells of one videos.csv row."""
    width, height = getattr(r, "width", ""), getattr(r, "height", "")
    for col, text in (("width", width), ("height", height)):
        try:
            ok = text == "" or float(text) > 0
        except ValueError:
            ok = False
        if not ok:
            errors.append(f"{f}, row {row}, column {col!r}: expected the frame's {col} in pixels (a number > 0), "
                          f"found {text!r}")
    if (width == "") != (height == ""):
        errors.append(f"{f}, row {row}, columns 'width' and 'height': expected both or neither, found "
                      f"width {width!r} and height {height!r}")
    mirrored = getattr(r, "mirrored", "")
    if mirrored.lower() not in YES + NO:
        errors.append(f"{f}, row {row}, column 'mirrored': expected yes or no (or empty: no), found {mirrored!r}")


def _check_videos(df: pd.DataFrame, errors: list[str], warns: list[str], scored: bool = True) -> None:
    """Row faults of videos.csv (everything that needs no other file); `scored` False: a score may be empty.
    A file may be listed twice, once for side L and once for side R (one recording of both hands)."""
    f = "videos.csv"
    first_row: dict[tuple[str, str], int] = {}
    unknown_tasks: dict[str, list[int]] = {}
    for i, r in enumerate(df.itertuples(index=False)):
        row = _row(i)
        for col in ("video", "patient", "exam", "task"):
            if getattr(r, col) == "":
                errors.append(f"{f}, row {row}, column {col!r}: expected a value, found an empty cell")
        if r.video:
            rel = _relative_path(r.video)
            if rel is None:
                errors.append(f"{f}, row {row}, column 'video': expected a path inside the dataset folder, "
                              f"found {r.video!r} (absolute or leaving the folder with '..')")
            elif (rel, r.side) in first_row:
                side = f" for side {r.side}" if r.side else ""
                errors.append(f"{f}, row {row}, column 'video': duplicate video {r.video!r}{side} (first listed on "
                              f"row {first_row[rel, r.side]}; a recording of both sides is listed once for L, "
                              "once for R)")
            else:
                first_row[rel, r.side] = row
        if r.task and r.task not in TASKS:
            unknown_tasks.setdefault(r.task, []).append(row)
        if r.side not in SIDES:
            errors.append(f"{f}, row {row}, column 'side': expected L, R or empty, found {r.side!r}")
        if _score(r.score) is None and (scored or r.score != ""):
            errors.append(f"{f}, row {row}, column 'score': expected an integer 0..4, found {r.score!r}")
        _check_frame(r, row, f, errors)
        crop = getattr(r, "crop", "")
        if crop:
            try:
                _parse_crop(crop)
            except ValueError as e:
                errors.append(f"{f}, row {row}, column 'crop': {e}, found {crop!r}")
    for task, rows in unknown_tasks.items():
        shown = ", ".join(map(str, rows[:5])) + (", ..." if len(rows) > 5 else "")
        warns.append(f"{f}, {plural(len(rows), 'row')} {shown}, column 'task': unknown task {task!r} "
                     f"({count(len(rows), 'video')}; "
                     f"known: {', '.join(TASKS)}); ignored unless asked for")


def _score(text: str) -> int | None:
    """The item score 0..4, or None when the text is not such an integer ('3' and '3.0' are accepted)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() and 0 <= value <= 4 else None


def _check_exams(df: pd.DataFrame, has_total: bool, errors: list[str]) -> None:
    f = "exams.csv"
    seen: dict[str, tuple[int, str]] = {}
    for i, r in enumerate(df.itertuples(index=False)):
        row = _row(i)
        for col in ("exam", "patient"):
            if getattr(r, col) == "":
                errors.append(f"{f}, row {row}, column {col!r}: expected a value, found an empty cell")
        if r.exam in seen:
            first, patient = seen[r.exam]
            fault = (f"exam {r.exam!r} has two patients: {patient!r} (row {first}) and {r.patient!r}"
                     if patient != r.patient else f"duplicate exam {r.exam!r} (first listed on row {first})")
            errors.append(f"{f}, row {row}, column 'exam': {fault}")
        elif r.exam:
            seen[r.exam] = (row, r.patient)
        numeric = [("total", 0, MAX_TOTAL)] if has_total else []
        numeric += [(c, 0, np.inf) for c in ("age", "disease_duration") if c in df.columns]
        for col, lo, hi in numeric:
            text = getattr(r, col)
            if text == "":
                continue
            try:
                ok = lo <= float(text) <= hi
            except ValueError:
                ok = False
            if not ok:
                errors.append(f"{f}, row {row}, column {col!r}: expected a number in [{lo}, {hi}], "
                              f"found {text!r}")


def _cross_check(videos: pd.DataFrame, exams: pd.DataFrame, errors: list[str], warns: list[str]) -> None:
    """videos.csv against exams.csv: every exam listed, one patient per exam."""
    exam_patient = dict(zip(exams["exam"], exams["patient"], strict=True))
    for i, r in enumerate(videos.itertuples(index=False)):
        if not r.exam:
            continue
        if r.exam not in exam_patient:
            errors.append(f"videos.csv, row {_row(i)}, column 'exam': exam {r.exam!r} is not in exams.csv")
        elif exam_patient[r.exam] != r.patient:
            errors.append(f"videos.csv, row {_row(i)}, column 'patient': exam {r.exam!r} belongs to patient "
                          f"{exam_patient[r.exam]!r} in exams.csv, found {r.patient!r}")
    without = sorted(set(exams["exam"]) - set(videos["exam"]) - {""})
    if without:
        warns.append(f"exams.csv: {count(len(without), 'exam')} {plural(len(without), 'has')} no video: "
                     f"{', '.join(without[:10])}"
                     + (", ..." if len(without) > 10 else ""))


def _validate(root: Path, scored: bool = True) -> tuple[pd.DataFrame | None, pd.DataFrame | None, list[str],
                                                        list[str]]:
    """(videos, exams, errors, warnings); the frames are None when a file cannot be read at all."""
    errors: list[str] = []
    warns: list[str] = []
    if not root.is_dir():
        return None, None, [f"{root}: expected a dataset folder, found none"], warns
    if is_pd4t(root):  # PECoP's layout, read as a dataset (docs/DATASET.md "PD4T")
        videos, exams, errors, warns = pd4t_tables(root)
        return videos, exams, errors, warns
    videos = _read_csv(root / "videos.csv", VIDEO_COLUMNS, OPTIONAL_VIDEO_COLUMNS, errors)
    exams = _read_csv(root / "exams.csv", EXAM_COLUMNS[:3], EXAM_COLUMNS[3:] + OPTIONAL_EXAM_COLUMNS, errors)
    if videos is not None:
        _check_videos(videos, errors, warns, scored)
    if exams is not None:
        has_total = "total" in exams.columns
        _check_exams(exams, has_total, errors)
        if not has_total:
            warns.append("exams.csv, row 1 (header): no 'total' column; using the sum of each exam's "
                         "item scores in videos.csv as its MDS-UPDRS-III total")
        elif (exams["total"] == "").any():
            rows = [str(_row(i)) for i in np.flatnonzero(exams["total"] == "")]
            warns.append(f"exams.csv, rows {', '.join(rows[:10])}, column 'total': empty; using the sum of "
                         "the exam's item scores in videos.csv")
    if videos is not None and exams is not None:
        _cross_check(videos, exams, errors, warns)
    return videos, exams, errors, warns


def _typed(root: Path, videos: pd.DataFrame, exams: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validated string frames -> typed frames with `label`, absolute `path` and filled `total`."""
    videos = videos.copy()
    videos["video"] = [_relative_path(v) for v in videos["video"]]
    scores = [_score(s) for s in videos["score"]]
    if None in scores:  # an unscored dataset (load_manifest(scored=False)): what `pdlib score` reads
        videos["score"] = pd.array(scores, dtype="Int64")
        videos["label"] = pd.array([None if s is None else int(task_label(s)) for s in scores], dtype="Int64")
    else:
        videos["score"] = np.asarray(scores, dtype=np.int64)
        videos["label"] = task_label(videos["score"])
    videos["path"] = [os.path.join(root, v) for v in videos["video"]]
    videos["kind"] = ["keypoints" if is_landmark_file(v) else "video" for v in videos["video"]]
    videos["mirrored"] = videos.get("mirrored", pd.Series("", index=videos.index)).str.lower().isin(YES)
    for col in ("width", "height"):
        videos[col] = pd.to_numeric(videos[col], errors="coerce") if col in videos.columns else np.nan
    if "crop" in videos.columns:
        videos["crop"] = [_parse_crop(c) if c else None for c in videos["crop"]]
    exams = exams.copy()
    item_sum = videos.groupby("exam")["score"].sum()
    given = pd.to_numeric(exams["total"], errors="coerce") if "total" in exams.columns else np.nan
    exams["total"] = pd.Series(given, index=exams.index).astype(float)
    exams["total_from_items"] = exams["total"].isna()
    exams.loc[exams["total_from_items"], "total"] = exams["exam"].map(item_sum).fillna(0).astype(float)
    for col in ("age", "disease_duration"):
        if col in exams.columns:
            exams[col] = pd.to_numeric(exams[col], errors="coerce")
    return videos, exams


def load_manifest(root: str | os.PathLike, scored: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The validated videos and exams of a dataset folder (docs/DATASET.md "Dataset format"), or of a PD4T
    folder (Annotations/, Videos/: `pdlib.data.pd4t`; videos also get `split`, `person`, `visit`, `video_id`).

    videos gains `label` (the task-level binary class, Sec. IV-B) and `path` (absolute); exams gets a
    numeric `total` (the sum of the exam's item scores where missing, said in a DatasetWarning) and
    `total_from_items`. Files are not opened: `check_dataset` and `preprocess` report unusable videos.
    `scored` False (new patients to score): a video's `score` may be empty (then score and label are NA).
    Raises DatasetError listing every fault by file, row and column.
    """
    root = Path(root).resolve()
    videos, exams, errors, warns = _validate(root, scored)
    if errors:
        raise DatasetError(f"{root}: malformed dataset ({count(len(errors), 'fault')}; header is row 1):\n"
                           + "\n".join(f"  - {e}" for e in errors))
    for w in warns:
        warnings.warn(w, DatasetWarning, stacklevel=2)
    return _typed(root, videos, exams)


FORMATS = ("manifest", "pd4t")


def dataset_format(root: str | os.PathLike, expected: str | None = None) -> str:
    """"pd4t" for a folder in PD4T's layout (Annotations/, Videos/, no videos.csv), else "manifest"; with
    `expected` (the profile's `dataset_format`), a DatasetError when the folder is the other kind."""
    if expected is not None and expected not in FORMATS:
        raise DatasetError(f"dataset_format: expected one of {', '.join(FORMATS)}, found {expected!r}")
    found = "pd4t" if is_pd4t(root) else "manifest"
    if expected is not None and found != expected:
        what = {"pd4t": "PD4T's layout (Annotations/<Task>/{train,test}.csv, Videos/<Task>/...)",
                "manifest": "the manifest format (videos.csv, exams.csv)"}
        raise DatasetError(f"{root}: the profile says dataset_format: {expected}, but the folder is in {what[found]}; "
                           f"set dataset_format: {found} (docs/DATASET.md)")
    return found


