"""Kinematics: what a rater looks at, measured from keypoints (the pose-based family of VisionMD, PARK, FastEval).

A video's keypoints are a `Keypoints`: (T, K, 2 or 3) positions in MediaPipe's conventions (21 hand landmarks
for finger tapping, hand movements and pronation; 33 pose landmarks for toe tapping, leg agility and the two
tremors), per-frame timestamps in seconds (variable frame rates welcome), NaN where a landmark was not found.
They come from SynPD's renderer (the true joints, `<task>_<side>.keypoints.npz` beside each video) or from a
tracker (`pdlib track`, MediaPipe).

Each task gets one movement signal, normalised by the body's own size so that zoom and distance cancel:

  finger     thumb tip to index fingertip distance / hand size (wrist to middle-finger MCP)
  hand       mean distance of the four fingertips to the wrist / hand size
  pronation  index MCP minus little-finger MCP across the hand's axis / hand size (turns sign as the palm does)
  toe        elevation of the foot (heel to foot index) above the horizontal, radians
  leg        height of the knee above the hip / thigh length
  tremors    index fingertip relative to the shoulder / arm length (shoulder to wrist)

From the signal, the MDS-UPDRS-III's words for items 3.4-3.8 (amplitude, speed, rhythm, hesitations and
halts, decrement over the repetitions) and for 3.15-3.16 (tremor frequency and amplitude) as named features:
`FEATURES` maps each name to the function that computes it, whose docstring says how. The repetitive tasks'
features read one `analyse(kp, task)` (`pdlib.repetitive`: the bout where the limb performs the task, holds
and halts, the taps), which `pdlib.plots.kinematics_signal` draws; a limb not seen performing the task is
reported with its reason (`task_features`' `reason`), never scored.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import signal

from pdlib.repetitive import REPETITIVE, Analysis, Movement, analyse_signal, on_grid
from pdlib.tasks import TREMOR_TASKS

HAND_LANDMARKS: tuple[str, ...] = (
    "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip", "index_finger_mcp", "index_finger_pip",
    "index_finger_dip", "index_finger_tip", "middle_finger_mcp", "middle_finger_pip", "middle_finger_dip",
    "middle_finger_tip", "ring_finger_mcp", "ring_finger_pip", "ring_finger_dip", "ring_finger_tip", "pinky_mcp",
    "pinky_pip", "pinky_dip", "pinky_tip")
POSE_LANDMARKS: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index")
CONVENTIONS = {"hand": HAND_LANDMARKS, "pose": POSE_LANDMARKS}
TASK_CONVENTION = {"finger": "hand", "hand": "hand", "pronation": "hand", "toe": "pose", "leg": "pose",
                   "postural": "pose", "kinetic": "pose"}
# The landmarks each task's signal needs (pose names without their side: the video's side is added).
NEEDS = {"finger": ("wrist", "middle_finger_mcp", "thumb_tip", "index_finger_tip"),
         "hand": ("wrist", "middle_finger_mcp", "index_finger_tip", "middle_finger_tip", "ring_finger_tip",
                  "pinky_tip"),
         "pronation": ("wrist", "middle_finger_mcp", "index_finger_mcp", "pinky_mcp"),
         "toe": ("heel", "foot_index"), "leg": ("hip", "knee"),
         "postural": ("shoulder", "wrist", "index"), "kinetic": ("shoulder", "wrist", "index")}
MIN_TRACKED = 0.5  # a tremor video whose landmarks were found in fewer frames is reported and left out


class KinematicsError(ValueError):
    """Keypoints that cannot be read or used (the message names the file and the fault)."""


def keypoints_path(video: str | Path) -> Path:
    """Where a video's own keypoints lie: beside it, `<name>.keypoints.npz` (SynPD writes them there)."""
    return Path(video).with_suffix(".keypoints.npz")


