"""Crop boxes of the task clips (`ClipSpec.crop`): the manifest's, none, or a square around the moving body part.

The keypoint rule (`keypoint_box`, `clip_crop: keypoints`): the landmarks the task's signal needs
(`pdlib.kinematics.NEEDS`, the row's side for the pose tasks), over the frames where all of them were found; the
box holding all of them (the union over those frames, points clipped to the picture), its longer side L at least
MIN_SIDE pixels; a square of side L * (1 + 2 * margin) around its centre (`margin`: a fraction of L on each
side); shifted to lie inside the picture, and clipped to it where it is larger. In pixels of the upright
picture, as `pdlib.data.video`'s crop takes them: (x0, y0, x1, y1), x1 and y1 excluded.

Keypoints come from where the kinematics row takes them (`pdlib.tracking.keypoint_files`): the row's own
(a landmark file beside the video, e.g. SynPD's true joints, which are in the video's pixels) or `pdlib track`'s
cache. Coordinates given for another frame size than the video's (a landmark file in units of the frame's width)
are scaled to the video's pixels. A row without usable keypoints keeps the whole picture, with a note saying why.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

MIN_SIDE = 16  # pixels: a box around landmarks that barely move (or one landmark) is at least this wide
WHOLE = "whole picture kept"  # how a row's note ends when its video keeps its whole picture


def keypoint_box(keypoints, task: str, width: int, height: int,
                 margin: float) -> tuple[int, int, int, int] | None:
    """The crop box of one video (module docstring) from its `Keypoints` in pixels of its upright picture
    (`width` x `height`), or None when the task's landmarks were found in no frame."""
    from pdlib.kinematics import NEEDS

    points = np.stack([keypoints.point(name)[:, :2] for name in NEEDS[task]], axis=1).astype(float)  # (T, N, 2)
    found = np.isfinite(points).all(axis=(1, 2))
    if not found.any():
        return None
    xy = points[found].reshape(-1, 2)
    xy = np.clip(xy, 0, [width, height])
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    side = max(float((hi - lo).max()), MIN_SIDE) * (1 + 2 * margin)
    box = []
    for centre, extent in zip((lo + hi) / 2, (width, height), strict=True):
        n = math.ceil(side)
        if n >= extent:  # larger than the picture: clipped to it
            box.append((0, int(extent)))
            continue
        start = min(max(round(centre - side / 2), 0), int(extent) - n)  # shifted inside the picture
        box.append((start, start + n))
    (x0, x1), (y0, y1) = box
    return x0, y0, x1, y1


def _frame_size(row) -> tuple[float, float]:
    """The upright picture's (width, height) in pixels: the row's width and height when given, else the video's."""
    width, height = (float(getattr(row, c, np.nan) or np.nan) for c in ("width", "height"))
    if np.isfinite(width) and np.isfinite(height) and width > 0 and height > 0:
        return width, height
    from pdlib.tracking import upright_size

    return tuple(map(float, upright_size(row.path)))


def _row_box(row, file: Path | None, margin: float) -> tuple[tuple[int, int, int, int] | None, str]:
    """(box or None, note) of one row of a videos table."""
    from pdlib.data.video import VideoDecodeError
    from pdlib.kinematics import NEEDS, TASK_CONVENTION, KinematicsError
    from pdlib.landmarks import load_keypoints

    if row.task not in TASK_CONVENTION:
        return None, f"task {row.task!r} has no landmarks to crop around: {WHOLE}"
    if file is None:
        return None, f"no keypoints for {row.path} (run `pdlib track`): {WHOLE}"
    try:
        width, height = _frame_size(row)
        kp = load_keypoints(file, row.task, getattr(row, "side", "") or "", bool(getattr(row, "mirrored", False)),
                            width, height)
    except (KinematicsError, VideoDecodeError, OSError) as err:
        text = str(err) if str(err).startswith(str(file)) or str(err).startswith(str(row.path)) else f"{file}: {err}"
        return None, f"{text}: {WHOLE}"
    if kp.width is not None and kp.height is not None and (kp.width, kp.height) != (width, height):
        kp = type(kp)(kp.xy * np.array([width / kp.width, height / kp.height] + [1] * (kp.xy.shape[2] - 2)),
                      kp.t, kp.convention, kp.side, kp.source, width, height)  # e.g. units of the frame's width
    box = keypoint_box(kp, row.task, int(width), int(height), margin)
    if box is None:
        return None, (f"{file}: the landmarks {', '.join(NEEDS[row.task])} of side {getattr(row, 'side', '') or '-'} "
                      f"were found together in no frame: {WHOLE}")
    return box, ""


