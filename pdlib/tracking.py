"""Keypoints of real videos: MediaPipe's hand and pose landmarkers, cached per video (`pdlib track DATASET`).

MediaPipe 0.10.14 is the last wheel whose legacy `solutions` API ships its model files (hand_landmark_full,
palm_detection_full, pose_landmark_full .tflite) inside the wheel, so tracking runs offline and nothing is
downloaded. It is an optional extra (`pip install -e ".[pose]"`): wheels exist for Python 3.9-3.12 on
Linux x86-64, macOS arm64 and Windows x86-64 (checked with `pip download`; none for 3.13); it brings
opencv-contrib-python, jax and protobuf < 5.

Each video is tracked once in its task's convention (`pdlib.kinematics`: 21 hand landmarks for finger, hand
and pronation; 33 pose landmarks for the others): MediaPipe is asked for TWO hands (both are in view: the
patient taps with one while the other rests) or one body, and every detection is written, as a landmark file
(`pdlib.landmarks`: long format, pixels of the full upright frame, its width and height in columns of the
file; frames where nothing was found are absent). The file is cached by the content hash of the video
(`outputs/<profile>/cache/keypoints/<hash>_<convention>_mediapipe0.10.14_all-upright.landmarks.csv`), so a
video listed for side L and side R is tracked once, and a changed file again; one-hand caches of earlier
versions (`.npz`) are not reused. Each row's keypoints then come from `load_keypoints(file, task, side)`: the
patient's hand of the row's side, chosen by position. A video with its own keypoints beside it
(`<name>.keypoints.npz` or `<name>.landmarks.csv`: SynPD's true ones, or a user's from another tracker), and
a row that names a landmark file instead of a video, are not tracked.
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
from pdlib.kinematics import (
    CONVENTIONS,
    TASK_CONVENTION,
    Keypoints,
    KinematicsError,
    task_features,
    tracking_fault,
    window_text,
)
from pdlib.landmarks import (
    LANDMARKS_SUFFIX,
    Detections,
    LandmarksError,
    frame_timing,
    is_landmark_file,
    load_keypoints,
    own_keypoints,
    side_keypoints,
)
from pdlib.messages import count, exit_code
from pdlib.progress import progress_bar

MEDIAPIPE = "0.10.14"
MAX_HANDS = 2  # both hands are in view: the one that performs the task is chosen by position afterwards
CACHE_FORMAT = "all-upright"  # every detection, pixels of the full upright frame (in the cache file's name)
TRACK_REPORT_COLUMNS = ["video", "task", "side", "status", "tracked", "frames", "keypoints"]

# A landmarker: called with one upright RGB frame (H, W, 3) uint8, returns a list of detections (empty when
# nothing was found), each (K, 3) or (K, 4) landmarks: x, y fractions of the frame's width and height, z in
# width units, and (pose) MediaPipe's visibility.
Landmarker = Callable[[np.ndarray], "list[np.ndarray]"]


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
    """MediaPipe's hand (up to `hands` hands, full model) or pose (one body, full model) landmarker in video
    mode, for one video: a new one per video, so tracking never carries over from the previous video."""

    def __init__(self, convention: str, hands: int = MAX_HANDS):
        solutions = _solutions()
        self._pose, self._first = convention == "pose", True
        with _quiet_native_stderr():
            if convention == "hand":
                self._model = solutions.hands.Hands(static_image_mode=False, max_num_hands=hands, model_complexity=1,
                                                    min_detection_confidence=0.5, min_tracking_confidence=0.5)
                self._pick = lambda r: list(r.multi_hand_landmarks or [])
            else:
                self._model = solutions.pose.Pose(static_image_mode=False, model_complexity=1,
                                                  smooth_landmarks=True, min_detection_confidence=0.5,
                                                  min_tracking_confidence=0.5)
                self._pick = lambda r: [r.pose_landmarks] if r.pose_landmarks else []

    def __call__(self, frame: np.ndarray) -> list[np.ndarray]:
        """Every detection's (K, 3) normalised landmarks (x, y, z); pose: (33, 4) with the visibility, which
        `pdlib.landmarks` reads (the pose model places all 33 whenever it finds a body, out of the picture too)."""
        with warnings.catch_warnings():  # mediapipe 0.10.14 calls a protobuf API protobuf 4 deprecates
            warnings.filterwarnings("ignore", "SymbolDatabase.GetPrototype", UserWarning)
            if self._first:  # the graph starts (and logs) on the first frame
                with _quiet_native_stderr():
                    found = self._pick(self._model.process(frame))
                self._first = False
            else:
                found = self._pick(self._model.process(frame))
        if self._pose:
            return [np.array([(p.x, p.y, p.z, p.visibility) for p in f.landmark], float) for f in found]
        return [np.array([(p.x, p.y, p.z) for p in f.landmark], float) for f in found]

    def close(self) -> None:
        self._model.close()


def _as_detections(found, k: int) -> list[np.ndarray]:
    """A landmarker's answer as a list of (k, 3 or 4) arrays (a bare array or None, as older landmarkers
    answered, taken as one detection or none); detections of another landmark count are dropped."""
    if found is None:
        return []
    found = [found] if isinstance(found, np.ndarray) and found.ndim == 2 else list(found)
    return [np.asarray(f, float) for f in found if np.ndim(f) == 2 and len(f) == k and np.shape(f)[1] in (3, 4)]


def upright_size(path: str | Path) -> tuple[int, int]:
    """(width, height) in pixels of a video's upright picture at full resolution (its first frame, turned as
    its display matrix says). Raises VideoDecodeError naming the file when no frame decodes."""
    import av

    from pdlib.data.video import _open, _video_stream, ffmpeg_reason, orientation

    path = Path(path)
    with _open(path) as container:
        try:
            for frame in container.decode(_video_stream(path, container, [])):
                turned = orientation(frame)[0] in (90, 270)
                return (frame.height, frame.width) if turned else (frame.width, frame.height)
        except av.FFmpegError as e:
            raise VideoDecodeError(f"{path}: cannot decode the first frame ({ffmpeg_reason(e)})") from e
    raise VideoDecodeError(f"{path}: no frame could be decoded")


def track_detections(path: str | Path, convention: str, landmarker: Landmarker | None = None,
                     max_side: int = 640) -> tuple[pd.DataFrame, np.ndarray]:
    """Every detection of the convention's landmarks in every frame of one video (frames downscaled to
    `max_side` for the tracker; positions scaled back to pixels of the full upright frame). Returns the
    detections in the landmark-file format (columns t, track, landmark, x, y, z, [visibility,] width,
    height; `pdlib.landmarks`), a frame where nothing was found as a row with t alone, and every decoded
    frame's time in seconds. `landmarker`: default MediaPipe's (two hands, or one body)."""
    own = landmarker is None
    landmarker = MediaPipeLandmarker(convention) if own else landmarker
    width, height = upright_size(path)
    k = len(CONVENTIONS[convention])
    times, t, track, points = [], [], [], []
    try:
        for seconds, frame in iter_frames(path, max_side):
            times.append(seconds)
            found = _as_detections(landmarker(frame), k)
            for i, one in enumerate(found or [np.full((k, 4), np.nan)]):  # nothing found: t alone (track -1)
                t.append(seconds)
                track.append(i if found else -1)
                points.append(one if one.shape[1] == 4 else np.column_stack([one, np.full(k, np.nan)]))
    finally:
        if own:
            landmarker.close()
    if not times:
        raise VideoDecodeError(f"{path}: no frame could be decoded")
    p = np.asarray(points, float).reshape(-1, 4)
    table = pd.DataFrame({"t": np.repeat(t, k), "track": np.repeat(track, k), "landmark": np.tile(np.arange(k), len(t)),
                          "x": p[:, 0] * width, "y": p[:, 1] * height, "z": p[:, 2] * width, "visibility": p[:, 3]})
    table = table[(table["track"] >= 0) | (table["landmark"] == 0)].astype({"track": "Int64", "landmark": "Int64"})
    table.loc[table["track"] < 0, ["track", "landmark"]] = pd.NA  # a frame with nothing found: t alone
    if convention != "pose":
        table = table.drop(columns="visibility")
    return table.assign(width=width, height=height).reset_index(drop=True), np.asarray(times, float)


def write_landmarks(table: pd.DataFrame, path: str | Path) -> None:
    """A detections table as a `.landmarks.csv` (t to the microsecond, positions to 1/1000 pixel), written to a
    temporary file then moved into place, so an interrupted run leaves no half file in the cache."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    digits = {"t": 6, "x": 3, "y": 3, "z": 3, "visibility": 4}
    part = path.with_name(path.name + ".part")
    table.round({c: d for c, d in digits.items() if c in table.columns}).to_csv(part, index=False)
    os.replace(part, path)