@dataclass(frozen=True, eq=False)
class Keypoints:
    """One video's keypoints: xy (T, K, 2 or 3) in pixels of the upright frame (NaN: not found), t (T,)
    seconds, the convention ("hand": 21 landmarks, "pose": 33), the body side filmed ("L", "R" or ""), where
    they came from, the frame's width and height in pixels (None: unknown) and notes on how they were read
    (e.g. a landmark file's coordinates read as a square frame; not saved)."""

    xy: np.ndarray
    t: np.ndarray
    convention: str
    side: str = ""
    source: str = ""
    width: float | None = None
    height: float | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self):
        if self.convention not in CONVENTIONS:
            raise KinematicsError(f"unknown keypoint convention {self.convention!r}; expected hand or pose")
        k = len(CONVENTIONS[self.convention])
        if self.xy.ndim != 3 or self.xy.shape[1] != k or self.xy.shape[2] not in (2, 3):
            raise KinematicsError(f"keypoints of shape {self.xy.shape}: expected (T, {k}, 2 or 3) for "
                                  f"{self.convention} landmarks")
        if self.t.shape != (self.xy.shape[0],):
            raise KinematicsError(f"{self.xy.shape[0]} frames of keypoints but {self.t.size} timestamps")

    @classmethod
    def from_named(cls, points: dict[str, np.ndarray], t: np.ndarray, task: str, side: str = "R",
                   source: str = "synpd truth") -> Keypoints:
        """From {landmark name: (T, 2)}: pose names given for the right side become the left side's in a left
        video; landmarks not given stay NaN."""
        convention = TASK_CONVENTION[task]
        names = CONVENTIONS[convention]
        xy = np.full((len(t), len(names), 2), np.nan, np.float32)
        for name, p in points.items():
            if convention == "pose" and side == "L":
                name = name.replace("right_", "left_")
            xy[:, names.index(name)] = p
        return cls(xy, np.asarray(t, float), convention, side, source)

    def save(self, path: str | Path) -> None:
        """To `.keypoints.npz`: xy (float32), t, convention, side, source, width and height (NaN: unknown)."""
        np.savez_compressed(path, xy=self.xy.astype(np.float32), t=self.t, convention=self.convention,
                            side=self.side, source=self.source,
                            width=np.nan if self.width is None else self.width,
                            height=np.nan if self.height is None else self.height)

    @classmethod
    def load(cls, path: str | Path) -> Keypoints:
        if not zipfile.is_zipfile(path):
            raise KinematicsError(f"{path}: not a keypoints file (not an .npz archive)")
        try:
            with np.load(path, allow_pickle=False) as z:
                size = [float(z[k]) if k in z.files and np.isfinite(z[k]) else None for k in ("width", "height")]
                return cls(z["xy"].astype(float), z["t"].astype(float), str(z["convention"]), str(z["side"]),
                           str(z["source"]), *size)
        except KeyError as err:
            raise KinematicsError(f"{path}: not a keypoints file (no {err} array)") from None
        except KinematicsError as err:
            raise KinematicsError(f"{path}: {err}") from None

    def point(self, name: str) -> np.ndarray:
        """(T, D) positions of one landmark; a pose landmark named without side is the filmed side's."""
        if self.convention == "pose" and not name.startswith(("left_", "right_")) and name != "nose":
            name = f"{'left' if self.side == 'L' else 'right'}_{name}"
        return self.xy[:, CONVENTIONS[self.convention].index(name)]

    def tracked(self, task: str) -> float:
        """Fraction of frames where every landmark the task's signal needs was found."""
        found = np.ones(len(self.t), bool)
        for name in NEEDS[task]:
            found &= np.isfinite(self.point(name)).all(axis=1)
        return float(found.mean()) if len(found) else 0.0


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=1)


def _scale(d: np.ndarray, what: str) -> float:
    s = float(np.nanmedian(d)) if np.isfinite(d).any() else np.nan
    if not s > 0:
        raise KinematicsError(f"the {what} is zero or never seen: cannot normalise")
    return s


