"""Keypoints of real videos: MediaPipe's hand and pose landmarkers, cached per video (`pdlib track DATASET`).

MediaPipe 0.10.14 is the last wheel whose legacy `solutions` API ships its model files (hand_landmark_full,
palm_detection_full, pose_landmark_full .tflite) inside the wheel, so tracking runs offline and nothing is
downloaded. It is an optional extra (`pip install -e ".[pose]"`): wheels exist for Python 3.9-3.12 on
Linux x86-64, macOS arm64 and Windows x86-64 (checked with `pip download`; none for 3.13); it brings
opencv-contrib-python, jax and protobuf < 5.

Each video of the dataset gets the landmarks of its task's convention (`pdlib.kinematics`: 21 hand landmarks
for finger, hand and pronation; 33 pose landmarks for the others) in every frame, in pixels of the upright
frame, with the frame's time; NaN where nothing was found. They are cached like clips, by the content hash
of the video (`outputs/<profile>/cache/keypoints/<hash>_<convention>_mediapipe0.10.14.npz`): a video tracked
once is not tracked again, a changed file is. A video with its own keypoints beside it (SynPD's true ones,
or a user's from another tracker, `<name>.keypoints.npz`) is not tracked.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from pdlib.data.cache import content_hash
from pdlib.data.video import VideoDecodeError, iter_frames
from pdlib.kinematics import CONVENTIONS, MIN_TRACKED, TASK_CONVENTION, Keypoints, keypoints_path, untracked_reason
from pdlib.progress import progress_bar

MEDIAPIPE = "0.10.14"
MIN_VISIBILITY = 0.5  # a pose landmark MediaPipe sees less surely than this is "not found"
REPORT_COLUMNS = ["video", "task", "side", "status", "tracked", "frames", "keypoints"]

# A landmarker: called with one upright RGB frame (H, W, 3) uint8, returns (K, 3) normalised landmarks
# (x, y in [0, 1] of the width and height, z in width units) or None when nothing was found.
Landmarker = Callable[[np.ndarray], "np.ndarray | None"]


class TrackingUnavailable(RuntimeError):
    """MediaPipe 0.10.14 is not installed (or another version is): the message says how to install it."""


def _solutions():
    where = f"Python {sys.version_info.major}.{sys.version_info.minor}"
    try:
        import mediapipe as mp
    except ImportError:
        raise TrackingUnavailable(
            f"tracking needs MediaPipe {MEDIAPIPE}, an optional extra: pip install -e \".[pose]\" (its wheels "
            f"exist for Python 3.9-3.12 on Linux x86-64, macOS arm64 and Windows, none for 3.13; this is {where})"
        ) from None
    if mp.__version__ != MEDIAPIPE:
        raise TrackingUnavailable(f"found mediapipe {mp.__version__}; `pdlib track` needs {MEDIAPIPE}, the last "
                                  f"wheel that ships its model files: pip install mediapipe=={MEDIAPIPE}")
    return mp.solutions


@contextmanager
def _quiet_native_stderr():
    """MediaPipe's C++ side logs a warning line per landmarker ("Feedback manager requires a model with a
    single signature...") straight to file descriptor 2, past Python: hide fd 2 while one is built and runs
    its first frame."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class MediaPipeLandmarker:
    """MediaPipe's hand (one hand, full model) or pose (full model) landmarker in video mode, for one video:
    a new one per video, so tracking never carries over from the previous video."""

    def __init__(self, convention: str):
        solutions = _solutions()
        self._pose, self._first = convention == "pose", True
        with _quiet_native_stderr():
            if convention == "hand":
                self._model = solutions.hands.Hands(static_image_mode=False, max_num_hands=1, model_complexity=1,
                                                    min_detection_confidence=0.5, min_tracking_confidence=0.5)
                self._pick = lambda r: r.multi_hand_landmarks[0] if r.multi_hand_landmarks else None
            else:
                self._model = solutions.pose.Pose(static_image_mode=False, model_complexity=1,
                                                  smooth_landmarks=True, min_detection_confidence=0.5,
                                                  min_tracking_confidence=0.5)
                self._pick = lambda r: r.pose_landmarks

    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        """(K, 3) normalised landmarks; a pose landmark MediaPipe deems not visible (visibility < 0.5, e.g.
        out of the picture) is NaN: the pose model places all 33 whenever it finds a body."""
        with warnings.catch_warnings():  # mediapipe 0.10.14 calls a protobuf API protobuf 4 deprecates
            warnings.filterwarnings("ignore", "SymbolDatabase.GetPrototype", UserWarning)
            if self._first:  # the graph starts (and logs) on the first frame
                with _quiet_native_stderr():
                    found = self._pick(self._model.process(frame))
                self._first = False
            else:
                found = self._pick(self._model.process(frame))
        if found is None:
            return None
        out = np.array([(p.x, p.y, p.z) for p in found.landmark], float)
        if self._pose:
            out[np.array([p.visibility for p in found.landmark]) < MIN_VISIBILITY] = np.nan
        return out

    def close(self) -> None:
        self._model.close()