def _detections(table: pd.DataFrame, convention: str, path: str | Path) -> Detections:
    """`track_detections`' table as `read_landmarks` would read it back (pixels, the frame size known)."""
    blank = table["track"].isna().to_numpy()
    width, height = (float(table[c].iloc[0]) if len(table) else None for c in ("width", "height"))
    found = table[~blank].drop(columns=["width", "height"]).astype({"track": np.int64, "landmark": np.int64})
    return Detections(found, convention, Path(path), width, height, blank_times=table["t"].to_numpy(float)[blank])


def track_video(path: str | Path, task: str, side: str = "", landmarker: Landmarker | None = None,
                max_side: int = 640, mirrored: bool = False) -> Keypoints:
    """The keypoints of the patient's `side` in every frame of one video, tracked now (nothing written):
    every detection (`track_detections`), then the side's hand by position (`side_keypoints`; "" the only
    hand). Pixels of the full upright frame, with its size; every decoded frame's time, NaN where the side's
    hand (or the body) was not found, all NaN when it never was."""
    convention = TASK_CONVENTION[task]
    table, times = track_detections(path, convention, landmarker, max_side)
    k = len(CONVENTIONS[convention])
    xy = np.full((len(times), k, 3), np.nan)
    width, height = upright_size(path)
    try:
        kp = side_keypoints(_detections(table, convention, path), side, mirrored)
    except LandmarksError:
        kp = None
    if kp is not None:
        at = np.clip(np.searchsorted(times, kp.t), 0, len(times) - 1)
        same = np.isclose(times[at], kp.t, rtol=0, atol=1e-9)
        xy[at[same], :, :kp.xy.shape[2]] = kp.xy[same]
    return Keypoints(xy, times, convention, side, f"mediapipe {MEDIAPIPE}", float(width), float(height))