def keypoint_boxes(videos: pd.DataFrame, cache_dir: str | os.PathLike | None,
                   margin: float) -> tuple[list, list[str]]:
    """Per row of `videos` (columns path, task; optional side, mirrored, width, height) its keypoint crop box or
    None, and a note ("" or why it keeps the whole picture). Keypoints: `pdlib.tracking.keypoint_files`."""
    from pdlib.tracking import keypoint_files

    boxes, notes = [], []
    files = keypoint_files(videos, cache_dir) if len(videos) else []
    for row, file in zip(videos.itertuples(index=False), files, strict=True):
        box, note = _row_box(row, file, margin)
        boxes.append(box)
        notes.append(note)
    return boxes, notes


def clip_boxes(videos: pd.DataFrame, spec, cache_dir: str | os.PathLike | None) -> tuple[list | None, list[str]]:
    """The crop box per row of `videos` that `spec.crop` asks for (None: whole pictures) and a note per row:
    "manifest", the `crop` column (when there is one); "keypoints", `keypoint_boxes`; "none", no box."""
    notes = [""] * len(videos)
    if spec.crop == "keypoints":
        return keypoint_boxes(videos, cache_dir, spec.crop_margin)
    if spec.crop == "manifest" and "crop" in videos.columns:
        return list(videos["crop"]), notes
    return None, notes


def clip_box(row, spec, cache_dir: str | os.PathLike | None) -> tuple[tuple[int, int, int, int] | None, str]:
    """One video's crop box as models trained with `spec` saw it (the rule of `clip_boxes`; `row`: a mapping
    with `path` and `task`, and `side`, `crop`, `width`, `height` where known) and its note: what reads a
    video again to show it (the explorer, notebook 06, `pdlib report`) shows the clip the model scored."""
    rows = pd.DataFrame([{"side": "", **dict(row)}])
    boxes, notes = clip_boxes(rows, spec, cache_dir)
    return (boxes[0] if boxes is not None else None), notes[0]


def whole_picture_line(notes) -> str:
    """The one-line summary of the rows kept whole for want of keypoints ("" when none)."""
    from pdlib.messages import count

    n = sum(1 for note in notes if note)
    return f"{count(n, 'video')} without keypoints kept {'their' if n != 1 else 'its'} whole picture" if n else ""


def add_notes(warning: pd.Series, notes) -> pd.Series:
    """A status table's `warning` column with each row's crop note joined in ("; ")."""
    return pd.Series(["; ".join(w for w in (a, b) if w) for a, b in zip(warning, notes, strict=True)],
                     index=warning.index, dtype=object)


def boxes_identity(spec, clips: pd.DataFrame) -> dict:
    """What a recipe adds for keypoint crops: the usable rows' boxes by digest ({} for the other crop settings,
    so their recipes stay as they were); a box moved by new keypoints makes the unit stale."""
    if spec.crop != "keypoints":
        return {}
    from pdlib.layout import digest

    ok = clips.loc[clips["ok"], ["video", "side", "box"]].astype(str).sort_values(["video", "side"])
    return {"boxes": digest(ok.to_csv(index=False))}


def track_missing(videos: pd.DataFrame, cache_dir: str | os.PathLike, landmarker_factory=None) -> str:
    """Before keypoint crops of new videos (`pdlib score`): track, into `cache_dir`, the rows (columns path, task,
    side) that have no keypoints yet, when MediaPipe is installed (or `landmarker_factory` is given). Returns ""
    or the one line saying that keypoints are needed (MediaPipe missing): those videos keep their whole picture."""
    from pdlib.tracking import TrackingUnavailable, _keypoints_file, _solutions, _track_row

    missing = []
    for row in videos.itertuples(index=False):
        file = _keypoints_file(row.path, row.task, cache_dir) if Path(row.path).is_file() else None
        if file is not None and not file.is_file():
            missing.append((row, file))
    if not missing:
        return ""
    if landmarker_factory is None:
        try:
            _solutions()
        except TrackingUnavailable as err:
            return (f"keypoint crops need keypoints: {len(missing)} video{'s' * (len(missing) > 1)} without them "
                    f"scored on the whole picture (`pdlib track`, or keypoints beside the videos; {err})")
    for row, file in missing:
        _track_row(row, file, landmarker_factory)  # a video that cannot be tracked keeps its whole picture, noted
    return ""
