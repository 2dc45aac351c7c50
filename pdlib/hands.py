"""Which detection is which hand: a recording's hand detections (centroids and sizes, in pixels or any one
unit) split into the two hands by position and followed over the frames, spurious ones dropped
(`pdlib.landmarks.side_keypoints` uses these; plain numpy on arrays, D detections over F frames).

Never by track id or handedness label: the tracker's ids swap and its label assumes a mirrored picture.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SIZE_FACTOR = 1.8  # a detection whose hand size is off its hand's median by more than this factor is dropped
MAX_JUMP = 2.5  # hand sizes: a detection farther than this from its hand's recent position is dropped
ROLLING = 9  # frames in the rolling median that follows a hand's position
_WRIST, _MIDDLE_MCP = 0, 9


def hand_geometry(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Per detection its centroid (D, 2) (NaN: no landmark found) and hand size (D,) (wrist to middle-finger
    MCP, NaN where either is missing), and the recording's typical hand size S (the median; without any, half
    the median extent of a detection, else 1)."""
    xy = points[..., :2]
    found = np.isfinite(xy).all(-1)
    count = found.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        centroid = np.where(found[..., None], xy, 0.0).sum(1) / count[:, None]
    size = np.linalg.norm(xy[:, _WRIST] - xy[:, _MIDDLE_MCP], axis=1)
    typical = float(np.nanmedian(size)) if np.isfinite(size).any() else np.nan
    if not typical > 0 and (count > 1).any():
        extent = np.nanmax(xy, 1) - np.nanmin(xy, 1)
        typical = float(np.nanmedian(extent.max(1)[count > 1])) / 2
    return centroid, size, typical if typical > 0 else 1.0


def two_means(x: np.ndarray) -> float | None:
    """The threshold of the exact 2-means split of 1-D values (each side at least 3 values and 2% of them);
    None when there are too few."""
    xs = np.sort(x)
    n, m = len(xs), max(3, int(np.ceil(0.02 * len(xs))))
    if n < 2 * m:
        return None
    cs = np.cumsum(xs)
    k = np.arange(m, n - m + 1)
    between = cs[k - 1] ** 2 / k + (cs[-1] - cs[k - 1]) ** 2 / (n - k)
    best = int(k[np.argmax(between)])
    return float((xs[best - 1] + xs[best]) / 2)


def both_in_frame(frame: np.ndarray, left: np.ndarray, right: np.ndarray, n_frames: int) -> np.ndarray:
    """(F,) whether each frame holds a detection of each group (boolean masks over the D detections)."""
    return (np.bincount(frame[left], minlength=n_frames) > 0) & (np.bincount(frame[right], minlength=n_frames) > 0)


def two_hands(x: np.ndarray, frame: np.ndarray, left: np.ndarray, right: np.ndarray, n_frames: int,
              size: float) -> bool:
    """Whether the two groups of a 2-means split are two hands: at least a hand size apart, and either seen
    together (in 3 frames and 5% of the smaller group's) or far apart with a gap between them."""
    xl, xr = x[left], x[right]
    if min(len(xl), len(xr)) < 3 or float(np.median(xr) - np.median(xl)) < size:
        return False
    sep = float(np.median(xr) - np.median(xl))
    together = int(both_in_frame(frame, left, right, n_frames).sum())
    if together >= max(3, 0.05 * min(len(xl), len(xr))):
        return True
    return sep >= 2.5 * size and float(np.percentile(xr, 5) - np.percentile(xl, 95)) >= size


def hand_track(frame: np.ndarray, centroid: np.ndarray, mask: np.ndarray, n_frames: int) -> np.ndarray | None:
    """(F, 2) a hand's position over the frames from its sure detections (`mask`, ordered by frame): a slow
    rolling median over all of them (4 ROLLING detections, so that a spurious one sharing a frame is outvoted)
    picks one per frame (the nearest); their rolling median over ROLLING frames, interpolated between them, is
    the track. None without any."""
    idx = np.nonzero(mask)[0]
    if not len(idx):
        return None
    slow = pd.DataFrame(centroid[idx]).rolling(4 * ROLLING, center=True, min_periods=1).median().to_numpy()
    order = idx[np.lexsort((np.linalg.norm(centroid[idx] - slow, axis=1), frame[idx]))]
    one = order[np.unique(frame[order], return_index=True)[1]]
    sure = pd.DataFrame(centroid[one], index=frame[one]).rolling(ROLLING, center=True, min_periods=1).median()
    at = np.arange(n_frames)
    return np.stack([np.interp(at, sure.index.to_numpy(float), sure[c].to_numpy()) for c in (0, 1)], 1)