def tracked_path(cache_dir: str | Path, digest: str, convention: str) -> Path:
    """Where `pdlib track` caches a video's detections (the format tag changes when the cached format does)."""
    name = f"{digest}_{convention}_mediapipe{MEDIAPIPE}_{CACHE_FORMAT}{LANDMARKS_SUFFIX}"
    return Path(cache_dir) / "keypoints" / name


def keypoint_files(videos: pd.DataFrame, cache_dir: str | Path | None) -> list[Path | None]:
    """Per row (columns path, task) the file its keypoints load from (`pdlib.landmarks.load_keypoints(file,
    task, side, ...)`): its own (`own_keypoints`: a landmark file itself, or one beside the video), else its
    tracked detections in the cache; None when that file does not exist."""
    out = []
    for path, task in zip(videos["path"], videos["task"], strict=True):
        file = own_keypoints(path) if cache_dir is None else _keypoints_file(path, task, cache_dir)
        out.append(file if file is not None and file.is_file() else None)
    return out


def video_features(videos: pd.DataFrame, cache_dir: str | Path | None = None) -> pd.DataFrame:
    """One row per row of `videos` (columns video, task, side, path; optional mirrored, width, height): its
    task's kinematic features (`pdlib.kinematics.task_features`; NaN for another task's), `tracked`,
    `active_from`/`active_to` (s) and `window` (text: the seconds measured, e.g. "12.1-27.4 s of 41.0 s"),
    `fps` (median frame rate) and `variable_rate`, and `note` saying why a row has none (no keypoints,
    unreadable, the side's hand never found, poorly tracked, the limb not seen performing the task).
    Keypoints: the row's own (a landmark file, or one beside its video), else `pdlib track`'s in `cache_dir`;
    a recording of both hands gives each row its side's hand."""
    rows = []
    for (_, v), file in zip(videos.iterrows(), keypoint_files(videos, cache_dir), strict=True):
        row = {"video": v["video"], "task": v["task"], "tracked": 0.0, "note": "", "window": ""}
        if v["task"] not in TASK_CONVENTION:
            row["note"] = f"no kinematic features for task {v['task']!r} (tasks: {', '.join(TASK_CONVENTION)})"
        elif file is None:
            row["note"] = f"no keypoints for {v['path']}: run `pdlib track`"
        else:
            try:
                keypoints = _row_keypoints(v, file)
                feats = task_features(keypoints, v["task"])
            except KinematicsError as err:  # a load error names the file already
                row["note"] = str(err) if str(err).startswith(str(file)) else f"{file}: {err}"
            else:
                row |= feats
                row["note"] = row.pop("reason")
                row["window"] = window_text(keypoints, feats["active_from"], feats["active_to"])
                row["fps"], variable = frame_timing(keypoints.t)
                row["variable_rate"] = bool(variable)
        rows.append(row)
    return pd.DataFrame(rows)


