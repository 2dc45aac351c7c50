"""Landmark files as trackers write them, and the patient's hand of a side in a recording of both hands.

A `.landmarks.csv` (docs/DATASET.md) has one row per landmark per detection per frame; frames with no
detection are absent. Columns: `t` (seconds), `track` (integer id of a detection within its frame, as the
tracker numbered it: it may swap between frames, so it never follows a hand), `landmark` (0-based MediaPipe
index: 0-20 hand, 0-32 pose), `x`, `y` (pixels of the upright frame, or fractions of its width and height as
MediaPipe writes them, -0.5 to 1.5: landmarks leave the frame; told apart by their size), optionally `z` (the
unit of x), `visibility` (a pose landmark under MIN_VISIBILITY is "not found"; ignored for hands) and
`width`, `height` (the frame size in pixels, one per file). A row with `t` alone (track, landmark, x, y empty)
records a frame where nothing was detected: optional; `pdlib track` writes them (and the frame size), so the
fraction of frames tracked counts every frame. Fractions are scaled by the frame size the caller gives
(videos.csv's width and height), else the file's columns; without either they are read as a square frame of
side 1 (x and y then differ in unit), with a warning in `Detections.warnings`. z is kept only where every
detected landmark has one.

The hand of a side is chosen by position, never by track id or handedness label: the camera faces the patient,
so (not mirrored) the patient's right hand is on the LEFT of the picture (`side_keypoints`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from pdlib.hands import assign, both_in_frame, frame_aspect, hand_geometry, hand_track, two_hands, two_means
from pdlib.kinematics import CONVENTIONS, TASK_CONVENTION, Keypoints, KinematicsError

LANDMARKS_SUFFIX = ".landmarks.csv"
KEYPOINTS_SUFFIX = ".keypoints.npz"
REQUIRED_COLUMNS = ("t", "track", "landmark", "x", "y")
MIN_VISIBILITY = 0.5  # a pose landmark seen less surely than this is "not found"
FRACTIONS = (-0.5, 1.5)  # the range of fractions of the frame a landmark may take (it can leave the frame)
CENTRE_BAND = 0.05  # a lone hand this close to the picture's centre (fraction of the width) has no side
MAX_GAP_S = 60.0  # longer stretches without a frame are not filled with absent frames (a clock jump)


class LandmarksError(KinematicsError):
    """A landmark file that cannot be read or used: the message starts with the file, names the row (as a
    spreadsheet shows it: the header is row 1) where a row is at fault, and says the fault."""


@dataclass(eq=False)
class Detections:
    """Every detection of a landmark file: `table` (columns t, track, landmark, x, y, and z, visibility when
    given) in pixels of the upright frame, or in fractions of a square frame of side 1 when `square`; the
    frame's width and height in pixels (None: unknown), the convention, the file, and warnings on reading."""

    table: pd.DataFrame
    convention: str
    path: Path
    width: float | None = None
    height: float | None = None
    square: bool = False
    warnings: list[str] = field(default_factory=list)
    blank_times: np.ndarray = field(default_factory=lambda: np.zeros(0))  # frames recorded with no detection

    @cached_property
    def frames(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(times (F,) sorted, frame index (D,) of each detection, landmarks (D, K, 2 or 3), NaN: not found);
        a detection is one (t, track) pair."""
        tab, k = self.table, len(CONVENTIONS[self.convention])
        times = np.unique(np.concatenate([tab["t"].to_numpy(float), self.blank_times]))
        frame = np.searchsorted(times, tab["t"].to_numpy(float))
        tracks, code = np.unique(tab["track"].to_numpy(np.int64), return_inverse=True)
        keys, det = np.unique(frame * max(len(tracks), 1) + code, return_inverse=True)
        seen = tab[["x", "y"]].notna().all(axis=1)
        cols = ["x", "y", "z"] if "z" in tab.columns and len(tab) and tab["z"][seen].notna().all() else ["x", "y"]
        values = np.array(tab[cols].to_numpy(float))
        if self.convention == "pose" and "visibility" in tab.columns:
            values[tab["visibility"].to_numpy(float) < MIN_VISIBILITY] = np.nan
        points = np.full((len(keys), k, len(cols)), np.nan)
        points[det, tab["landmark"].to_numpy(np.int64)] = values
        return times, keys // max(len(tracks), 1), points


def _row(i: int) -> int:  # a data row as a spreadsheet numbers it (the header is row 1)
    return int(i) + 2


def _read_table(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, skip_blank_lines=False)
    except FileNotFoundError:
        raise LandmarksError(f"{path}: no such file") from None
    except pd.errors.EmptyDataError:
        raise LandmarksError(f"{path}: empty file (expected a header: {', '.join(REQUIRED_COLUMNS)})") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as err:
        text = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        cells = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
        fault = f"row {cells[2]}: {cells[3]} cells where the header has {cells[1]}" if cells else \
            f"cannot be read as a CSV table ({text})"
        raise LandmarksError(f"{path}: {fault}") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise LandmarksError(f"{path}: missing column{'s' * (len(missing) > 1)} {', '.join(missing)} (found: "
                             f"{', '.join(table.columns)}; expected {', '.join(REQUIRED_COLUMNS)}, optionally "
                             "z, visibility, width, height)")
    return table


def _numeric(table: pd.DataFrame, col: str, path: Path, empty_ok: bool = False) -> np.ndarray:
    """A column as floats; a cell that is not a number (or empty, unless `empty_ok`) is a fault of its row."""
    cells = table[col]
    if cells.dtype.kind in "fiu":
        values, text = cells.to_numpy(float), cells.notna().to_numpy()
    else:
        values = pd.to_numeric(cells, errors="coerce").to_numpy(float)
        text = (cells.notna() & cells.astype(str).str.strip().ne("")).to_numpy()
    bad = (np.isnan(values) & text) | np.isinf(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise LandmarksError(f"{path}: row {_row(table.index[i])}: {col} is not a number ({cells.iloc[i]!r})")
    if not empty_ok and np.isnan(values).any():
        raise LandmarksError(f"{path}: row {_row(table.index[np.argmax(np.isnan(values))])}: {col} is empty")
    return values


def _empty(cells: pd.Series) -> np.ndarray:
    """Which cells are empty (NaN, or blank text)."""
    empty = cells.isna().to_numpy()
    return empty | (cells.astype(str).str.strip().eq("").to_numpy() if cells.dtype == object else False)


def _integer(table: pd.DataFrame, col: str, path: Path) -> np.ndarray:
    values = _numeric(table, col, path)
    if (values != np.round(values)).any():
        i = int(np.argmax(values != np.round(values)))
        raise LandmarksError(f"{path}: row {_row(table.index[i])}: {col} is not an integer ({values[i]:g})")
    return values.astype(np.int64)


def _check_duplicates(t: np.ndarray, track: np.ndarray, landmark: np.ndarray, index, path: Path) -> None:
    dup = pd.DataFrame({"t": t, "track": track, "landmark": landmark}).duplicated().to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        first = int(np.argmax((t == t[i]) & (track == track[i]) & (landmark == landmark[i])))
        raise LandmarksError(f"{path}: row {_row(index[i])}: landmark {landmark[i]} of the detection at t {t[i]:g} "
                             f"s, track {track[i]} appears twice (first on row {_row(index[first])})")


def _given(value) -> float | None:
    """A frame size as given: None for None, NaN or an empty cell."""
    value = None if value is None or (isinstance(value, str) and not value.strip()) else float(value)
    return value if value is not None and np.isfinite(value) else None


def _frame_size(table: pd.DataFrame, path: Path, width, height) -> tuple[float | None, float | None]:
    """The caller's frame size, else the file's width and height columns (one value per file)."""
    width, height = _given(width), _given(height)
    if width is None and height is None and len(table) and ("width" in table.columns or "height" in table.columns):
        if not {"width", "height"} <= set(table.columns):
            raise LandmarksError(f"{path}: a column width or height without the other: give both or neither")
        size = []
        for col in ("width", "height"):
            v = _numeric(table, col, path)
            if (v != v[0]).any():
                i = int(np.argmax(v != v[0]))
                raise LandmarksError(f"{path}: row {_row(i)}: {col} {v[i]:g} differs from row 2's {v[0]:g} (one "
                                     "frame size per file)")
            size.append(float(v[0]))
        width, height = size
    if (width is None) != (height is None):
        raise LandmarksError(f"{path}: a frame width without a height, or the reverse: give both or neither")
    if width is not None and not (width > 0 and height > 0):
        raise LandmarksError(f"{path}: frame size {width:g} x {height:g} pixels: expected positive numbers")
    return width, height


def read_landmarks(path: str | Path, convention: str, width: float | None = None,
                   height: float | None = None) -> Detections:
    """Read and validate a `.landmarks.csv` (module docstring) of the "hand" or "pose" convention; `width`,
    `height`: the frame size in pixels (None or NaN: unknown; then the file's width and height columns, if
    any). Raises LandmarksError naming the file, the row and the fault; a file with a header and no rows
    is read as a recording where nothing was detected."""
    path = Path(path)
    if convention not in CONVENTIONS:
        raise LandmarksError(f"{path}: unknown landmark convention {convention!r}; expected hand or pose")
    table = _read_table(path)
    t = _numeric(table, "t", path)
    blank = np.all([_empty(table[c]) for c in ("track", "landmark", "x", "y")], axis=0)  # frames with no detection
    width, height = _frame_size(table, path, width, height)
    table, t, frames_alone = table[~blank], t[~blank], t[blank]
    track = _integer(table, "track", path)
    landmark = _integer(table, "landmark", path)
    k = len(CONVENTIONS[convention])
    if ((landmark < 0) | (landmark >= k)).any():
        i = int(np.argmax((landmark < 0) | (landmark >= k)))
        hint = " (pose landmarks for a hand task?)" if convention == "hand" and 0 <= landmark[i] < 33 else ""
        raise LandmarksError(f"{path}: row {_row(table.index[i])}: landmark {landmark[i]} is out of range for "
                             f"{convention} landmarks (0-{k - 1}){hint}")
    _check_duplicates(t, track, landmark, table.index, path)
    coords = {c: _numeric(table, c, path, empty_ok=True) for c in ("x", "y", "z") if c in table.columns}
    extra = {"visibility": _numeric(table, "visibility", path, empty_ok=True)} if "visibility" in table else {}
    det = Detections(pd.DataFrame({"t": t, "track": track, "landmark": landmark, **coords, **extra},
                                  index=table.index), convention, path, width, height, blank_times=frames_alone)
    _to_pixels(det, path)
    return det


def _to_pixels(det: Detections, path: Path) -> None:
    """Fractions (the median |x|, |y| at most 1.5: no frame is that small in pixels) checked against FRACTIONS
    and scaled by the frame size; without one, kept as a square frame of side 1, with a warning."""
    xy = det.table[["x", "y"]].to_numpy(float)
    if not np.isfinite(xy).any() or np.nanmedian(np.abs(xy)) > FRACTIONS[1]:
        return
    outside = np.isfinite(xy) & ((xy < FRACTIONS[0]) | (xy > FRACTIONS[1]))
    if outside.any():
        i, j = np.argwhere(outside)[0]
        raise LandmarksError(f"{path}: row {_row(det.table.index[i])}: {'xy'[j]} = {xy[i, j]:g} lies outside the "
                             f"frame (fractions of the frame, {FRACTIONS[0]:g} to {FRACTIONS[1]:g}, in a file of "
                             "fractions)")
    aspect = frame_aspect(det.table) if det.width is None and det.convention == "hand" else None
    if det.width is None and aspect is not None:  # in units of the frame's width
        det.width, det.height = 1.0, 1.0 / aspect
        det.warnings.append(f"{path}: coordinates are fractions of the frame and its size is not given (videos.csv "
                            f"columns width and height): its width / height estimated from the palms' proportions "
                            f"as {aspect:.2f}; give width and height to be exact")
    elif det.width is None:
        det.square = True
        det.warnings.append(f"{path}: coordinates are fractions of the frame and its size is not given (videos.csv "
                            "columns width and height): read as a square frame, so x and y are in different units "
                            "unless the frame is square")
        return
    for col, scale in (("x", det.width), ("y", det.height), ("z", det.width)):
        if col in det.table.columns:
            det.table[col] = det.table[col] * scale


def _fill_gaps(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The frame times with the absent frames put back: an interval of n median frame intervals (n >= 2, the
    interval at least 1.5 of them, at most MAX_GAP_S long) gets n - 1 evenly spaced frames. Returns (all
    times, where each given time lies in them)."""
    if len(times) < 3:
        return times, np.arange(len(times))
    d = np.diff(times)
    ratio = d / np.median(d)
    n = np.where((ratio >= 1.5) & (d <= MAX_GAP_S), np.round(ratio), 1).astype(np.int64)
    start = np.concatenate([[0], np.cumsum(n)])
    step = np.arange(start[-1]) - np.repeat(start[:-1], n)
    full = np.concatenate([np.repeat(times[:-1], n) + np.repeat(d / n, n) * step, times[-1:]])
    return full, start


def frame_timing(t: np.ndarray) -> tuple[float, bool]:
    """(median frames per second, variable) of a series of frame times in seconds. Intervals spanning absent
    frames (n median intervals) count as n; the rate is variable when the middle 80% of the per-frame
    intervals stray more than 10% from their median. NaN and constant rate for fewer than two frames."""
    t = np.unique(np.asarray(t, float)[np.isfinite(np.asarray(t, float))])
    d = np.diff(t)
    if not len(d):
        return np.nan, False
    per_frame = d / np.maximum(np.round(d / np.median(d)), 1)
    unit = float(np.median(per_frame))
    lo, hi = np.percentile(per_frame / unit, [10, 90])
    return 1.0 / unit, bool(lo < 0.9 or hi > 1.1)


def _lone_hand_place(det: Detections, x: np.ndarray) -> int | None:
    """Picture side (0 left, 1 right) of the one hand a recording shows: the side of the picture's centre its
    median x lies on; None when that cannot tell (the frame width unknown, or the hand within CENTRE_BAND of
    the width from the centre)."""
    extent = det.width if det.width is not None else (1.0 if det.square else None)
    off = float(np.median(x)) / extent - 0.5 if extent is not None and len(x) else 0.0
    return None if abs(off) < CENTRE_BAND else int(off > 0)


_SIDE_NAMES = {"L": "left", "R": "right"}


def _place(side: str, mirrored: bool) -> int:
    """Picture side (0 left, 1 right) of the patient's hand of `side`: the right hand on the left unless mirrored."""
    return int((side == "L") != mirrored)


def _median_or(values: np.ndarray, default: float) -> float:
    return float(np.median(values[np.isfinite(values)])) if np.isfinite(values).any() else default


def _not_seen(det: Detections, side: str, mirrored: bool, why: str) -> LandmarksError:
    where = "left" if _place(side, mirrored) == 0 else "right"
    return LandmarksError(f"{det.path}: no detection of the patient's {_SIDE_NAMES[side]} hand (on the {where} of "
                          f"the picture{', mirrored' if mirrored else ''}): {why}")


def _hand_choice(det: Detections, side: str, mirrored: bool) -> tuple[np.ndarray, list[str]]:
    """(F,) the detection of the patient's hand of `side` per frame (-1: none) and notes. The detections'
    centroids are split in two by x (`two_means`); if the split is two hands (`two_hands`), each is followed
    by position (`hand_track`, from its detections far from the split or seen with the other hand's) and every
    frame's detections are assigned (`assign`: at most one per hand, implausible size or position dropped).
    One hand only: its picture side decides (`_lone_hand_place`); where that cannot tell, it is taken as the
    side's, with a note."""
    times, frame, points = det.frames
    n = len(times)
    centroid, size, typical = hand_geometry(points)
    x = centroid[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(centroid).all(1) & ~(np.abs(np.log(size / typical)) > np.log(2.5))
    if not ok.any():
        if side == "":
            raise LandmarksError(f"{det.path}: no hand detected in any frame")
        raise _not_seen(det, side, mirrored, "no hand detected in any frame")
    split = two_means(x[ok])
    left = ok & (x < split) if split is not None else np.zeros_like(ok)
    right = ok & ~left
    if split is not None and two_hands(x, frame, left, right, n, typical):
        if side == "":
            raise LandmarksError(f"{det.path}: two hands in view: the row must name its side (L or R)")
        sep = float(np.median(x[right]) - np.median(x[left]))
        sure = (np.abs(x - split) > 0.25 * sep) | both_in_frame(frame, left, right, n)[frame]
        masks = (left & sure, right & sure)
        chosen = assign(frame, centroid, size, [hand_track(frame, centroid, m, n) for m in masks],
                         [_median_or(size[m], typical) for m in masks], typical, n)[_place(side, mirrored)]
        if (chosen < 0).all():
            raise _not_seen(det, side, mirrored, "its detections are all implausible (size or position)")
        return chosen, []
    chosen = assign(frame, centroid, size, [hand_track(frame, centroid, ok, n), None],
                     [_median_or(size[ok], typical), typical], typical, n)[0]
    place = _lone_hand_place(det, x[ok])
    if side == "":
        return chosen, []
    if place is None:
        why = "the frame width is unknown" if det.width is None and not det.square else "it is at the centre"
        return chosen, [f"{det.path}: one hand in view and its position cannot tell its side ({why}): taken as the "
                        f"patient's {_SIDE_NAMES[side]} hand"]
    if place != _place(side, mirrored):
        where = ("left", "right")[place]
        raise _not_seen(det, side, mirrored, f"the one hand in view is on the {where} of the picture")
    return chosen, []


def _pose_choice(det: Detections) -> np.ndarray:
    """(F,) per frame the most complete body detection (most landmarks found; the first of equals), -1: none."""
    times, frame, points = det.frames
    found = np.isfinite(points[..., :2]).all(-1).sum(1)
    idx = np.nonzero(found > 0)[0]
    if not len(idx):
        raise LandmarksError(f"{det.path}: no detection of a body in any frame")
    idx = idx[np.lexsort((idx, -found[idx], frame[idx]))]
    first = idx[np.unique(frame[idx], return_index=True)[1]]
    chosen = np.full(len(times), -1)
    chosen[frame[first]] = first
    return chosen


_MIRROR_POSE = [CONVENTIONS["pose"].index(n.replace("left_", "@").replace("right_", "left_").replace("@", "right_"))
                for n in CONVENTIONS["pose"]]  # each left_ pose landmark swapped with its right_ one


def side_keypoints(det: Detections, side: str, mirrored: bool = False) -> Keypoints:
    """The keypoints of the patient's `side` ("L", "R"; "" takes the only hand or body) in a landmark file:
    hand convention: the patient's hand of that side chosen by position (`_hand_choice`), never by track id
    or handedness label: not mirrored, the right hand is on the LEFT of the picture (smaller x). A recording
    showing one hand only: the picture side of its median position decides, relative to the frame's centre
    (width known, or fractions of a square frame); when the width is unknown or the hand sits within 5% of the
    width from the centre, it is taken as the side's hand, with a note. Pose convention: the most complete
    body of each frame, landmarks named as MediaPipe names them (left_/right_ swapped when `mirrored`, so
    they are the patient's). The keypoints cover every frame time of the file, with the absent frames of a
    gap put back (`_fill_gaps`), NaN where the side's hand (or the body) is absent; side, width, height and
    source (the file's name) set, notes = the file's warnings and the choice's. Raises LandmarksError when
    the side's hand is never seen."""
    if side not in ("L", "R", ""):
        raise LandmarksError(f"{det.path}: side {side!r}: expected L, R or empty")
    times, frame, points = det.frames
    if det.convention == "pose":
        chosen, notes = _pose_choice(det), []
        if mirrored:
            points = points[:, _MIRROR_POSE]
    else:
        chosen, notes = _hand_choice(det, side, mirrored)
    full, where = _fill_gaps(times)
    xy = np.full((len(full), *points.shape[1:]), np.nan)
    found = chosen >= 0
    xy[where[found]] = points[chosen[found]]
    return Keypoints(xy, full, det.convention, side, det.path.name, det.width, det.height,
                     tuple(det.warnings + notes))


def load_keypoints(file: str | Path, task: str, side: str, mirrored: bool = False, width: float | None = None,
                   height: float | None = None) -> Keypoints:
    """A row's keypoints from its landmark file, by suffix: `.keypoints.npz` (`Keypoints.load`; one hand or
    body already; `width`, `height` fill a frame size the file lacks) or `.landmarks.csv` (`read_landmarks`
    in the task's convention, then `side_keypoints`). `width`, `height`: pixels, None or NaN when unknown.
    Raises LandmarksError (a KinematicsError) naming the file and the fault."""
    file = Path(file)
    if task not in TASK_CONVENTION:
        raise LandmarksError(f"{file}: task {task!r} has no landmarks (tasks: {', '.join(TASK_CONVENTION)})")
    convention, name = TASK_CONVENTION[task], file.name.lower()
    if name.endswith(LANDMARKS_SUFFIX):
        return side_keypoints(read_landmarks(file, convention, width, height), side, mirrored)
    if not name.endswith(KEYPOINTS_SUFFIX):
        raise LandmarksError(f"{file}: not a landmark file (expected a name ending {KEYPOINTS_SUFFIX} or "
                             f"{LANDMARKS_SUFFIX})")
    try:
        kp = Keypoints.load(file) if file.is_file() else None
    except KinematicsError as err:
        raise LandmarksError(str(err)) from None
    if kp is None:
        raise LandmarksError(f"{file}: no such file")
    if kp.convention != convention:
        raise LandmarksError(f"{file}: {kp.convention} keypoints, but task {task!r} needs {convention} landmarks")
    if kp.width is None and _given(width) is not None and _given(height) is not None:
        kp = replace(kp, width=_given(width), height=_given(height))
    return kp


def is_landmark_file(path: str | Path) -> bool:
    """Whether a file is keypoints rather than a video: its name ends `.keypoints.npz` or `.landmarks.csv`."""
    return Path(path).name.lower().endswith((KEYPOINTS_SUFFIX, LANDMARKS_SUFFIX))


def own_keypoints(path: str | Path) -> Path | None:
    """A row's own keypoints: a landmark file is its own (whether or not it exists); a video's are
    `<stem>.keypoints.npz` or else `<stem>.landmarks.csv` beside it, when one exists; else None."""
    path = Path(path)
    if is_landmark_file(path):
        return path
    for suffix in (KEYPOINTS_SUFFIX, LANDMARKS_SUFFIX):
        if path.with_suffix(suffix).is_file():
            return path.with_suffix(suffix)
    return None