def task_signal(kp: Keypoints, task: str) -> np.ndarray:
    """(T,) the task's movement signal (module docstring), NaN where its landmarks were not found; tremor
    tasks: (T, 2) fingertip displacement from the shoulder in arm lengths."""
    p = kp.point
    if task in ("finger", "hand", "pronation"):
        size = _scale(_dist(p("wrist"), p("middle_finger_mcp")), "hand size (wrist to middle-finger MCP)")
        if task == "finger":
            return _dist(p("thumb_tip"), p("index_finger_tip")) / size
        if task == "hand":
            tips = ("index_finger_tip", "middle_finger_tip", "ring_finger_tip", "pinky_tip")
            return np.mean([_dist(p(f), p("wrist")) for f in tips], axis=0) / size
        axis = (p("middle_finger_mcp") - p("wrist"))[:, :2]
        axis /= np.linalg.norm(axis, axis=1, keepdims=True)
        across = (p("index_finger_mcp") - p("pinky_mcp"))[:, :2]
        return (axis[:, 0] * across[:, 1] - axis[:, 1] * across[:, 0]) / size
    if task == "toe":
        d = p("foot_index") - p("heel")
        return np.arctan2(-d[:, 1], np.abs(d[:, 0]))  # image y points down
    if task == "leg":
        thigh = _scale(_dist(p("hip"), p("knee")), "thigh length (hip to knee)")
        return (p("hip")[:, 1] - p("knee")[:, 1]) / thigh
    if task in TREMOR_TASKS:
        arm = _scale(_dist(p("shoulder"), p("wrist")), "arm length (shoulder to wrist)")
        return (p("index") - p("shoulder"))[:, :2] / arm
    raise KinematicsError(f"unknown task {task!r}; tasks: {', '.join(TASK_CONVENTION)}")


def uniform(t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float]:
    """The signal (T, ...) resampled on a uniform grid at the median frame rate (variable frame rates,
    dropped frames), NaN samples filled by linear interpolation from the found ones; returns (x, fps). The
    tremor features' grid (the repetitive tasks' is `pdlib.repetitive.on_grid`, which leaves long gaps)."""
    t = np.asarray(t, float)
    x = np.asarray(x, float).reshape(len(t), -1)
    ok = np.isfinite(x).all(axis=1) & np.isfinite(t)
    steps = np.diff(t[np.isfinite(t)])
    fps = 1.0 / float(np.median(steps[steps > 0])) if (steps > 0).any() else 25.0
    if ok.sum() < 2:
        return np.full((0, x.shape[1]), np.nan), fps
    grid = np.arange(t[ok][0], t[ok][-1] + 0.5 / fps, 1.0 / fps)
    return np.stack([np.interp(grid, t[ok], x[ok, j]) for j in range(x.shape[1])], axis=1), fps


FEATURES: dict[str, Callable] = dict(REPETITIVE)  # name -> function(Analysis) or function(tremor signal, fps)


def _feature(kind: str):
    def register(fn):
        fn.kind = kind
        FEATURES[fn.__name__] = fn
        return fn
    return register


TREMOR_BAND = (3.0, 12.0)  # Hz: parkinsonian and essential tremor


def _tremor_component(x: np.ndarray, fps: float) -> np.ndarray:
    """(T,) the displacement along its main axis, the slow movement (below 2 Hz) removed."""
    x = x - x.mean(axis=0)
    if len(x) > 15:
        x = signal.sosfiltfilt(signal.butter(2, 2.0, "highpass", fs=fps, output="sos"), x, axis=0)
    if len(x) < 2:
        return np.zeros(len(x))
    _, _, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    return x @ vt[0]


@_feature("tremor")
def tremor_frequency_hz(x: np.ndarray, fps: float) -> float:
    """Frequency of the largest peak of the Welch spectrum within 3-12 Hz (below Nyquist) of the fingertip's
    displacement along its main axis, slow movement (< 2 Hz) removed."""
    c = _tremor_component(x, fps)
    f, pxx = signal.welch(c, fs=fps, nperseg=min(len(c), int(2 * fps)))
    band = (f >= TREMOR_BAND[0]) & (f <= min(TREMOR_BAND[1], fps / 2))
    return float(f[band][np.argmax(pxx[band])]) if band.any() else np.nan


