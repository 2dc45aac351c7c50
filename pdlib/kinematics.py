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
`FEATURES` maps each name to the function that computes it, whose docstring says how.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import signal

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
TREMOR_TASKS = ("postural", "kinetic")
# The landmarks each task's signal needs (pose names without their side: the video's side is added).
NEEDS = {"finger": ("wrist", "middle_finger_mcp", "thumb_tip", "index_finger_tip"),
         "hand": ("wrist", "middle_finger_mcp", "index_finger_tip", "middle_finger_tip", "ring_finger_tip",
                  "pinky_tip"),
         "pronation": ("wrist", "middle_finger_mcp", "index_finger_mcp", "pinky_mcp"),
         "toe": ("heel", "foot_index"), "leg": ("hip", "knee"),
         "postural": ("shoulder", "wrist", "index"), "kinetic": ("shoulder", "wrist", "index")}
MIN_TRACKED = 0.5  # a video whose landmarks were found in fewer frames is reported and left out, never scored


class KinematicsError(ValueError):
    """Keypoints that cannot be read or used (the message names the file and the fault)."""


def keypoints_path(video: str | Path) -> Path:
    """Where a video's own keypoints lie: beside it, `<name>.keypoints.npz` (SynPD writes them there)."""
    return Path(video).with_suffix(".keypoints.npz")


@dataclass(frozen=True, eq=False)
class Keypoints:
    """One video's keypoints: xy (T, K, 2 or 3) in pixels (NaN: not found), t (T,) seconds, the convention
    ("hand": 21 landmarks, "pose": 33), the body side filmed ("L", "R" or "") and where they came from."""

    xy: np.ndarray
    t: np.ndarray
    convention: str
    side: str = ""
    source: str = ""

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
        np.savez_compressed(path, xy=self.xy.astype(np.float32), t=self.t, convention=self.convention,
                            side=self.side, source=self.source)

    @classmethod
    def load(cls, path: str | Path) -> Keypoints:
        if not zipfile.is_zipfile(path):
            raise KinematicsError(f"{path}: not a keypoints file (not an .npz archive)")
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(z["xy"].astype(float), z["t"].astype(float), str(z["convention"]), str(z["side"]),
                           str(z["source"]))
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
    dropped frames), NaN samples filled by linear interpolation from the found ones; returns (x, fps)."""
    t = np.asarray(t, float)
    x = np.asarray(x, float).reshape(len(t), -1)
    ok = np.isfinite(x).all(axis=1) & np.isfinite(t)
    steps = np.diff(t[np.isfinite(t)])
    fps = 1.0 / float(np.median(steps[steps > 0])) if (steps > 0).any() else 25.0
    if ok.sum() < 2:
        return np.full((0, x.shape[1]), np.nan), fps
    grid = np.arange(t[ok][0], t[ok][-1] + 0.5 / fps, 1.0 / fps)
    return np.stack([np.interp(grid, t[ok], x[ok, j]) for j in range(x.shape[1])], axis=1), fps


@dataclass(frozen=True)
class Repetitions:
    """A repetitive movement cut into repetitions: the smoothed signal, its rate, the peaks (one per
    repetition: the most open moment) and per repetition its amplitude and opening speed."""

    x: np.ndarray
    fps: float
    peaks: np.ndarray
    amplitude: np.ndarray
    speed: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, fps: float) -> Repetitions:
        """Peaks: maxima standing out by a fifth of the signal's 5-95% range, at least 0.12 s apart. A
        repetition's amplitude is its peak minus the lowest value since the previous peak (or the start); its
        speed that rise over the time it took (signal units per second)."""
        if len(x) >= 7:
            x = signal.savgol_filter(x, min(len(x) // 2 * 2 - 1, max(5, int(0.12 * fps) | 1)), 2)
        spread = float(np.percentile(x, 95) - np.percentile(x, 5)) if len(x) else 0.0
        if spread <= 1e-3:
            return cls(x, fps, np.zeros(0, int), np.zeros(0), np.zeros(0))
        peaks, _ = signal.find_peaks(x, prominence=0.2 * spread, distance=max(1, int(0.12 * fps)))
        amplitude, speed = [], []
        for i, pk in enumerate(peaks):
            start = peaks[i - 1] if i else 0
            low = start + int(np.argmin(x[start:pk + 1]))
            amplitude.append(x[pk] - x[low])
            speed.append((x[pk] - x[low]) * fps / max(pk - low, 1))
        return cls(x, fps, peaks, np.asarray(amplitude), np.asarray(speed))

    @property
    def intervals(self) -> np.ndarray:
        return np.diff(self.peaks) / self.fps


FEATURES: dict[str, Callable] = {}  # name -> function(Repetitions or tremor signal, fps) -> float


def _feature(kind: str):
    def register(fn):
        fn.kind = kind
        FEATURES[fn.__name__] = fn
        return fn
    return register


@_feature("repetitive")
def repetitions(r: Repetitions) -> float:
    """Number of repetitions in the video: peaks of the movement signal (`Repetitions.of`)."""
    return float(len(r.peaks))


@_feature("repetitive")
def frequency_hz(r: Repetitions) -> float:
    """Repetitions per second between the first and the last peak (0 with fewer than two)."""
    return float((len(r.peaks) - 1) / r.intervals.sum()) if len(r.peaks) > 1 else 0.0


@_feature("repetitive")
def range_of_motion(r: Repetitions) -> float:
    """The signal's 5-95% range over the whole video (normalised units): how far the movement goes at all."""
    return float(np.percentile(r.x, 95) - np.percentile(r.x, 5)) if len(r.x) else 0.0