def _keypoints_file(path: str, task: str, cache_dir: str | Path) -> Path | None:
    """A row's own keypoints file when it has one, else where tracking caches its video's; None: a landmark
    file or video that does not exist, or a task without landmarks (PD4T's gait)."""
    own = own_keypoints(path)
    if own is not None:
        return own if own.is_file() or not is_landmark_file(path) else None
    if task not in TASK_CONVENTION or not Path(path).is_file():
        return None
    return tracked_path(cache_dir, content_hash(path), TASK_CONVENTION[task])


def _row_keypoints(v, file: Path) -> Keypoints:
    """A report row's keypoints from its file (the row's side, mirrored flag and frame size when given)."""
    return load_keypoints(file, v.task, getattr(v, "side", ""), bool(getattr(v, "mirrored", False)),
                          getattr(v, "width", None), getattr(v, "height", None))


def _track_row(v, file: Path | None, factory: Callable[[str], Landmarker] | None) -> tuple[dict, Keypoints | None]:
    """One row of `track_dataset`: (status, tracked, frames, keypoints columns; the keypoints or None)."""
    row = {"status": "", "tracked": np.nan, "frames": 0, "keypoints": ""}
    if file is None:
        return row | {"status": f"unusable: {v.path}: missing file"}, None
    own = file == own_keypoints(v.path)
    try:
        if file.is_file():
            row["status"] = "own keypoints" if own else "cached"
        else:
            landmarker = (factory or MediaPipeLandmarker)(TASK_CONVENTION[v.task])
            try:
                table, _ = track_detections(v.path, TASK_CONVENTION[v.task], landmarker)
            finally:
                getattr(landmarker, "close", lambda: None)()
            write_landmarks(table, file)
            row["status"] = "tracked"
        kp = _row_keypoints(v, file)
    except LandmarksError as err:
        if own:
            return row | {"status": f"unusable: {err}"}, None
        fault = str(err).removeprefix(f"{file}: ")  # the cache file means nothing to the user: the video does
        return row | {"status": f"poorly tracked: {fault}: left out", "tracked": 0.0,
                      "keypoints": str(file)}, None
    except (VideoDecodeError, OSError, ValueError) as err:
        return row | {"status": f"unusable: {err}"}, None
    return row | {"tracked": kp.tracked(v.task), "frames": len(kp.t), "keypoints": str(file)}, kp


def track_dataset(root: str | Path, cache_dir: str | Path, landmarker_factory: Callable[[str], Landmarker] | None
                  = None, progress: bool = True) -> pd.DataFrame:
    """Track every video of a dataset folder (manifest format; `score` may be empty) into the cache, each file
    once however many rows list it; returns one row per videos.csv row (TRACK_REPORT_COLUMNS): status "own
    keypoints", "cached", "tracked", "poorly tracked: ..." or "unusable: <reason>" ("skipped: ..." for a task
    without landmarks, PD4T's gait), the fraction of frames with the landmarks of the row's side's hand (or
    the body) its task needs, frames, the keypoints file.
    Raises TrackingUnavailable (before any video) when MediaPipe is missing and a video needs tracking."""
    from pdlib.data.manifest import load_manifest

    videos, _ = load_manifest(root, scored=False)
    files = [_keypoints_file(path, task, cache_dir) for path, task in zip(videos["path"], videos["task"], strict=True)]
    if landmarker_factory is None and any(f is not None and not f.is_file() for f in files):
        _solutions()  # a missing extra is said once, before any video
    rows = []
    for v, file in progress_bar(list(zip(videos.itertuples(), files, strict=True)), desc="tracking",
                                disable=not progress):
        row = {"video": v.video, "task": v.task, "side": v.side}
        if v.task not in TASK_CONVENTION:
            rows.append(row | {"status": f"skipped: no landmarks for task {v.task!r} (tasks: "
                                         f"{', '.join(TASK_CONVENTION)})", "tracked": np.nan, "frames": 0,
                               "keypoints": ""})
            continue
        found, kp = _track_row(v, file, landmarker_factory)
        row |= found
        if kp is not None and (fault := tracking_fault(kp, v.task)):
            row["status"] = f"poorly tracked: {fault}"
        rows.append(row)
    return pd.DataFrame(rows, columns=TRACK_REPORT_COLUMNS)