@_feature("tremor")
def tremor_amplitude(x: np.ndarray, fps: float) -> float:
    """Peak-to-peak tremor amplitude in arm lengths: 2 sqrt(2) times the RMS of the main-axis displacement
    band-passed to 3-12 Hz (exact for a sinusoid)."""
    c = _tremor_component(x, fps)
    hi = min(TREMOR_BAND[1], 0.45 * fps)
    if len(c) > 15:
        c = signal.sosfiltfilt(signal.butter(2, (TREMOR_BAND[0], hi), "bandpass", fs=fps, output="sos"), c)
    return float(2.0 * np.sqrt(2.0) * np.sqrt(np.mean(c ** 2))) if len(c) else 0.0


@_feature("tremor")
def tremor_power_ratio(x: np.ndarray, fps: float) -> float:
    """Share of the displacement's power (slow movement removed) that lies within 3-12 Hz: how much of the
    remaining motion is tremor rather than drift or jitter."""
    c = _tremor_component(x, fps)
    f, pxx = signal.welch(c, fs=fps, nperseg=min(len(c), int(2 * fps)))
    band = (f >= TREMOR_BAND[0]) & (f <= TREMOR_BAND[1])
    return float(pxx[band].sum() / pxx.sum()) if pxx.sum() > 0 else 0.0


@_feature("tremor")
def tremor_steadiness(x: np.ndarray, fps: float) -> float:
    """The 5-95% range of the fingertip's position along its main axis, slow movement included (arm
    lengths): how still the hand is held or how straight the reach is."""
    c = x - x.mean(axis=0)
    if len(c) < 2:
        return 0.0
    _, _, vt = np.linalg.svd(c, full_matrices=False)
    m = c @ vt[0]
    return float(np.percentile(m, 95) - np.percentile(m, 5))


def feature_names(task: str) -> list[str]:
    kind = "tremor" if task in TREMOR_TASKS else "repetitive"
    return [name for name, fn in FEATURES.items() if fn.kind == kind]


def describe_features() -> pd.DataFrame:
    """The features as a table: name, kind (repetitive: items 3.4-3.8; tremor: 3.15-3.16), how computed."""
    return pd.DataFrame([{"feature": n, "kind": fn.kind, "how": " ".join(fn.__doc__.split())}
                         for n, fn in FEATURES.items()])


TREMOR_MOVEMENT = Movement("arm", "holding", "fingertip along its main axis", "arm lengths", 0.0)


def analyse(kp: Keypoints, task: str) -> Analysis:
    """One video's movement analysed (`pdlib.repetitive.Analysis`, read by the features and by
    `pdlib.plots.kinematics_signal`): for a repetitive task, its signal (`task_signal`) on a uniform grid with
    untracked stretches, the active window and its taps (`analyse_signal`); for a tremor task, the fingertip's
    displacement from the shoulder along its main axis (arm lengths), the whole tracked span as window."""
    if task not in TREMOR_TASKS:
        return analyse_signal(kp.t, task_signal(kp, task), task, kp.side)
    grid, xy, fps = on_grid(kp.t, task_signal(kp, task))
    ok = np.isfinite(xy).all(axis=1)
    main = np.full(len(grid), np.nan)
    if ok.sum() > 1:
        centred = xy[ok] - xy[ok].mean(axis=0)
        main[ok] = centred @ np.linalg.svd(centred, full_matrices=False)[2][0]
    window = (float(grid[ok][0]), float(grid[ok][-1])) if ok.any() else (np.nan, np.nan)
    return Analysis(task, kp.side, grid, main, main, fps, TREMOR_MOVEMENT, window=window)