def track_video(path: str | Path, task: str, side: str = "", landmarker: Landmarker | None = None,
                max_side: int = 640) -> Keypoints:
    """The task's landmarks in every frame of one video (frames downscaled to `max_side` for the tracker;
    positions in pixels of that frame). `landmarker`: default MediaPipe's for the task's convention."""
    convention = TASK_CONVENTION[task]
    own = landmarker is None
    landmarker = MediaPipeLandmarker(convention) if own else landmarker
    k = len(CONVENTIONS[convention])
    times, rows = [], []
    try:
        for t, frame in iter_frames(path, max_side):
            found = landmarker(frame)
            h, w = frame.shape[:2]
            if found is None or found.shape[0] != k:
                rows.append(np.full((k, 3), np.nan))
            else:
                rows.append(found * (w, h, w))
            times.append(t)
    finally:
        if own:
            landmarker.close()
    if not rows:
        raise VideoDecodeError(f"{path}: no frame could be decoded")
    return Keypoints(np.stack(rows), np.asarray(times, float), convention, side, f"mediapipe {MEDIAPIPE}")


def tracked_path(cache_dir: str | Path, digest: str, convention: str) -> Path:
    return Path(cache_dir) / "keypoints" / f"{digest}_{convention}_mediapipe{MEDIAPIPE}.npz"


def keypoint_files(videos: pd.DataFrame, cache_dir: str | Path | None) -> list[Path | None]:
    """Per video (columns path, task): its own keypoints beside it, else its tracked ones in the cache, else
    None."""
    out = []
    for path, task in zip(videos["path"], videos["task"], strict=True):
        own = keypoints_path(path)
        file = own if cache_dir is None else _keypoints_file(path, task, cache_dir)
        out.append(file if file is not None and file.is_file() else None)
    return out


def _keypoints_file(path: str, task: str, cache_dir: str | Path) -> Path | None:
    """A video's own keypoints file when it has one, else where tracking caches them; None: no video file, or a
    task without landmarks (PD4T's gait)."""
    own = keypoints_path(path)
    if own.is_file():
        return own
    if task not in TASK_CONVENTION or not Path(path).is_file():
        return None
    return tracked_path(cache_dir, content_hash(path), TASK_CONVENTION[task])


def track_dataset(root: str | Path, cache_dir: str | Path, landmarker_factory: Callable[[str], Landmarker] | None
                  = None, progress: bool = True) -> pd.DataFrame:
    """Track every video of a dataset folder (manifest format; `score` may be empty) into the cache; returns
    one row per video (REPORT_COLUMNS): status "own keypoints", "cached", "tracked", "poorly tracked: ..." or
    "unusable: <reason>" ("skipped: ..." for a task without landmarks, PD4T's gait), the fraction of frames
    with the task's landmarks, frames, keypoints file.
    Raises TrackingUnavailable (before any video) when MediaPipe is missing and a video needs tracking."""
    from pdlib.data.manifest import load_manifest

    videos, _ = load_manifest(root, scored=False)
    files = [_keypoints_file(path, task, cache_dir) for path, task in zip(videos["path"], videos["task"], strict=True)]
    if landmarker_factory is None and any(f is not None and not f.is_file() for f in files):
        _solutions()  # a missing extra is said once, before any video
    rows = []
    for v, file in progress_bar(list(zip(videos.itertuples(), files, strict=True)), desc="tracking",
                                disable=not progress):
        row = {"video": v.video, "task": v.task, "side": v.side, "status": "", "tracked": np.nan, "frames": 0,
               "keypoints": ""}
        if v.task not in TASK_CONVENTION:
            row["status"] = f"skipped: no landmarks for task {v.task!r} (tasks: {', '.join(TASK_CONVENTION)})"
            rows.append(row)
            continue
        try:
            if file is None:
                raise VideoDecodeError(f"{v.path}: missing file")
            if file.is_file():
                row["status"] = "own keypoints" if file == keypoints_path(v.path) else "cached"
                kp = Keypoints.load(file)
            else:
                landmarker = (landmarker_factory or MediaPipeLandmarker)(TASK_CONVENTION[v.task])
                try:
                    kp = track_video(v.path, v.task, v.side, landmarker)
                finally:
                    getattr(landmarker, "close", lambda: None)()
                file.parent.mkdir(parents=True, exist_ok=True)
                kp.save(file)
                row["status"] = "tracked"
        except (VideoDecodeError, OSError, ValueError) as err:
            row["status"] = f"unusable: {err}"
            rows.append(row)
            continue
        row |= {"tracked": kp.tracked(v.task), "frames": len(kp.t), "keypoints": str(file)}
        if row["tracked"] < MIN_TRACKED:
            row["status"] = f"poorly tracked: {untracked_reason(v.task, row['tracked'])}"
        rows.append(row)
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def track_main(root: str, cache_dir: str | Path) -> int:
    """`pdlib track DATASET`: 0 every video has usable keypoints, 1 some do not (each named with the fraction
    tracked or its fault), 2 a malformed dataset or MediaPipe missing."""
    from pdlib.data.manifest import DatasetError

    try:
        report = track_dataset(root, cache_dir)
    except (DatasetError, TrackingUnavailable) as err:
        print(f"pdlib track: error: {err}", file=sys.stderr)
        return 2
    out = Path(cache_dir) / "keypoints" / f"report_{Path(root).resolve().name}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    report.to_csv(out, index=False)
    bad = report[~report["status"].isin(["own keypoints", "cached", "tracked"])
                 & ~report["status"].str.startswith("skipped")]
    counts = report["status"].str.split(":").str[0].value_counts().to_dict()
    print(f"{len(report)} videos: {', '.join(f'{n} {s}' for s, n in counts.items())}; keypoints in "
          f"{Path(cache_dir) / 'keypoints'}")
    for r in bad.itertuples():
        print(f"  {r.video}: {r.status}")
    print(f"report: {out}")
    return 1 if len(bad) else 0