def assign(frame: np.ndarray, centroid: np.ndarray, size: np.ndarray, tracks: list, sizes: list[float],
            typical: float, n_frames: int) -> np.ndarray:
    """(2, F) the detection of each hand (picture left, right) per frame, -1: none. A detection goes to the
    hand whose position (`hand_track`) it is nearest, if within MAX_JUMP hand sizes and its size within
    SIZE_FACTOR of that hand's; of several in a frame the nearest wins, a loser goes to the other hand if that
    hand has none there and it is plausible for it (the hands passing close)."""
    cost = np.full((len(frame), 2), np.inf)
    for j, (where, own) in enumerate(zip(tracks, sizes, strict=True)):
        if where is None:
            continue  # one hand only
        cost[:, j] = np.linalg.norm(centroid - where[frame], axis=1) / typical
        with np.errstate(invalid="ignore", divide="ignore"):
            off = np.abs(np.log(size / own)) > np.log(SIZE_FACTOR)
        cost[(cost[:, j] > MAX_JUMP) | off | np.isnan(cost[:, j]), j] = np.inf
    chosen = np.full((2, n_frames), -1)
    taken = np.zeros(len(frame), bool)
    prefer = np.where(np.isfinite(cost.min(1)), np.argmin(cost, 1), -1)
    for _ in range(2):
        for j in (0, 1):
            idx = np.nonzero((prefer == j) & ~taken)[0]
            idx = idx[chosen[j, frame[idx]] < 0]
            idx = idx[np.lexsort((cost[idx, j], frame[idx]))]
            win = idx[np.unique(frame[idx], return_index=True)[1]]
            chosen[j, frame[win]], taken[win] = win, True
        other = np.where(prefer >= 0, 1 - prefer, 0)
        prefer = np.where(~taken & (prefer >= 0) & np.isfinite(cost[np.arange(len(frame)), other]), other, -1)
    return chosen


# The palm's rigid segments (wrist and the four MCPs): their lengths keep their ratios however the hand turns.
PALM_SEGMENTS = ((0, 5), (0, 9), (0, 13), (0, 17), (5, 17), (5, 9), (9, 13), (13, 17))
COMMON_ASPECTS = (9 / 16, 2 / 3, 3 / 4, 1.0, 4 / 3, 3 / 2, 16 / 9)  # width / height of usual cameras
ASPECT_GRID = np.exp(np.linspace(np.log(0.45), np.log(2.3), 121))


def frame_aspect(table: pd.DataFrame) -> float | None:
    """The frame's width / height estimated from hand landmarks given as fractions of the frame (x / width,
    y / height, z / width, as MediaPipe writes them) when the frame size is unknown: the aspect under which
    the palm's rigid segments (`PALM_SEGMENTS`) keep the most constant ratios of lengths over all detections
    (a wrong aspect stretches a segment by its direction, which changes as the hand turns). Snapped to a
    common camera aspect within 3%. None when the recording cannot tell (fewer than 30 whole palms, or a
    minimum less than twice as sharp as the square frame's, or no change of the ratios to sharpen), so the
    caller reads the square frame."""
    palm = table[table["landmark"].isin({i for seg in PALM_SEGMENTS for i in seg})]
    cols = ["x", "y"] + (["z"] if "z" in palm.columns else [])
    wide = palm.pivot_table(index=["t", "track"], columns="landmark", values=cols, aggfunc="first").dropna()
    if len(wide) < 30:
        return None
    start, end = (wide["x"].columns.get_indexer([seg[k] for seg in PALM_SEGMENTS]) for k in (0, 1))
    if min(start.min(), end.min()) < 0:  # a palm landmark never detected
        return None
    d = {c: wide[c].to_numpy()[:, end] - wide[c].to_numpy()[:, start] for c in cols}
    dz2 = d["z"] ** 2 if "z" in d else np.zeros_like(d["x"])
    # a palm with two landmarks on one point has a segment of no length under every aspect: left out
    whole = ((d["x"] ** 2 + d["y"] ** 2 + dz2) > 0).all(1)
    if whole.sum() < 30:
        return None
    d, dz2 = {c: v[whole] for c, v in d.items()}, dz2[whole]
    log_len = 0.5 * np.log(d["x"] ** 2 + (d["y"] / ASPECT_GRID[:, None, None]) ** 2 + dz2)  # (aspects, palms, segs)
    spread = np.sum(np.var(log_len - np.mean(log_len, 2, keepdims=True), 1), 1)
    best = float(ASPECT_GRID[np.argmin(spread)])
    square = spread[np.argmin(np.abs(ASPECT_GRID - 1.0))]
    if not spread.min() < 0.5 * square or square < 1e-9:  # < 1e-9: rigid under every aspect (rounding)
        return None
    common = min(COMMON_ASPECTS, key=lambda a: abs(np.log(a / best)))
    return common if abs(np.log(common / best)) < 0.03 else best