def track_main(root: str, cache_dir: str | Path) -> int:
    """`pdlib track DATASET`: 0 every video has usable keypoints, 1 some do not (each named with the fraction
    tracked or its fault), 2 a malformed dataset, MediaPipe missing, or no video with usable keypoints
    (`pdlib.messages.exit_code`)."""
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
    print(f"{count(len(report), 'video')}: {', '.join(f'{n} {s}' for s, n in counts.items())}; keypoints in "
          f"{Path(cache_dir) / 'keypoints'}")
    for r in bad.itertuples():
        print(f"  {r.video}: {r.status}")
    print(f"report: {out}")
    considered = int((~report["status"].str.startswith("skipped")).sum())  # a gait video is not for tracking
    code = exit_code(considered, len(bad))
    if code == 2:
        print("error: no video has usable keypoints (each named above)", file=sys.stderr)
    return code


KINEMATICS_COLUMNS = ["video", "patient", "exam", "task", "side", "score", "tracked", "fps", "variable_rate",
                      "window", "note"]


def kinematics_main(root: str, cache_dir: str | Path, out: str | Path) -> int:
    """`pdlib kinematics DATASET`: one CSV row per row of the dataset (its features, tracked fraction, frame
    rate, the window measured, the rater's score; `note` says why a row has no features) written to `out`.
    0: every row has features; 1: some have none (named); 2: a malformed dataset, or no row with features
    (`pdlib.messages.exit_code`)."""
    from pdlib.data.manifest import DatasetError, load_manifest

    try:
        videos, _ = load_manifest(root, scored=False)
    except DatasetError as err:
        print(f"pdlib kinematics: error: {err}", file=sys.stderr)
        return 2
    table = video_features(videos, cache_dir)
    names = [c for c in table.columns if c not in KINEMATICS_COLUMNS + ["active_from", "active_to"]]
    table = pd.concat([videos[["patient", "exam", "side", "score"]].reset_index(drop=True),
                       table.drop(columns=["side"], errors="ignore")], axis=1)
    table = table.reindex(columns=[*KINEMATICS_COLUMNS[:-1], "active_from", "active_to", *names, "note"])
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    table.round(4).to_csv(out, index=False)
    left_out = table[table["note"].fillna("") != ""]
    print(f"{count(len(table), 'row')}: {len(table) - len(left_out)} with kinematic features, {len(left_out)} "
          f"without; table: {out}")
    for r in left_out.itertuples():
        print(f"  {r.video} ({r.task} {r.side}): {r.note}")
    code = exit_code(len(table), len(left_out))
    if code == 2:
        print("error: no row has kinematic features (each named above)", file=sys.stderr)
    return code


def kinematics_examples(rows: pd.DataFrame, cache_dir: str | Path | None, per_score: int = 1) -> list[tuple]:
    """A few rows of one task to look at, `per_score` per rater's score (the first rows whose keypoints load):
    (name "<task>_score<s>_<exam>_<side>", Keypoints, caption) each, for `plots.kinematics_signal`."""
    out = []
    files = dict(zip(rows.index, keypoint_files(rows, cache_dir), strict=True))
    for score, group in rows.groupby("score", sort=True):
        found = 0
        for i, v in group.iterrows():
            if found == per_score or files[i] is None:
                continue
            try:
                kp = _row_keypoints(v, files[i])
            except KinematicsError:
                continue
            found += 1
            name = f"{v['task']}_score{int(score)}_{v['exam']}_{v.get('side') or 'x'}"
            out.append((name, kp, f"{v['task']} of examination {v['exam']} (patient {v['patient']}), side "
                                  f"{v.get('side') or 'not given'}, rated {int(score)}: {v['video']}"))
    return out
