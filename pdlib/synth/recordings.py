"""Synthetic finger-tapping recordings as real ones come (issues 36, 37): MediaPipe hand landmarks of both hands
in one recording, the patient tapping with one hand, then the other, the idle hand resting on the knee in view.

`tapping_bout` draws one bout's thumb-index distance over hand size (holds, halts, late decay, fast small taps;
the severity, SynPD's latent 0..4.5, acts moderately and through noisy per-patient traits, as on real data);
`hand_landmarks` poses a 21-landmark hand on it; `two_handed_recording` films an examination's two bouts;
`tracker_noise` does what MediaPipe does to them; `make_synpd_landmarks` writes SynPD's examinations so.
"""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pdlib.kinematics import Keypoints
from pdlib.synth.csv_numbers import write_csv
from pdlib.synth.motion import smooth_noise
from pdlib.synth.render import prepare_output, stable_seed
from pdlib.synth.synpd import CUTS, _latent_exams, _size, synpd_cohort
from pdlib.tasks import TASKS

VERSION = "synpd-landmarks-2"
COLUMNS = ["t", "track", "landmark", "x", "y", "z"]
N_LANDMARKS = 21


@dataclass(frozen=True)
class Tapper:
    """A patient's own way of tapping, shared by both hands: rate (Hz) and tap amplitude (thumb-index distance
    over hand size) at severity 0, the open hand's aperture, the aperture with the fingertips touching, and
    multipliers of the tap-to-tap amplitude variability and rhythm irregularity."""

    rate_hz: float
    amplitude: float
    open_level: float
    closed: float
    variability: float
    irregularity: float


def draw_tapper(rng: np.random.Generator) -> Tapper:
    """One patient's traits (between-patient variation keeps a feature's |rho| with the score near 0.3-0.5)."""
    amplitude = float(np.clip(rng.lognormal(np.log(1.3), 0.22), 0.6, 1.8))
    closed = rng.uniform(0.04, 0.14)
    return Tapper(rate_hz=float(np.clip(rng.lognormal(np.log(3.45), 0.2), 2.0, 5.5)), amplitude=amplitude,
                  open_level=closed + min(amplitude * rng.uniform(0.9, 1.25), 1.9), closed=closed,
                  variability=rng.lognormal(0.0, 0.25), irregularity=rng.lognormal(0.0, 0.25))


@dataclass(frozen=True)
class Bout:
    """One tapping bout: frame times t (s, from 0 at the bout's start), the aperture (thumb-index distance over
    hand size), the taps' window (first tap's start, last tap's end, s), the tap count, the rate (Hz), the
    start and end holds (s, 0: none), the halts of 1 s or more, and whether fast small taps or a late decay."""

    t: np.ndarray
    aperture: np.ndarray
    taps: tuple[float, float]
    n_taps: int
    rate_hz: float
    holds: tuple[float, float]
    halts: int
    fast_small: bool
    decays: bool


def _tap_amplitudes(n: int, s: float, amp: float, tapper: Tapper, rng: np.random.Generator) -> tuple:
    """(n,) per-tap amplitudes: partial first taps (often), a mild sequence effect, a late decay after 15-30
    taps to 0.1-0.3 of the start (more common with severity), lognormal tap-to-tap variability."""
    k = np.arange(n)
    gain = np.clip(1.0 - 0.02 * s * k / 10.0, 0.5, 1.0)
    if rng.random() < 0.4:  # early partial taps
        m = int(rng.integers(1, 4))
        gain[:m] *= np.linspace(rng.uniform(0.3, 0.7), 1.0, m + 1)[:m]
    onset = int(rng.integers(15, 31))
    decays = bool(n > onset + 4 and rng.random() < np.clip(0.08 + 0.17 * s, 0.0, 0.75))
    if decays:
        floor, length = rng.uniform(0.1, 0.3), rng.uniform(3.0, 10.0)
        gain *= 1.0 - (1.0 - floor) * np.clip((k - onset) / length, 0.0, 1.0)
    cv = (0.05 + 0.07 * s) * tapper.variability
    return amp * gain * rng.lognormal(-cv ** 2 / 2, cv, n), decays