@_feature("repetitive")
def amplitude_mean(r: Repetitions) -> float:
    """Mean amplitude of the repetitions (peak minus the lowest value since the previous one); 0 if none."""
    return float(r.amplitude.mean()) if len(r.amplitude) else 0.0


@_feature("repetitive")
def amplitude_cv(r: Repetitions) -> float:
    """Coefficient of variation (sd / mean) of the repetitions' amplitudes: irregular amplitude."""
    return float(r.amplitude.std() / r.amplitude.mean()) if len(r.amplitude) > 1 else 0.0


@_feature("repetitive")
def speed_mean(r: Repetitions) -> float:
    """Mean opening speed of the repetitions: amplitude over the time from the low to the peak (units/s)."""
    return float(r.speed.mean()) if len(r.speed) else 0.0


@_feature("repetitive")
def rhythm_cv(r: Repetitions) -> float:
    """Coefficient of variation of the intervals between successive peaks: an irregular rhythm."""
    iv = r.intervals
    return float(iv.std() / iv.mean()) if len(iv) > 1 else 0.0


@_feature("repetitive")
def interruptions_per_10(r: Repetitions) -> float:
    """Hesitations and halts per 10 repetitions: intervals between peaks longer than 1.5 times their median."""
    iv = r.intervals
    return float(10.0 * (iv > 1.5 * np.median(iv)).sum() / len(r.peaks)) if len(iv) > 1 else 0.0


@_feature("repetitive")
def longest_pause_s(r: Repetitions) -> float:
    """The longest interval between peaks minus the median one (s): the longest halt."""
    iv = r.intervals
    return float(iv.max() - np.median(iv)) if len(iv) > 1 else 0.0


@_feature("repetitive")
def decrement_slope(r: Repetitions) -> float:
    """Change of amplitude over the repetitions: the least-squares slope of amplitude against repetition
    number, times 10, over the mean amplitude (relative change per 10 repetitions; negative: decrement)."""
    a = r.amplitude
    if len(a) < 3 or a.mean() <= 0:
        return 0.0
    return float(10.0 * np.polyfit(np.arange(len(a)), a, 1)[0] / a.mean())


@_feature("repetitive")
def decrement_ratio(r: Repetitions) -> float:
    """Mean amplitude of the last third of the repetitions over that of the first third (1: none)."""
    a = r.amplitude
    if len(a) < 3 or a[: len(a) // 3].mean() <= 0:
        return 1.0
    return float(a[-(len(a) // 3):].mean() / a[: len(a) // 3].mean())


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


def task_features(kp: Keypoints, task: str) -> dict[str, float]:
    """The task's named features of one video, with `tracked` (fraction of frames with the landmarks the
    signal needs). Below MIN_TRACKED the features are NaN (the video is reported, never scored as still)."""
    tracked = kp.tracked(task)
    names = feature_names(task)
    if tracked < MIN_TRACKED:
        return {"tracked": tracked, **dict.fromkeys(names, np.nan)}
    x, fps = uniform(kp.t, task_signal(kp, task))
    if task in TREMOR_TASKS:
        return {"tracked": tracked, **{n: FEATURES[n](x, fps) for n in names}}
    reps = Repetitions.of(x[:, 0], fps)
    return {"tracked": tracked, **{n: FEATURES[n](reps) for n in names}}


def untracked_reason(task: str, tracked: float) -> str:
    body = "hand" if TASK_CONVENTION[task] == "hand" else "body"
    return f"{body} tracked in {100 * tracked:.0f}% of frames (under {100 * MIN_TRACKED:.0f}%): left out"


def video_features(videos: pd.DataFrame, keypoint_files: pd.Series | None = None) -> pd.DataFrame:
    """One row per video of `videos` (columns video, task, path): its task's features (NaN for another
    task's), `tracked`, and `note` saying why a video has none (no keypoints file, unreadable, poorly
    tracked). `keypoint_files`: path per row (default: beside each video, `keypoints_path`)."""
    rows = []
    files = keypoint_files if keypoint_files is not None else videos["path"].map(keypoints_path)
    for (_, v), file in zip(videos.iterrows(), files, strict=True):
        row = {"video": v["video"], "task": v["task"], "tracked": 0.0, "note": ""}
        if v["task"] not in TASK_CONVENTION:
            row["note"] = f"no kinematic features for task {v['task']!r} (tasks: {', '.join(TASK_CONVENTION)})"
        elif file is None or not Path(file).is_file():
            row["note"] = f"no keypoints for {v['path']}: run `pdlib track`"
        else:
            try:
                keypoints = Keypoints.load(file)
                row |= task_features(keypoints, v["task"])
            except KinematicsError as err:  # a load error names the file already
                row["note"] = str(err) if str(err).startswith(str(file)) else f"{file}: {err}"
            else:
                if row["tracked"] < MIN_TRACKED:
                    row["note"] = untracked_reason(v["task"], row["tracked"])
        rows.append(row)
    return pd.DataFrame(rows)


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
