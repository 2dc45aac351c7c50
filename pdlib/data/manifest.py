"""Reading and validating a dataset folder (docs/DATASET.md "Dataset format"): videos.csv, exams.csv, the videos.

Faults are named by file, row and column. Rows are numbered as a spreadsheet shows them: the header is
row 1, the first data row is row 2.
"""

import difflib
import os
import posixpath
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import pandas as pd

from pdlib.data.pd4t import is_pd4t, pd4t_tables
from pdlib.tasks import TASKS, task_label

VIDEO_COLUMNS = ("video", "patient", "exam", "task", "side", "score")
EXAM_COLUMNS = ("exam", "patient", "condition", "total")
# crop: "x0 y0 x1 y1" in pixels of the upright picture (read_clip's crop); width, height: the frame size in pixels
# (a landmark file's coordinates as fractions of it); mirrored: yes when the picture is mirrored (a selfie view)
OPTIONAL_VIDEO_COLUMNS = ("crop", "width", "height", "mirrored")
KEYPOINT_SUFFIXES = (".landmarks.csv", ".keypoints.npz")  # a row may name a landmark file instead of a video
YES, NO = ("yes", "y", "true", "1"), ("no", "n", "false", "0", "")
MIN_FPS = 15.0  # below it (or at a variable rate) a recording is named in the check's report
N_FOLDS = 5  # the study's cross-validation: a smaller cohort is said (notebook 02 leaves one patient out)
OPTIONAL_EXAM_COLUMNS = ("age", "sex", "disease_duration")
SIDES = ("L", "R", "")
MAX_TOTAL = 132  # MDS-UPDRS-III: 33 item scores of 0..4


class DatasetError(Exception):
    """A malformed dataset; the message names the file, the row and the column of each fault."""


class DatasetWarning(UserWarning):
    """Something a dataset lacks that the suite works around (e.g. a missing total), said out loud."""