def _pauses(n: int, s: float, rng: np.random.Generator) -> dict[int, tuple[float, bool]]:
    """Halts (1-2 s) and hesitations (0.25-0.6 s) in the middle of the taps, more with severity: {after tap:
    (seconds, with the fingers open)}."""
    mid = np.arange(int(0.15 * n), max(int(0.85 * n), int(0.15 * n) + 1))
    out: dict[int, tuple[float, bool]] = {}
    for k in rng.choice(mid, min(rng.poisson(0.1 + 0.45 * s), 5)):
        out[int(k)] = (rng.uniform(1.0, 2.0), bool(rng.random() < 0.4))
    for k in rng.choice(mid, rng.poisson((0.03 + 0.3 * s) * n / 10.0)):
        out.setdefault(int(k), (rng.uniform(0.25, 0.6), bool(rng.random() < 0.3)))
    return out


def _cosine_interp(t: np.ndarray, kt: np.ndarray, kv: np.ndarray) -> np.ndarray:
    """Half-cosine interpolation through knots (kt increasing, repeats allowed): smooth opening and closing."""
    i = np.clip(np.searchsorted(kt, t, side="right") - 1, 0, len(kt) - 2)
    span = kt[i + 1] - kt[i]
    frac = np.clip(np.divide(t - kt[i], span, out=np.zeros_like(t), where=span > 0), 0.0, 1.0)
    return kv[i] + (kv[i + 1] - kv[i]) * (0.5 - 0.5 * np.cos(np.pi * frac))


def _knots(period: np.ndarray, amps: np.ndarray, pauses: dict, holds: tuple, levels: tuple, rng) -> tuple:
    """Knots (times (s), apertures) of a bout: start hold, taps (trough, then peak at 35-65% of the period),
    pauses after taps (closed, or open at the tap's peak), end hold; and the taps' (start, end) in s."""
    c, hold = levels
    kt, kv = ([0.0, holds[0]], [hold, hold]) if holds[0] else ([], [])
    cur = start = holds[0] + (0.3 if holds[0] else 0.0)
    for k in range(len(period)):
        peak = cur + period[k] * np.clip(rng.normal(0.5, 0.05), 0.35, 0.65)
        kt += [cur, peak]
        kv += [c, c + amps[k]]
        cur += period[k]
        if k in pauses:
            pause, open_ = pauses[k]
            kt.append(peak + pause if open_ else cur)
            kv.append(c + amps[k] if open_ else c)
            cur += pause
    kt.append(cur)
    kv.append(c)
    if holds[1]:
        kt += [cur + 0.3, cur + 0.3 + holds[1]]
        kv += [hold, hold]
    return np.asarray(kt), np.asarray(kv), (start, cur)