def task_features(kp: Keypoints, task: str) -> dict[str, float | str]:
    """The task's named features of one video (`feature_names(task)`), with `tracked` (fraction of frames
    with the landmarks the signal needs), `active_from` and `active_to` (s: the window measured; a tremor
    task's whole tracked span) and `reason`: "" when usable, else why not (`untracked`; "left hand not seen
    tapping": no bout of taps above jitter; the bout tracked in under half its time), and then every feature
    is NaN (the video is reported, never scored as still)."""
    names = feature_names(task)
    out = {"tracked": kp.tracked(task), **dict.fromkeys(names, np.nan), "active_from": np.nan,
           "active_to": np.nan, "reason": ""}
    if reason := untracked(kp, task):
        return out | {"reason": reason}
    if task in TREMOR_TASKS:
        x, fps = uniform(kp.t, task_signal(kp, task))
        span = analyse(kp, task).window
        return out | {n: FEATURES[n](x, fps) for n in names} | {"active_from": span[0], "active_to": span[1]}
    a = analyse(kp, task)
    out |= {"active_from": a.window[0], "active_to": a.window[1]}
    return out | {"reason": a.reason} if a.reason else out | {n: FEATURES[n](a) for n in names}


def untracked(kp: Keypoints, task: str) -> str:
    """"", or why a video's keypoints are too poorly tracked to measure: never tracked; a tremor task's
    recording tracked in under MIN_TRACKED of its frames. A repetitive task is judged on its bout instead
    (`Analysis.reason`: tracked in under half of its window): in a two-handed recording one hand may rest out
    of the tracker's sight for most of the time while the other taps, and that is no fault."""
    tracked = kp.tracked(task)
    if tracked == 0 or (task in TREMOR_TASKS and tracked < MIN_TRACKED):
        body = "hand" if TASK_CONVENTION[task] == "hand" else "body"
        return f"{body} tracked in {100 * tracked:.0f}% of frames (under {100 * MIN_TRACKED:.0f}%): left out"
    return ""


def tracking_fault(kp: Keypoints, task: str) -> str:
    """"", or why tracking left a video unmeasurable (`untracked`, or a repetitive task's bout tracked in
    under half its window): what `pdlib track` calls "poorly tracked"."""
    if reason := untracked(kp, task):
        return reason
    try:
        a = analyse(kp, task)
    except KinematicsError:  # unmeasurable for another reason than tracking: the kinematics row says which
        return ""
    return a.reason if a.reason and np.isfinite(a.window).all() else ""


def window_text(kp: Keypoints, active_from: float, active_to: float) -> str:
    """"12.1-27.4 s of 41.0 s": the seconds measured, of the recording's last timestamp; "" without."""
    if not (np.isfinite(active_from) and np.isfinite(active_to)) or not np.isfinite(kp.t).any():
        return ""
    return f"{active_from:.1f}-{active_to:.1f} s of {np.nanmax(kp.t):.1f} s"


def exam_features(table: pd.DataFrame, videos: pd.DataFrame, exams: np.ndarray,
                  tasks: tuple[str, ...] | list[str]) -> np.ndarray:
    """(E, M, F) kinematic features per examination and task for the assembling heads: the mean over the
    examination's videos of the task (both sides) of `video_features` rows without a note; F is the longest
    feature list (a tremor task's four are zero-padded); a task without usable keypoints in an examination
    is 0 there. `table` is `video_features(videos, ...)`, row for row."""
    width = max(len(feature_names(t)) for t in TASK_CONVENTION)
    out = np.zeros((len(exams), len(tasks), width), np.float32)
    row = {str(e): i for i, e in enumerate(exams)}
    ok = table["note"].eq("").to_numpy()
    for m, task in enumerate(tasks):
        if task not in TASK_CONVENTION:
            continue
        names = feature_names(task)
        sel = ok & videos["task"].eq(task).to_numpy()
        means = table.loc[sel].reindex(columns=names).groupby(videos.loc[sel, "exam"].astype(str).to_numpy()).mean()
        for exam, values in means.iterrows():
            if exam in row:
                out[row[exam], m, :len(names)] = np.nan_to_num(values.to_numpy(float))
    return out
