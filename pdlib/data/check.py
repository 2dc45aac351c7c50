"""What `pdlib check` says of a dataset folder: its CSVs (`manifest`'s validation), then every row's file
opened (a video: demuxed and its first frame decoded; a landmark file: read and the row's side's hand found),
frame rates under MIN_FPS or variable, a cohort smaller than the folds; and each file's duration (Fig. 4a)."""

import os
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import pandas as pd

from pdlib.data.manifest import YES, _relative_path, _row, _validate
from pdlib.data.pd4t import is_pd4t
from pdlib.landmarks import is_landmark_file
from pdlib.messages import count, exit_code

MIN_FPS = 15.0  # below it (or at a variable rate) a recording is named in the check's report
N_FOLDS = 5  # the study's cross-validation: a smaller cohort is said (notebook 02 leaves one patient out)


@dataclass
class CheckReport:
    """The outcome of `check_dataset`: faults (exit 2), unusable videos (exit 1; all of them: exit 2, the rule of
    `pdlib.messages.exit_code`), warnings, counts."""

    root: Path
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unusable_rows: list[tuple[str, int, str]] = field(default_factory=list)  # (video, videos.csv row, reason)
    counts: dict[str, int] = field(default_factory=dict)  # videos per task
    listed: int = 0  # rows whose file was opened
    source: str = "videos.csv"  # what lists the rows ("the annotations" of a PD4T folder)

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
        """0: every row usable; 1: some rows unusable; 2: the dataset is malformed or no row is usable."""
        return exit_code(self.listed, len(self.unusable), malformed=bool(self.errors))

    def __str__(self) -> str:
        lines = [f"pdlib check {self.root}",
                 "(rows numbered as in a spreadsheet: the header is row 1, the first data row is row 2)"]
        if self.counts:
            lines.append("videos per task: " + ", ".join(f"{t} {n}" for t, n in self.counts.items()))
        for title, items in (("error", self.errors), ("warning", self.warnings),
                             ("unusable row", [f"{v}: {r}" for v, r in self.unusable])):
            if items:
                lines.append(f"{count(len(items), title)}:")
                lines += [f"  - {item}" for item in items]
        nothing = (f"{self.source}: its only video is not usable" if self.listed == 1 else
                   f"{self.source}: none of its {self.listed} videos is usable") + ", nothing to use (listed above)"
        verdict = {0: "OK: every row is usable", 1: f"{count(len(self.unusable), 'row')} unusable",
                   2: "dataset malformed" if self.errors else nothing}[self.exit_code]
        lines.append(f"{verdict} (exit {self.exit_code})")
        return "\n".join(lines)


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
            notes = _probe_keypoints(root / rel, r, read) if is_landmark_file(rel) else _probe(root / rel)
            report.warnings += [f"{rel} ({where if isinstance(where, str) else f'videos.csv row {where}'}): {w}"
                                for w in notes]
        except (VideoDecodeError, KinematicsError) as e:
            report.unusable_rows.append((rel, where, str(e).removeprefix(f"{root / rel}: ")))
    for warning, files in read.get("file warnings", {}).items():
        names = ", ".join(str(Path(f).relative_to(root)) for f in files[:3]) + (", ..." if len(files) > 3 else "")
        report.warnings.append(f"{count(len(files), 'landmark file')} ({names}): {warning}")
    report.listed, report.source = listed, "the annotations" if is_pd4t(root) else "videos.csv"
    patients = videos["patient"].nunique()
    if 1 < patients < N_FOLDS and not is_pd4t(root):
        report.warnings.append(f"{count(patients, 'patient')}: fewer than the {N_FOLDS} folds of the cross-validation; "
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
        if is_landmark_file(rel):  # a landmark file: the span of its frame times
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