@dataclass
class CheckReport:
    """The outcome of `check_dataset`: faults (exit 2), unusable videos (exit 1), warnings, counts."""

    root: Path
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unusable_rows: list[tuple[str, int, str]] = field(default_factory=list)  # (video, videos.csv row, reason)
    counts: dict[str, int] = field(default_factory=dict)  # videos per task

    @property
    def unusable(self) -> list[tuple[str, str]]:
        """("<video> (videos.csv row <n>)", reason) per unusable video, as the report prints them (a PD4T
        folder: the annotation file and row)."""
        return [(f"{video} ({row if isinstance(row, str) else f'videos.csv row {row}'})", reason)
                for video, row, reason in self.unusable_rows]

    def unusable_table(self) -> pd.DataFrame:
        """The unusable videos as a table (video, row, reason) for a notebook to show and save."""
        return pd.DataFrame(self.unusable_rows, columns=["video", "row", "reason"])

    @property
    def exit_code(self) -> int:
        """0: every row usable; 1: some videos unusable; 2: the dataset itself is malformed."""
        return 2 if self.errors else 1 if self.unusable else 0

    def __str__(self) -> str:
        lines = [f"pdlib check {self.root}",
                 "(rows numbered as in a spreadsheet: the header is row 1, the first data row is row 2)"]
        if self.counts:
            lines.append("videos per task: " + ", ".join(f"{t} {n}" for t, n in self.counts.items()))
        for title, items in (("error", self.errors), ("warning", self.warnings),
                             ("unusable row", [f"{v}: {r}" for v, r in self.unusable])):
            if items:
                lines.append(f"{_count(len(items), title)}:")
                lines += [f"  - {item}" for item in items]
        verdict = {0: "OK: every row is usable", 1: f"{_count(len(self.unusable), 'row')} unusable",
                   2: "dataset malformed"}[self.exit_code]
        lines.append(f"{verdict} (exit {self.exit_code})")
        return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    """"1 warning", "2 warnings": a count in plain grammar."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


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


def is_keypoint_file(path: str | os.PathLike) -> bool:
    """Whether a row's file is a landmark file (`<name>.landmarks.csv`, `<name>.keypoints.npz`), not a video."""
    return str(path).lower().endswith(KEYPOINT_SUFFIXES)


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
        warns.append(f"{f}, rows {shown}, column 'task': unknown task {task!r} ({len(rows)} videos; "
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
        warns.append(f"exams.csv: {len(without)} exams have no video: {', '.join(without[:10])}"
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
    videos["kind"] = ["keypoints" if is_keypoint_file(v) else "video" for v in videos["video"]]
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
        raise DatasetError(f"{root}: malformed dataset ({len(errors)} faults; header is row 1):\n"
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


def _probe_keypoints(path: Path, r, cache: dict) -> list[str]:
    """What `pdlib check` learns of a landmark file for one row: read (once per file, though listed for two
    sides), the row's side's hand found, its frame rate; raises KinematicsError naming the file and fault."""
    from pdlib.kinematics import TASK_CONVENTION, KinematicsError
    from pdlib.landmarks import frame_timing, read_landmarks, side_keypoints

    if r.task not in TASK_CONVENTION:
        raise KinematicsError(f"{path}: task {r.task!r} has no landmarks (tasks: {', '.join(TASK_CONVENTION)})")
    width, height = (pd.to_numeric(getattr(r, col, ""), errors="coerce") for col in ("width", "height"))
    width, height = (None if not v > 0 else float(v) for v in (width, height))  # faults: `_check_frame`'s
    mirrored = getattr(r, "mirrored", "").lower() in YES
    if str(path).lower().endswith(".keypoints.npz"):
        from pdlib.kinematics import Keypoints

        kp, notes = Keypoints.load(path), []
    else:
        key = (str(path), TASK_CONVENTION[r.task], width, height)
        first = key not in cache  # a file listed for two sides is read, and warned about, once
        if first:
            cache[key] = read_landmarks(path, TASK_CONVENTION[r.task], width=width, height=height)
        detections = cache[key]
        if first:  # file-level warnings (a square frame) are gathered per kind: one line for a whole cohort
            for w in detections.warnings:
                cache.setdefault("file warnings", {}).setdefault(w.removeprefix(f"{path}: "), []).append(path)
        notes = []
        kp = side_keypoints(detections, r.side, mirrored=mirrored)
    return notes + _timing_notes(*frame_timing(kp.t))


def _probe(path: Path) -> list[str]:
    """A video's warnings for `pdlib check`: `probe_video`'s and its frame rate's."""
    from pdlib.data.video import probe_video
    from pdlib.landmarks import frame_timing

    notes, times = probe_video(path)
    return notes + (_timing_notes(*frame_timing(times)) if len(times) > 2 else [])


def _timing_notes(fps: float, variable: bool) -> list[str]:
    """A recording's frame-rate warnings: under MIN_FPS, or a variable rate (the signals are resampled)."""
    notes = []
    if fps < MIN_FPS:
        notes.append(f"{fps:.1f} frames per second, under {MIN_FPS:.0f}: fast taps and tremor are undersampled")
    if variable:
        notes.append(f"a variable frame rate (median {fps:.1f} per second): resampled to a uniform grid")
    return notes


def check_dataset(root: str | os.PathLike, scored: bool = True) -> CheckReport:
    """Validate a dataset folder: the CSVs (faults, exit 2) and every video (opened, first frame decoded) or
    landmark file (read, the row's side's hand found); frame rates under MIN_FPS or variable are warned about.
    `scored` False: the folder `pdlib score` accepts (a video's score may be empty)."""
    from pdlib.data.video import VideoDecodeError
    from pdlib.kinematics import KinematicsError

    root = Path(root).resolve()
    videos, _, errors, warns = _validate(root, scored)
    report = CheckReport(root, errors, warns)
    if videos is None:
        return report
    report.counts = videos["task"].value_counts().to_dict()
    listed, read = 0, {}
    for i, r in enumerate(videos.itertuples(index=False)):
        rel = _relative_path(r.video) if r.video else None
        if rel is None:
            continue
        listed += 1
        where = getattr(r, "where", None) or _row(i)  # a PD4T folder: its annotation file and row
        try:
            notes = _probe_keypoints(root / rel, r, read) if is_keypoint_file(rel) else _probe(root / rel)
            report.warnings += [f"{rel} ({where if isinstance(where, str) else f'videos.csv row {where}'}): {w}"
                                for w in notes]
        except (VideoDecodeError, KinematicsError) as e:
            report.unusable_rows.append((rel, where, str(e).removeprefix(f"{root / rel}: ")))
    for warning, files in read.get("file warnings", {}).items():
        names = ", ".join(str(Path(f).relative_to(root)) for f in files[:3]) + (", ..." if len(files) > 3 else "")
        report.warnings.append(f"{len(files)} landmark file{'s' if len(files) > 1 else ''} ({names}): {warning}")
    if listed and len(report.unusable) == listed:
        report.errors.append(f"{'the annotations' if is_pd4t(root) else 'videos.csv'}: none of its {listed} videos "
                             "is usable (listed below)")
    patients = videos["patient"].nunique()
    if 1 < patients < N_FOLDS and not is_pd4t(root):
        report.warnings.append(f"{patients} patients: fewer than the {N_FOLDS} folds of the cross-validation; "
                               "notebook 02 leaves one patient out at a time instead (said in its captions)")
    return report


def check_main(root: str, scored: bool = True) -> int:
    """`pdlib check DIR [--unscored]`: print the report of `check_dataset` and return its exit code (0, 1, 2)."""
    report = check_dataset(root, scored)
    print(report)
    return report.exit_code


def _keypoint_seconds(path: Path) -> float:
    """The span of a landmark file's frame times (s); NaN when it cannot be read (`pdlib check` says why)."""
    from pdlib.kinematics import Keypoints, KinematicsError

    try:
        if str(path).lower().endswith(".keypoints.npz"):
            t = Keypoints.load(path).t
        else:
            t = pd.to_numeric(pd.read_csv(path, usecols=["t"])["t"], errors="coerce").to_numpy(float)
    except (KinematicsError, ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return np.nan
    t = t[np.isfinite(t)]
    return float(t.max() - t.min()) if len(t) > 1 else np.nan


def video_durations(root: str | Path, videos: pd.DataFrame) -> pd.Series:
    """Duration in seconds of every video (Fig. 4a), read from the container with PyAV, or of every landmark
    file (the span of its frame times); index = video (a file listed for two sides once).

    Pass the usable videos (`check_dataset`'s report lists the others with their reason): an unreadable
    file raises ValueError naming it and its row.
    """
    root = Path(root)
    out = {}
    for rel in pd.unique(videos["video"]):
        path = root / rel
        if is_keypoint_file(rel):  # a landmark file: the span of its frame times
            out[rel] = _keypoint_seconds(path)
            continue
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