def tapping_bout(severity: float, rng: np.random.Generator, fps: float = 30.0,
                 tapper: Tapper | None = None) -> Bout:
    """One finger-tapping bout at a latent severity (0..4.5) of a patient (`tapper`, drawn when None).

    Bout 5-40 s (lognormal, median 13 s), an open-hand hold of 1-4 s (median 1.7 s) at the start (45%) and the
    end (35%); rate = the patient's (median 3.45 Hz) x exp(-0.12 severity), or in a share of severe bouts (up
    to 45% from severity 3.5) fast small taps (3.4-4.1 Hz, 0.45-0.7 of the amplitude); tap amplitude = the
    patient's (median 1.3) x (1 - 0.13 severity); rhythm CV 0.03 + 0.055 severity and amplitude CV 0.05 +
    0.07 severity, times the patient's traits; halts, hesitations and late decay as `_pauses` and
    `_tap_amplitudes` say. Taps rise and fall as half-cosines between touching and open fingertips.
    """
    s = float(np.clip(severity, 0.0, 4.5))
    tapper = draw_tapper(rng) if tapper is None else tapper
    fast_small = bool(rng.random() < 0.45 * np.clip((s - 1.5) / 2.0, 0.0, 1.0))
    rate = rng.uniform(3.4, 4.1) if fast_small else tapper.rate_hz * np.exp(-0.12 * s + rng.normal(0.0, 0.06))
    rate = float(np.clip(rate, 1.5, 6.0))
    amp = tapper.amplitude * max(1.0 - 0.13 * s, 0.35) * rng.lognormal(0.0, 0.1)
    amp *= rng.uniform(0.45, 0.7) if fast_small else 1.0
    duration = float(np.clip(rng.lognormal(np.log(13.0), 0.33), 5.0, 40.0))
    holds = tuple(1.0 + 3.0 * rng.beta(1.2, 3.5) if rng.random() < p else 0.0 for p in (0.45, 0.35))
    tapping = max(duration - sum(holds) - 0.3 * sum(h > 0 for h in holds), 3.0)
    pauses = _pauses(int(tapping * rate), s, rng)
    n = max(int(round((tapping - sum(p for p, _ in pauses.values())) * rate)), int(4.5 * rate), 12)
    pauses = {k: v for k, v in pauses.items() if k < n - 1}
    period = rng.lognormal(0.0, (0.03 + 0.055 * s) * tapper.irregularity, n) / rate
    period *= np.exp(0.05 * smooth_noise(rng, n, 1.0, 0.1))  # slow drift of the rate
    amps, decays = _tap_amplitudes(n, s, amp, tapper, rng)
    levels = (tapper.closed, tapper.open_level * rng.uniform(0.9, 1.1))
    kt, kv, (start, end) = _knots(period, amps, pauses, holds, levels, rng)
    t = np.arange(int(np.floor(kt[-1] * fps)) + 1) / fps
    aperture = np.maximum(_cosine_interp(t, kt, kv) + 0.006 * smooth_noise(rng, len(t), fps, 6.0), 0.01)
    return Bout(t, aperture, (start, min(end, t[-1])), n, rate, holds, sum(p >= 1.0 for p, _ in pauses.values()),
                fast_small, decays)


