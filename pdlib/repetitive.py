"""Repetitive movements (MDS-UPDRS-III items 3.4-3.8) cut into taps, within the bout where the limb performs
the task: `analyse_signal` turns one movement signal (`pdlib.kinematics.task_signal`) into an `Analysis`, which
both the named features (`REPETITIVE`, docstrings say how and in what units) and the picture
(`pdlib.plots.kinematics_signal`) read.

Designed for real recordings (holds, halts, late decay, a resting hand, tracker jitter, absent frames):

1. Grid: the signal on a uniform time grid at the median frame rate. Gaps in tracking (NaN samples or absent
   frames) up to MAX_GAP_S are interpolated; longer ones stay untracked (NaN), so no movement is invented
   across them and a lone early first timestamp is just a tracked sample before a gap.
2. Smoothing: Savitzky-Golay (quadratic, about 0.15 s) within each tracked stretch.
3. Candidate taps: maxima whose prominence reaches the task's `Movement.min_amplitude` (absolute, normalised
   units that tracker jitter of about 1% of the hand size never reaches) and REL_AMPLITUDE of the local
   amplitude (the median prominence of the seven nearest candidates): decaying small taps count, a bump
   within a tap does not.
4. Holds: a maximum held (its width at half prominence over the task's `Movement.max_width_s`, or over HOLD_S
   and HOLD_FACTOR times the median tap's) is a hold (or a slow drift), never a tap; the time it takes lies
   between two taps, where it counts as a halt.
5. Bouts: taps further apart than MAX_INTERVAL_S (or 4 median intervals) start a new bout; the longest bout
   is the active window, from its first tap's opening to its last tap's closing. Fewer than MIN_TAPS taps:
   the limb was not seen performing the task (`Analysis.reason`); but a clip under SHORT_CLIP_S (SynPD's
   smoke clips) is measured whole, taps or none, if its 5-95% range reaches the minimum amplitude.
6. Intervals between successive taps: a halt when longer than HALT_FACTOR median intervals or HALT_EXTRA_S
   over the median; a hesitation when longer than HESITATION_FACTOR median intervals; untracked when an
   untracked stretch lies between the taps (then neither rhythm nor halt).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import interpolate, signal, stats

MAX_GAP_S = 0.25  # untracked stretches longer than this are not interpolated
REL_AMPLITUDE = 0.3  # a tap stands out by this share of the neighbouring taps' median prominence
HOLD_S, HOLD_FACTOR = 0.8, 3.0  # a maximum wider than both (s; times the median tap's width) is a hold
MAX_INTERVAL_S = 5.0  # taps further apart belong to different bouts (halts up to ~4 s stay inside)
MIN_TAPS = 2  # fewer taps in the longest bout: not seen performing the task
SHORT_CLIP_S = 3.0  # a clip shorter than this cannot hold a bout: measured whole if the limb moves at all
HALT_FACTOR, HALT_EXTRA_S, HESITATION_FACTOR = 3.0, 1.0, 1.5
EDGE = 0.1  # a tap's opening starts (closing ends) where the signal is within 10% of its amplitude of the trough
SMOOTH_S = 0.15  # Savitzky-Golay window, s
WINDOW_MIN_TRACKED = 0.5  # a bout tracked in less of its time is reported, not measured


@dataclass(frozen=True)
class Movement:
    """What a task's signal measures: the limb, what it does, the signal's name and units, the smallest tap
    amplitude (prominence, in those units) that counts, well above tracker jitter, and the longest a tap may
    stay up (width at half prominence, s; a slower rise and fall is a hold or a drift, never a tap)."""

    limb: str
    verb: str
    quantity: str
    units: str
    min_amplitude: float
    max_width_s: float = 1.0


MOVEMENTS = {
    "finger": Movement("hand", "tapping", "thumb-index distance", "hand sizes", 0.1, 1.0),
    "hand": Movement("hand", "opening and closing", "fingertips-wrist distance", "hand sizes", 0.1, 1.5),
    "pronation": Movement("hand", "turning", "palm width across the hand's axis", "hand sizes", 0.1, 1.5),
    "toe": Movement("foot", "tapping", "foot elevation", "rad", 0.05, 1.2),
    "leg": Movement("leg", "lifting", "knee height above the hip", "thigh lengths", 0.05, 2.0),
}


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in a boolean array."""
    edges = np.diff(np.r_[0, np.asarray(mask, np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def on_grid(t: np.ndarray, x: np.ndarray, max_gap: float = MAX_GAP_S) -> tuple[np.ndarray, np.ndarray, float]:
    """The signal x (T, ...) at times t (s, any order, variable rate) on a uniform grid at the median frame
    rate, from the first to the last tracked sample: (grid (N,) s, values (N, D), fps), by cubic-spline
    interpolation of the tracked samples. Samples in gaps between tracked samples longer than `max_gap` s (and
    over half a frame from a tracked sample) are NaN."""
    t = np.asarray(t, float)
    x = np.asarray(x, float).reshape(len(t), -1)
    steps = np.diff(np.sort(t[np.isfinite(t)]))
    fps = 1.0 / float(np.median(steps[steps > 0])) if (steps > 0).any() else 25.0
    ok = np.isfinite(t) & np.isfinite(x).all(axis=1)
    tt, first = np.unique(t[ok], return_index=True)
    if len(tt) < 2:
        return np.zeros(0), np.zeros((0, x.shape[1])), fps
    xx = x[ok][first]
    grid = tt[0] + np.arange(int(np.floor((tt[-1] - tt[0]) * fps + 1e-6)) + 1) / fps
    out = interpolate.CubicSpline(tt, xx, axis=0)(grid)  # linear interpolation would clip peaks between frames
    after = np.clip(np.searchsorted(tt, grid), 1, len(tt) - 1)
    near = np.minimum(grid - tt[after - 1], np.abs(tt[after] - grid))
    out[(tt[after] - tt[after - 1] > max_gap) & (near > 0.5 / fps)] = np.nan
    return grid, out, fps


def smooth(x: np.ndarray, fps: float) -> np.ndarray:
    """x (N,) smoothed by a quadratic Savitzky-Golay filter of about SMOOTH_S s (5 samples at least) within
    each tracked stretch; unchanged below 20 fps (too few samples per tap to smooth)."""
    out = np.array(x, float)
    width = max(5, int(round(SMOOTH_S * fps)) | 1)
    if fps < 20:
        return out
    for a, b in runs(np.isfinite(out)):
        if b - a > width:
            out[a:b] = signal.savgol_filter(out[a:b], width, 2)
    return out


def _vertex(x: np.ndarray, i: int) -> tuple[float, float]:
    """Sub-sample position offset and value of the extremum at sample i (parabola through i-1, i, i+1)."""
    if 0 < i < len(x) - 1:
        a, b, c = float(x[i - 1]), float(x[i]), float(x[i + 1])
        den = a - 2 * b + c
        if np.isfinite(den) and den != 0:
            d = min(max(0.5 * (a - c) / den, -0.5), 0.5)
            return d, float(b - 0.25 * (a - c) * d)
    return 0.0, float(x[i])


def _candidates(x: np.ndarray, fps: float, floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maxima standing out by at least `floor` within each tracked stretch: (index, prominence, width at
    half prominence in s)."""
    idx, prom, width = [], [], []
    for a, b in runs(np.isfinite(x)):
        if b - a >= 3:
            pk, props = signal.find_peaks(x[a:b], prominence=floor, width=0, rel_height=0.5)
            idx.append(pk + a)
            prom.append(props["prominences"])
            width.append(props["widths"] / fps)
    if not idx:
        return np.zeros(0, int), np.zeros(0), np.zeros(0)
    return np.concatenate(idx), np.concatenate(prom), np.concatenate(width)


def _taps_and_holds(prom: np.ndarray, width: np.ndarray, max_width: float) -> tuple[np.ndarray, np.ndarray]:
    """Which candidates are taps and which are holds (boolean masks): a candidate stands out by REL_AMPLITUDE
    of its seven nearest candidates' median prominence; of those, the ones wider (s) than `max_width`, or
    than HOLD_S and HOLD_FACTOR times the median width of the others, are holds."""
    local = pd.Series(prom).rolling(7, center=True, min_periods=1).median().to_numpy()
    big = prom >= REL_AMPLITUDE * local
    quick = big & (width <= max_width)
    ref = float(np.median(width[quick])) if quick.any() else 0.0
    hold = big & ((width > max_width) | (width > max(HOLD_S, HOLD_FACTOR * ref)))
    return big & ~hold, hold


def _longest_bout(peak_t: np.ndarray) -> slice:
    """The longest run (in time; then in taps) of taps with no two successive ones further apart than
    MAX_INTERVAL_S and 4 median intervals."""
    if len(peak_t) < 2:
        return slice(0, len(peak_t))
    gaps = np.diff(peak_t)
    cuts = np.flatnonzero(gaps > max(MAX_INTERVAL_S, 4 * float(np.median(gaps)))) + 1
    bounds = list(zip(np.r_[0, cuts], np.r_[cuts, len(peak_t)], strict=True))
    a, b = max(bounds, key=lambda ab: (peak_t[ab[1] - 1] - peak_t[ab[0]], ab[1] - ab[0]))
    return slice(int(a), int(b))


TAP_COLUMNS = ["t_peak", "peak", "t_start", "t_end", "trough", "amplitude", "closing", "opening_speed",
               "closing_speed", "peak_speed"]


@dataclass(frozen=True, eq=False)
class Analysis:
    """One video's repetitive movement, analysed (`analyse_signal`): the uniform time axis `t` (s), the signal
    on it as tracked (`raw`, NaN where untracked) and smoothed (`x`), in `movement.units`; the active `window`
    (s; NaN when none); per tap of that window one row of `taps` (TAP_COLUMNS: peak time and value, the times
    its opening starts and its closing ends, its opening trough, amplitude (peak minus opening trough),
    closing amplitude, mean opening and closing speeds and peak speed, units/s); per pair of successive taps
    one row of `intervals` (t_from, t_to, seconds, kind: regular, hesitation, halt or untracked); and
    `reason`, non-empty when the video cannot be measured (then no taps)."""

    task: str
    side: str
    t: np.ndarray
    raw: np.ndarray
    x: np.ndarray
    fps: float
    movement: Movement | None
    taps: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TAP_COLUMNS, dtype=float))
    intervals: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"t_from": [], "t_to": [], "seconds": [], "kind": []}))
    window: tuple[float, float] = (np.nan, np.nan)
    reason: str = ""

    @property
    def tracked(self) -> np.ndarray:
        """(N,) whether each grid sample was tracked (or interpolated over a short gap)."""
        return np.isfinite(self.raw)

    @property
    def duration(self) -> float:
        """Length of the active window, s (0 when none)."""
        return float(self.window[1] - self.window[0]) if np.isfinite(self.window).all() else 0.0

    def in_window(self) -> np.ndarray:
        """(N,) the grid samples inside the active window."""
        return (self.t >= self.window[0]) & (self.t <= self.window[1])


def who(side: str, movement: Movement) -> str:
    """"left hand", "right foot" or "hand": the limb of a side."""
    return {"L": "left ", "R": "right "}.get(side, "") + movement.limb


def _crossing(x: np.ndarray, p: int, m: int, level: float) -> float:
    """Sub-sample index between the trough m and the peak p (either order) where x last (from the peak's side,
    first) passes `level`."""
    step = 1 if m > p else -1
    i = p
    while i != m and x[i + step] > level:
        i += step
    j = i + step if i != m else i
    return float(i) if j == i or x[i] == x[j] else i + step * (x[i] - level) / (x[i] - x[j])


def _measure(x: np.ndarray, fps: float, grid: np.ndarray, peaks: np.ndarray, bounds: np.ndarray) -> pd.DataFrame:
    """Per tap (peak indices `peaks`), the TAP_COLUMNS: its troughs are searched back to the previous and on
    to the next maximum of `bounds` (taps and holds), within the tracked stretch and one median interval."""
    if not len(peaks):
        return pd.DataFrame(columns=TAP_COLUMNS, dtype=float)
    span = max(2, int(round(float(np.median(np.diff(peaks))) if len(peaks) > 1 else fps)))
    stretches = runs(np.isfinite(x))
    starts = np.array([a for a, _ in stretches])
    speed = np.abs(np.gradient(x)) * fps  # NaN next to untracked samples
    rows = []
    for p in peaks:
        a, b = stretches[np.searchsorted(starts, p, side="right") - 1]
        k = np.searchsorted(bounds, p)
        lo = max(a, p - span, bounds[k - 1] if k else a)
        hi = min(b - 1, p + span, bounds[k + 1] if k + 1 < len(bounds) else b - 1)
        m0 = lo + len(x[lo:p + 1]) - 1 - int(np.argmin(x[lo:p + 1][::-1]))  # the trough nearest the peak
        m1 = p + int(np.argmin(x[p:hi + 1]))
        dp, top = _vertex(x, p)
        low0, low1 = _vertex(x, m0)[1], _vertex(x, m1)[1]
        s = _crossing(x, p, m0, low0 + EDGE * (top - low0))
        e = _crossing(x, p, m1, low1 + EDGE * (top - low1))
        tp = p + dp
        rows.append([tp, top, s, e, low0, top - low0, top - low1,
                     (1 - EDGE) * (top - low0) * fps / max(tp - s, 1.0),
                     (1 - EDGE) * (top - low1) * fps / max(e - tp, 1.0),
                     float(np.nanmax(speed[m0:m1 + 1], initial=0.0))])
    table = pd.DataFrame(rows, columns=TAP_COLUMNS, dtype=float)
    for col in ("t_peak", "t_start", "t_end"):
        table[col] = grid[0] + table[col] / fps
    return table


def _intervals(taps: pd.DataFrame, grid: np.ndarray, tracked: np.ndarray) -> pd.DataFrame:
    """Per pair of successive taps: t_from, t_to, seconds and kind (section 6 of the module docstring)."""
    t = taps["t_peak"].to_numpy()
    sec = np.diff(t)
    lost = np.array([not tracked[(grid > a) & (grid < b)].all() for a, b in zip(t[:-1], t[1:], strict=True)],
                    bool)
    med = float(np.median(sec[~lost])) if (~lost).any() else np.nan
    halt = ~lost & ((sec > HALT_FACTOR * med) | (sec - med > HALT_EXTRA_S))
    hesitation = ~lost & ~halt & (sec > HESITATION_FACTOR * med)
    kind = np.select([lost, halt, hesitation], ["untracked", "halt", "hesitation"], "regular")
    return pd.DataFrame({"t_from": t[:-1], "t_to": t[1:], "seconds": sec, "kind": kind})


def analyse_signal(t: np.ndarray, x: np.ndarray, task: str, side: str = "") -> Analysis:
    """The repetitive movement signal x (T,) at times t (s) of a task of MOVEMENTS, analysed as the module
    docstring says. `reason` is set (and no taps kept) when the longest bout has fewer than MIN_TAPS taps
    ("left hand not seen tapping"; a short clip that moves is measured whole) or is tracked in under
    WINDOW_MIN_TRACKED of its frames (counted on the frames given, not on the grid that bridges short gaps)."""
    move = MOVEMENTS[task]
    grid, raw, fps = on_grid(t, x)
    raw = raw[:, 0]
    xs = smooth(raw, fps)
    base = {"task": task, "side": side, "t": grid, "raw": raw, "x": xs, "fps": fps, "movement": move}
    idx, prom, width = _candidates(xs, fps, move.min_amplitude)
    is_tap, is_hold = _taps_and_holds(prom, width, move.max_width_s)
    taps = idx[is_tap]
    bout = taps[_longest_bout(grid[taps])]
    table = _measure(xs, fps, grid, bout, np.sort(idx[is_tap | is_hold]))
    if len(bout) >= MIN_TAPS:
        window = (float(table["t_start"].iloc[0]), float(table["t_end"].iloc[-1]))
    elif len(grid) and grid[-1] - grid[0] < SHORT_CLIP_S and np.ptp(np.nanpercentile(xs, [5, 95])) >= \
            move.min_amplitude:
        window = (float(grid[0]), float(grid[-1]))
    else:
        return Analysis(**base, reason=f"{who(side, move)} not seen {move.verb}")
    frames = np.asarray(t, float)  # the recording's frames (absent ones NaN), not the gap-bridging grid
    inside = (frames >= window[0]) & (frames <= window[1])
    found = np.isfinite(np.asarray(x, float).reshape(len(frames), -1)).all(axis=1)
    share = float(found[inside].mean()) if inside.any() else 0.0
    if share < WINDOW_MIN_TRACKED:
        return Analysis(**base, window=window, reason=f"{who(side, move)} tracked in {100 * share:.0f}% of its "
                        f"{move.verb} window (under {100 * WINDOW_MIN_TRACKED:.0f}%): left out")
    return Analysis(**base, taps=table, intervals=_intervals(table, grid, np.isfinite(raw)), window=window)


# The features. Units: the task's (MOVEMENTS): hand sizes (wrist to middle-finger MCP) for finger tapping, hand
# movements and pronation; rad for toe tapping; thigh lengths for leg agility. Every one is finite for an
# Analysis without a reason, and none grows with the recording's length.
REPETITIVE: dict[str, Callable[[Analysis], float]] = {}


def _feature(fn: Callable[[Analysis], float]) -> Callable[[Analysis], float]:
    fn.kind = "repetitive"
    REPETITIVE[fn.__name__] = fn
    return fn


def _cv(v: np.ndarray) -> float:
    return float(np.std(v) / np.mean(v)) if len(v) > 1 and np.mean(v) > 0 else 0.0


def _mean(a: Analysis, column: str) -> float:
    """The taps' mean of a TAP_COLUMNS column; 0 without taps (a short clip measured whole)."""
    return float(a.taps[column].mean()) if len(a.taps) else 0.0


def _kinds(a: Analysis, *kinds: str) -> np.ndarray:
    """The lengths (s) of the intervals of these kinds."""
    return a.intervals["seconds"].to_numpy(float)[np.isin(a.intervals["kind"].to_numpy(), kinds)]


def _per_10(a: Analysis, *kinds: str) -> float:
    return float(10.0 * len(_kinds(a, *kinds)) / max(len(a.taps), 1))


@_feature
def amplitude_mean(a: Analysis) -> float:
    """Hypokinesia: mean tap amplitude in the active window, a tap's amplitude being its peak minus the trough
    of its opening (task units: hand sizes, rad or thigh lengths)."""
    return _mean(a, "amplitude")


@_feature
def amplitude_median(a: Analysis) -> float:
    """Median tap amplitude in the active window (task units), robust to a few partial taps."""
    return float(a.taps["amplitude"].median()) if len(a.taps) else 0.0


@_feature
def amplitude_cv(a: Analysis) -> float:
    """Irregular amplitude: coefficient of variation (sd / mean, no unit) of the tap amplitudes."""
    return _cv(a.taps["amplitude"].to_numpy())


@_feature
def range_of_motion(a: Analysis) -> float:
    """How far the movement goes at all: the 5-95% range of the smoothed signal within the active window
    (task units)."""
    x = a.x[a.in_window() & a.tracked]
    return float(np.percentile(x, 95) - np.percentile(x, 5)) if len(x) else 0.0


@_feature
def speed_mean(a: Analysis) -> float:
    """Bradykinesia: mean opening speed over the taps, a tap's being its mean velocity from 10% of its
    amplitude above the opening trough to its peak (task units per second)."""
    return _mean(a, "opening_speed")


@_feature
def closing_speed_mean(a: Analysis) -> float:
    """Mean closing speed over the taps: from the peak down to 10% of the closing amplitude above the closing
    trough (task units per second)."""
    return _mean(a, "closing_speed")


@_feature
def peak_speed_mean(a: Analysis) -> float:
    """Mean over the taps of the peak velocity (largest |d signal/dt| of the smoothed signal from the
    opening trough to the closing trough; task units per second)."""
    return _mean(a, "peak_speed")


@_feature
def speed_cv(a: Analysis) -> float:
    """Irregular speed: coefficient of variation (no unit) of the taps' opening speeds."""
    return _cv(a.taps["opening_speed"].to_numpy())


@_feature
def frequency_hz(a: Analysis) -> float:
    """Tapping rate (Hz): taps per second of tapping time, i.e. the reciprocal of the mean interval between
    successive taps, halts and intervals across untracked stretches excluded (hesitations included)."""
    iv = _kinds(a, "regular", "hesitation")
    return float(1.0 / iv.mean()) if len(iv) else float(len(a.taps) / max(a.duration, 1.0 / a.fps))


@_feature
def repetitions_per_10s(a: Analysis) -> float:
    """Taps per 10 s of the active window, halts included (a rate, not a count that grows with the video)."""
    return float(10.0 * len(a.taps) / max(a.duration, 1.0 / a.fps))


@_feature
def rhythm_cv(a: Analysis) -> float:
    """Irregular rhythm: coefficient of variation (no unit) of the intervals between successive tap peaks,
    halts and intervals across untracked stretches excluded."""
    return _cv(_kinds(a, "regular", "hesitation"))


@_feature
def hesitations_per_10(a: Analysis) -> float:
    """Hesitations per 10 taps: intervals over 1.5 median intervals that are not halts."""
    return _per_10(a, "hesitation")


@_feature
def halts_per_10(a: Analysis) -> float:
    """Halts per 10 taps: intervals over 3 median intervals or 1 s longer than the median (a hold of the open
    or closed hand inside the bout is one)."""
    return _per_10(a, "halt")


@_feature
def interruptions_per_10(a: Analysis) -> float:
    """Hesitations and halts together per 10 taps (the item's 'interruptions')."""
    return _per_10(a, "hesitation", "halt")


@_feature
def halt_time_fraction(a: Analysis) -> float:
    """Share (0-1) of the active window lost to halts: the sum over halts of their interval minus the median
    interval, over the window's length."""
    tracked = _kinds(a, "regular", "hesitation", "halt")
    lost = (_kinds(a, "halt") - np.median(tracked)).sum() if len(tracked) else 0.0
    return float(np.clip(lost / max(a.duration, 1.0 / a.fps), 0.0, 1.0))


@_feature
def decrement_ratio(a: Analysis) -> float:
    """Sequence effect: the mean amplitude of the last third of the window's taps over that of the first third,
    each a 20%-trimmed mean (so one or two partial taps at either end do not decide it; a late decay lowers
    the last third). 1: none; under 1: the taps shrink. 1 with fewer than 3 taps."""
    amp = a.taps["amplitude"].to_numpy()
    k = len(amp) // 3
    first = stats.trim_mean(amp[:k], 0.2) if k else 0.0
    return float(stats.trim_mean(amp[-k:], 0.2) / first) if first > 0 else 1.0


@_feature
def decrement_slope(a: Analysis) -> float:
    """Sequence effect as a trend: the Theil-Sen slope (median of pairwise slopes, robust to outlying taps)
    of amplitude against tap number, times 10, over the median amplitude: relative change per 10 taps
    (negative: decrement). 0 with fewer than 3 taps."""
    amp = a.taps["amplitude"].to_numpy()
    if len(amp) < 3 or np.median(amp) <= 0:
        return 0.0
    return float(10.0 * stats.theilslopes(amp, np.arange(len(amp)))[0] / np.median(amp))