def tapping_aperture(severity: float, rng: np.random.Generator, fps: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """One tapping bout's (t (s, from 0), aperture (thumb-index distance over hand size)) at `fps`, for a new
    patient at a latent severity 0..4.5: see `tapping_bout` for the laws."""
    bout = tapping_bout(severity, rng, fps)
    return bout.t, bout.aperture


# A right hand seen from the front (palm to the camera), hand units (wrist to middle MCP = 1), y up, z towards
# the camera negative; fingers 3-5 curled; thumb (1-4) and index (5-8) joints are set by the aperture.
_TEMPLATE = np.array([
    [0.0, 0.0, 0.0], [-0.28, 0.22, -0.05], [-0.48, 0.45, -0.08], [np.nan] * 3, [np.nan] * 3,
    [-0.30, 0.92, -0.03], [np.nan] * 3, [np.nan] * 3, [np.nan] * 3,
    [0.0, 1.0, 0.0], [0.02, 1.25, -0.15], [0.0, 1.12, -0.28], [-0.03, 0.95, -0.30],
    [0.26, 0.94, 0.0], [0.27, 1.15, -0.14], [0.25, 1.03, -0.26], [0.22, 0.88, -0.27],
    [0.48, 0.82, 0.02], [0.50, 0.98, -0.10], [0.48, 0.90, -0.20], [0.45, 0.78, -0.22]])
_PINCH = np.array([-0.62, 1.02])  # where thumb and index tips meet


def _bend(a: np.ndarray, b: np.ndarray, at: float, length: float, side: float) -> np.ndarray:
    """A joint at fraction `at` of the chord a->b (T, 2), pushed sideways as the finger flexes."""
    chord = b - a
    d = np.linalg.norm(chord, axis=1, keepdims=True)
    normal = np.stack([-chord[:, 1], chord[:, 0]], axis=1) / np.maximum(d, 1e-9)
    return a + at * chord + side * 0.3 * np.sqrt(np.maximum(length ** 2 - d ** 2, 0.0)) * normal


def hand_landmarks(aperture: np.ndarray, rng: np.random.Generator, centre: np.ndarray | tuple[float, float],
                   hand_size: float, angle: float | np.ndarray = 0.0, mirror: bool = False,
                   fps: float = 30.0) -> np.ndarray:
    """(T, 21, 3) MediaPipe hand landmarks in pixels (x right, y down, z depth in pixels, small) of a hand
    whose thumb tip (4) to index tip (8) distance over the wrist (0) to middle MCP (9) distance is `aperture`
    (T,) exactly, in 2D and 3D; the other fingers curled and still.

    `centre` (2,) or (T, 2): the palm's centre (midway wrist to middle MCP) in pixels; `hand_size` the wrist
    to middle MCP distance in pixels; `angle` (scalar or (T,), radians) rotates the hand in the picture
    (0: fingers up); `mirror` draws a left hand (thumb towards +x) instead of a right one. A slow drift of
    4% of the hand size and 0.03 rad (under 0.3 Hz) moves the hand.
    """
    a, n = np.asarray(aperture, float), len(aperture)
    pts = np.broadcast_to(_TEMPLATE, (n, N_LANDMARKS, 3)).copy()
    u = np.stack([np.cos(1.25 + 0.15 * a), np.sin(1.25 + 0.15 * a)], axis=1)
    pts[:, 8, :2], pts[:, 4, :2] = _PINCH + 0.65 * a[:, None] * u, _PINCH - 0.35 * a[:, None] * u
    pts[:, 4, 2] = pts[:, 8, 2] = -0.12
    pts[:, 6, :2] = _bend(pts[:, 5, :2], pts[:, 8, :2], 0.45, 1.0, -1.0)
    pts[:, 7, :2] = _bend(pts[:, 5, :2], pts[:, 8, :2], 0.75, 1.0, -0.5)
    pts[:, 3, :2] = _bend(pts[:, 2, :2], pts[:, 4, :2], 0.5, 0.6, 1.0)
    pts[:, 6, 2], pts[:, 7, 2], pts[:, 3, 2] = -0.06, -0.09, -0.1
    pts[:, :, 1] -= 0.5  # about the palm's centre
    x, y = pts[:, :, 0] * (-1.0 if mirror else 1.0), pts[:, :, 1]
    drift = np.stack([smooth_noise(rng, n, fps, 0.3), smooth_noise(rng, n, fps, 0.3)], axis=1)
    theta = np.broadcast_to(np.asarray(angle, float), (n,)) + 0.03 * drift[:, 0]
    cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
    ctr = np.broadcast_to(np.asarray(centre, float), (n, 2)) + 0.04 * hand_size * drift
    return np.stack([ctr[:, :1] + hand_size * (cos * x - sin * y), ctr[:, 1:] - hand_size * (sin * x + cos * y),
                     hand_size * pts[:, :, 2]], axis=-1)  # image y points down


def _hand_track(n: int, bout: Bout, i0: int, rise: int, rng: np.random.Generator, pose: dict, fps: float) -> tuple:
    """One hand over the whole recording: resting on the knee, raised over `rise` frames before its bout
    (frames i0..), tapping, lowered after. Returns (aperture (n,), centre (n, 2), angle (n,))."""
    rest = pose["rest_aperture"] + pose["tremor"] * np.sin(2 * np.pi * pose["tremor_hz"] * np.arange(n) / fps)
    rest += 0.004 * smooth_noise(rng, n, fps, 3.0)
    i1 = i0 + len(bout.t)
    up = 0.5 - 0.5 * np.cos(np.pi * np.interp(np.arange(n), [i0 - rise, i0, i1 - 1, i1 - 1 + rise], [0, 1, 1, 0]))
    aperture = rest + (bout.aperture[np.clip(np.arange(n) - i0, 0, len(bout.t) - 1)] - rest) * up
    centre = pose["rest"][None, :] + (pose["raised"] - pose["rest"])[None, :] * up[:, None]
    angle = pose["rest_angle"] + (pose["raised_angle"] - pose["rest_angle"]) * up
    return aperture, centre, angle


def _poses(rng: np.random.Generator, width: int, height: int, severity: dict[str, float]) -> dict[str, dict]:
    """Where each hand rests (on the knee, low in the picture) and taps (raised), per side: the camera faces
    the patient, not mirrored, so the patient's right hand is on the left of the picture."""
    out = {}
    for side, sign in (("R", -1.0), ("L", 1.0)):
        out[side] = {
            "rest": np.array([width * (0.5 + sign * rng.uniform(0.08, 0.16)), height * rng.uniform(0.64, 0.74)]),
            "raised": np.array([width * (0.5 + sign * rng.uniform(0.12, 0.26)), height * rng.uniform(0.38, 0.55)]),
            "rest_angle": -sign * rng.uniform(1.7, 2.5), "raised_angle": -sign * rng.uniform(-0.1, 0.35),
            "rest_aperture": rng.uniform(0.3, 0.7), "tremor_hz": rng.uniform(4.0, 6.0),
            "tremor": rng.uniform(0.0, 0.004) * (1.0 + np.clip(severity[side], 0.0, 4.5))}
    return out


def two_handed_recording(severity_left: float, severity_right: float, rng: np.random.Generator,
                         fps: float = 30.0, width: int = 1920, height: int = 1080) -> tuple[pd.DataFrame, dict]:
    """One examination's finger tapping filmed in one recording: both hands resting for 1-3 s, one hand's bout
    (random order), 2-5 s of both resting, the other hand's bout, 1-3 s of rest; the idle hand rests on the
    knee in view (aperture nearly constant, a slight tremor). One patient's traits (`draw_tapper`) for both
    hands; hand size 0.06-0.11 of the frame width.

    Returns the true detections in long format (columns t (s), track (0/1, one per hand throughout),
    landmark 0-20, x, y, z in pixels; rows by t, track, landmark) and the truth: per side "L"/"R" a dict with
    the bout's start and end (s; the hand raised: holds included), taps_start/taps_end (s), track, t (s) and
    aperture of the bout, xy (T, 21, 3) its landmarks in pixels, severity; with "order", "width", "height".
    """
    severity = {"L": float(severity_left), "R": float(severity_right)}
    tapper = draw_tapper(rng)
    order = [str(s) for s in rng.permutation(["L", "R"])]
    bouts = {side: tapping_bout(severity[side], rng, fps, tapper) for side in order}
    gaps = np.round(np.array([rng.uniform(1.0, 3.0), rng.uniform(2.0, 5.0), rng.uniform(1.0, 3.0)]) * fps)
    starts = {order[0]: int(gaps[0]), order[1]: int(gaps[0] + gaps[1]) + len(bouts[order[0]].t)}
    n = starts[order[1]] + len(bouts[order[1]].t) + int(gaps[2])
    poses = _poses(rng, width, height, severity)
    size = width * rng.uniform(0.06, 0.11)
    tracks = dict(zip(("L", "R"), [int(k) for k in rng.permutation(2)], strict=True))
    hands, truth = np.empty((n, 2, N_LANDMARKS, 3)), {"order": order, "width": width, "height": height}
    for side in ("L", "R"):
        bout, i0 = bouts[side], starts[side]
        rise = int(rng.uniform(0.5, 0.9) * fps)
        aperture, centre, angle = _hand_track(n, bout, i0, rise, rng, poses[side], fps)
        hands[:, tracks[side]] = hand_landmarks(aperture, rng, centre, size * rng.uniform(0.95, 1.05), angle,
                                                mirror=side == "L", fps=fps)
        i1 = i0 + len(bout.t)
        truth[side] = {"start": i0 / fps, "end": (i1 - 1) / fps, "taps_start": i0 / fps + bout.taps[0],
                       "taps_end": i0 / fps + bout.taps[1], "track": tracks[side], "t": np.arange(i0, i1) / fps,
                       "aperture": bout.aperture, "xy": hands[i0:i1, tracks[side]].copy(),
                       "severity": severity[side], "rate_hz": bout.rate_hz, "n_taps": bout.n_taps}
    frame, track, landmark = np.meshgrid(np.arange(n), np.arange(2), np.arange(N_LANDMARKS), indexing="ij")
    return pd.DataFrame({"t": frame.ravel() / fps, "track": track.ravel(), "landmark": landmark.ravel(),
                         "x": hands[..., 0].ravel(), "y": hands[..., 1].ravel(), "z": hands[..., 2].ravel()}), truth


def _split_detections(detections: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Long-format detections (COLUMNS, 21 rows per detection) as (frame times (F,), frame index (D,), track
    (D,), landmarks (D, 21, 3)); ValueError naming the fault when rows do not come 21 per detection."""
    df = detections.reindex(columns=COLUMNS).sort_values(["t", "track", "landmark"], kind="stable")
    if df.isna().to_numpy().any() or len(df) % N_LANDMARKS or (df["landmark"].to_numpy().reshape(
            -1, N_LANDMARKS) != range(N_LANDMARKS)).any():
        raise ValueError(f"tracker_noise: expected columns {COLUMNS}, no NaN, landmarks 0-20 per (t, track)")
    heads = df.iloc[::N_LANDMARKS]
    times, frame = np.unique(heads["t"].to_numpy(), return_inverse=True)
    xyz = df[["x", "y", "z"]].to_numpy(float).reshape(-1, N_LANDMARKS, 3)
    return times, frame, heads["track"].to_numpy(), xyz


def _absent(rng: np.random.Generator, times: np.ndarray, frame: np.ndarray, track: np.ndarray) -> np.ndarray:
    """(D,) which detections the tracker misses: 2% isolated frames, runs of 3-12 frames of one hand, runs of
    2-8 frames of both, and every frame in the 0.5 s after the first (a lone early first frame)."""
    n = len(times)
    gone = rng.random(len(frame)) < 0.02
    for _ in range(rng.poisson(1.0 + n / 600)):
        k, start = rng.choice(np.unique(track)), rng.integers(n)
        gone |= (track == k) & (frame >= start) & (frame < start + rng.integers(3, 13))
    for _ in range(rng.poisson(0.5 + n / 1200)):
        start = rng.integers(n)
        gone |= (frame >= start) & (frame < start + rng.integers(2, 9))
    gone |= (times[frame] > times[0]) & (times[frame] < times[0] + 0.5)
    return gone & (frame > 0)


def _unseen_at_rest(rng: np.random.Generator, times: np.ndarray, frame: np.ndarray, track: np.ndarray,
                    raised: dict[int, tuple[float, float]]) -> np.ndarray:
    """(D,) the detections of a hand at rest (outside its `raised` span (s), per track) that the tracker misses:
    per hand a share of 0-80% of its resting time, in runs of 0.5-4 s (a hand on the knee, turned or at the
    picture's edge, is lost for seconds at a time, as on real recordings)."""
    gone, step = np.zeros(len(frame), bool), max(float(np.median(np.diff(times))), 1e-3)
    for k, (start, end) in raised.items():
        resting = (times < start) | (times > end)
        rest = np.flatnonzero(resting)
        if not len(rest):
            continue
        target, lost = rng.uniform(0.0, 0.8) * len(rest), np.zeros(len(times), bool)
        while lost[rest].sum() < target:
            at = rest[rng.integers(len(rest))]
            lost[at:at + int(rng.uniform(0.5, 4.0) / step)] = True
        gone |= (track == k) & (lost & resting)[frame]
    return gone


def tracker_noise(detections: pd.DataFrame, rng: np.random.Generator, width: int, height: int,
                  raised: dict[int, tuple[float, float]] | None = None) -> pd.DataFrame:
    """What MediaPipe makes of true detections (pixels, COLUMNS): landmark jitter of 1% of the hand size per
    frame and coordinate, absent detections (`_absent`: missing rows; with `raised`, each track's span (s)
    off the knee, also seconds-long losses of a hand at rest: `_unseen_at_rest`), 1-3 spurious hands for 1-6
    frames each,
    the track ids of the two hands swapped 3-6 times (a frame's detections are numbered 0.. in the order
    the tracker lists them), x / width, y / height and z / width (normalised as MediaPipe writes them) and
    the first frame 0.5 s before the rest. Rows by t, track, landmark; frames with no hand are absent."""
    times, frame, track, xyz = _split_detections(detections)
    size = np.linalg.norm(xyz[:, 0, :2] - xyz[:, 9, :2], axis=1)
    hand = pd.Series(size).groupby(track).transform("median").to_numpy()
    xyz = xyz + rng.normal(0.0, 1.0, xyz.shape) * 0.01 * hand[:, None, None]
    keep = ~_absent(rng, times, frame, track)
    if raised:
        keep &= ~_unseen_at_rest(rng, times, frame, track, raised)
    flips = np.zeros(len(times), int)
    flips[rng.choice(np.arange(1, len(times)), min(int(rng.integers(3, 7)), len(times) - 1), replace=False)] = 1
    key = np.where(np.cumsum(flips)[frame] % 2 == 1, -track, track).astype(float)
    frames, keys, parts = [frame[keep]], [key[keep]], [xyz[keep]]
    typical, settled = float(np.median(size)), int(np.searchsorted(times, times[0] + 0.5))
    for _ in range(int(rng.integers(1, 4)) if settled < len(times) else 0):
        start, length = int(rng.integers(settled, len(times))), int(rng.integers(1, 7))
        f = np.arange(start, min(start + length, len(times)))
        ghost = hand_landmarks(np.full(len(f), rng.uniform(0.2, 1.5)), rng,
                               (rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height),
                               typical * rng.uniform(0.5, 1.2), rng.uniform(-np.pi, np.pi), bool(rng.random() < 0.5))
        ghost += rng.normal(0.0, 0.02 * typical, ghost.shape)  # a shaky false detection
        frames, keys, parts = frames + [f], keys + [np.full(len(f), rng.uniform(-2.5, 2.5))], parts + [ghost]
    order = np.lexsort((np.concatenate(keys), np.concatenate(frames)))
    frame, xyz = np.concatenate(frames)[order], np.concatenate(parts)[order]
    first = np.searchsorted(frame, frame)  # index of the frame's first detection (frame is sorted)
    xyz = xyz / np.array([width, height, width], float)
    return pd.DataFrame({"t": np.repeat(times[frame], N_LANDMARKS),
                         "track": np.repeat(np.arange(len(frame)) - first, N_LANDMARKS),
                         "landmark": np.tile(np.arange(N_LANDMARKS), len(frame)),
                         "x": xyz[..., 0].ravel(), "y": xyz[..., 1].ravel(), "z": xyz[..., 2].ravel()})


def cohort_latents(size: str, seed: int, cohort: tuple | None = None) -> dict[str, np.ndarray]:
    """SynPD's latent draw behind `synpd_cohort(size, seed)` (or `cohort`, its result): every examination's
    task/side latent severity, rater noise and rated score, (E, 7, 2), exams in exams.csv's order, also for
    the sides it did not film (the draw of the attempt whose filmed latents are the cohort's)."""
    (videos, exams, truth), cfg = cohort or synpd_cohort(size, seed), _size(size)
    e, si = pd.Index(exams["exam"]).get_indexer(videos["exam"]), (videos["side"] == "R").to_numpy().astype(int)
    ti = np.array([TASKS.index(t) for t in videos["task"]])
    for attempt in range(1000):
        lat = _latent_exams(np.random.default_rng(stable_seed("synpd", seed, size, attempt)), cfg.n_lct, cfg.n_sct)
        if np.allclose(np.round(lat["latent"][e, ti, si], 4), truth["true_severity"].to_numpy(), atol=1e-6):
            return lat
    raise RuntimeError(f"cohort_latents: no attempt reproduces SynPD's cohort (size={size!r}, seed={seed})")


def _write_exam(out: Path, exam: str, severity: np.ndarray, rng: np.random.Generator, noisy: bool) -> dict:
    """One examination's recording `recordings/<exam>/finger.landmarks.csv` (noisy: normalised, 6 decimals;
    else pixels, 3) and per side its clean bout `finger_<side>.keypoints.npz`; returns the truth."""
    width, height = [(1920, 1080), (1280, 720)][int(rng.integers(2))]
    detections, truth = two_handed_recording(severity[0], severity[1], rng, width=width, height=height)
    (out / "recordings" / exam).mkdir(parents=True, exist_ok=True)
    truth["video"] = f"recordings/{exam}/finger.landmarks.csv"
    digits = 6 if noisy else 3
    raised = {truth[side]["track"]: (truth[side]["start"], truth[side]["end"]) for side in ("L", "R")}
    write_csv(tracker_noise(detections, rng, width, height, raised) if noisy else detections, out / truth["video"],
              {"t": 4, "x": digits, "y": digits, "z": digits})
    for side in ("L", "R"):
        truth[side]["keypoints"] = f"recordings/{exam}/finger_{side}.keypoints.npz"
        Keypoints(truth[side]["xy"][:, :, :2], truth[side]["t"], "hand", side, "synpd-landmarks truth",
                  width=width, height=height).save(out / truth[side]["keypoints"])
    return truth


def make_synpd_landmarks(out: str | Path, size: str = "default", seed: int = 0, noisy: bool = True,
                         frame_size: bool = False) -> Path:
    """SynPD's finger tapping as landmark files: a dataset folder (docs/DATASET.md) whose videos.csv lists, per
    examination with a SynPD finger video, one two-handed recording `recordings/<exam>/finger.landmarks.csv`
    on two rows (side L and R, each its own rated score; columns video, patient, exam, task, side, score, and
    width, height when `frame_size`), exams.csv (SynPD's, those examinations), truth.csv (per row: true
    severity, rater noise, true score, whether SynPD filmed that side, bout and taps start/end in seconds,
    the clean file) and meta.json. A side SynPD did not film takes the latent SynPD drew for it
    (`cohort_latents`). `noisy`: through `tracker_noise` (normalised), else true detections in pixels (frame
    size then listed). Beside each recording, per side, the true bout alone (`Keypoints`, pixels, 2D, frame
    size) as `finger_<side>.keypoints.npz`, not listed. Does nothing when out/meta.json holds the same
    arguments and generator version. Returns `out`.
    """
    out, frame_size = Path(out), frame_size or not noisy
    meta = {"dataset": "synpd-landmarks", "size": size, "seed": seed, "noisy": noisy, "frame_size": frame_size,
            "version": VERSION}
    if prepare_output(out, meta, ".synpd-landmarks"):
        return out
    shutil.rmtree(out / "recordings", ignore_errors=True)
    videos, exams, _ = cohort = synpd_cohort(size, seed)
    lat, finger = cohort_latents(size, seed, cohort), TASKS.index("finger")
    filmed = set(videos.loc[videos["task"] == "finger", ["exam", "side"]].itertuples(index=False, name=None))
    rows = []
    for e, ex in enumerate(exams.itertuples()):
        if (ex.exam, "L") in filmed or (ex.exam, "R") in filmed:
            truth = _write_exam(out, ex.exam, lat["latent"][e, finger],
                                np.random.default_rng(stable_seed("synpd-landmarks", seed, ex.exam)), noisy)
            rows += [{"video": truth["video"], "patient": ex.patient, "exam": ex.exam, "task": "finger", "side": side,
                      "score": int(lat["score"][e, finger, si]), "width": truth["width"], "height": truth["height"],
                      "true_severity": round(float(lat["latent"][e, finger, si]), 4),
                      "rater_noise": round(float(lat["noise"][e, finger, si]), 4),
                      "true_score": int(np.digitize(lat["latent"][e, finger, si], CUTS)),
                      "filmed": (ex.exam, side) in filmed, "keypoints": truth[side]["keypoints"],
                      **{k: round(float(truth[side][k]), 3) for k in ("start", "end", "taps_start", "taps_end")}}
                     for si, side in enumerate(("L", "R"))]
    table = pd.DataFrame(rows)
    listed = ["video", "patient", "exam", "task", "side", "score"] + (["width", "height"] if frame_size else [])
    table[listed].to_csv(out / "videos.csv", index=False)
    exams[exams["exam"].isin(table["exam"])].to_csv(out / "exams.csv", index=False)
    table.drop(columns=["patient", "exam", "task", "score", "width", "height"]).to_csv(out / "truth.csv", index=False)
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return out
