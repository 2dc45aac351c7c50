"""Robust video decoding with PyAV: T frames spread over a whole video, resized and centre-cropped to S x S.

Sampling (docs/DATASET.md "Clips"): a demux-only pass lists the presentation timestamps of the video stream's
packets (cheap: nothing is decoded); T target times are placed at the centres of T equal slices of the
video's duration and each takes the frame on screen at that time. For a constant frame rate this is
exactly `sample_indices(n, T)`; for a variable frame rate it follows time, not frame order. One decode
pass then converts only the sampled frames, straight to the target size. A second pass happens only
when the decoded frames differ from the plan (a truncated file, an edit list): the frames are then
re-sampled from those actually decoded and the difference is recorded as a warning.
"""

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from pdlib.data.spec import ClipSpec, window_count
from pdlib.messages import count

# Bump when the sampling or resizing changes: it is part of every cache key (pdlib.data.cache).
SAMPLER_VERSION = 2  # 2: mirrored display matrices applied
# swscale's area averaging: antialiased when shrinking, and faster than its default bilinear.
RESIZE = "AREA"
# Below these a file is not a recording of a task: one frame (a still picture) is unusable; `pdlib check`
# warns about a video shorter than MIN_SECONDS (decoding warns when it has fewer frames than a clip asks).
MIN_FRAMES = 2
MIN_SECONDS = 0.5
# A container tag that is not UTF-8 (some phones write Latin-1) must not stop a decode. PyAV 18 decodes tags
# strictly unless told `metadata_errors="ignore"`; PyAV 19 removed that argument and always decodes with
# surrogateescape. The lowest PyAV pyproject allows (18.0) is tested with the newest (tests/test_video.py, noxfile.py).
PYAV_MAJOR = int(av.__version__.split(".")[0])
_OPEN_OPTIONS = {"metadata_errors": "ignore"} if PYAV_MAJOR < 19 else {}
DISPLAYMATRIX = av.sidedata.sidedata.Type.DISPLAYMATRIX


def ffmpeg_reason(e: Exception) -> str:
    """FFmpeg's own words for an error, without the negative AVERROR code PyAV reports as an errno."""
    return getattr(e, "strerror", None) or str(e)


def file_fault(path: str | os.PathLike) -> str | None:
    """Why `path` cannot be a video file at all (missing, a directory, empty), or None."""
    path = Path(path)
    if path.is_dir():
        return "a directory, not a video file"
    if not path.is_file():
        return "missing file"
    if path.stat().st_size == 0:
        return "zero-length file"
    return None


class VideoDecodeError(Exception):
    """A video that cannot be decoded; the message names the file and the reason."""


class VideoWarning(UserWarning):
    """A video that decoded, but not as its header promised (truncated file, several video streams)."""


@dataclass
class ClipInfo:
    """What decoding one video found: frame counts, the sampled frame ordinals, and warnings."""

    header_frames: int  # stream.frames as the container header states it; 0 when unknown
    frames: int  # frames actually decoded (in presentation order)
    indices: list[int]  # ordinals (0-based, presentation order) of the sampled frames
    by_time: bool  # sampled by presentation time (else by frame order: timestamps missing)
    rotation: int  # counter-clockwise degrees applied to make frames upright
    width: int  # of the upright picture, before resizing
    height: int
    warnings: list[str] = field(default_factory=list)
    mirrored: bool = False  # the display matrix also mirrors: flipped left-right after the rotation


def sample_indices(n_frames: int, frames: int) -> np.ndarray:
    """Ordinals of `frames` frames spread evenly over `n_frames`: index k is floor((k + 1/2) n / T).

    The centre of each of T equal slices of the video (integer arithmetic, so exact); frames repeat
    when the video is shorter than T. Example: n=10, T=4 -> [1, 3, 6, 8].
    """
    if n_frames < 1 or frames < 1:
        raise ValueError(f"sample_indices: expected n_frames >= 1 and frames >= 1, got {n_frames}, {frames}")
    k = np.arange(frames, dtype=np.int64)
    return ((2 * k + 1) * n_frames) // (2 * frames)


def time_indices(pts: np.ndarray, last_duration: int, frames: int) -> np.ndarray:
    """Ordinals of the frames on screen at the centres of T equal slices of the video's duration.

    `pts`: sorted presentation timestamps (integer ticks); the video spans
    [pts[0], pts[-1] + last_duration). Equals `sample_indices` for a constant frame rate.
    """
    rel = (np.asarray(pts, dtype=np.int64) - int(pts[0])) * 2 * frames
    span = int(pts[-1]) - int(pts[0]) + max(int(last_duration), 1)
    targets = (2 * np.arange(frames, dtype=np.int64) + 1) * span
    return np.clip(np.searchsorted(rel, targets, side="right") - 1, 0, len(pts) - 1)


def window_indices(n_frames: int, frames: int, start: int | str = "middle") -> np.ndarray:
    """Ordinals of T consecutive frames (native rate) from `start`, or centred when start="middle".

    The last frame repeats when the video ends before the window does. start="windows<K>": K windows of T/K
    consecutive frames, window k centred on the centre of the k-th of K equal slices of the video (kept
    inside it), one after the other; K=1 is "middle". Example: n=100, T=8, K=4 -> [11..12], [36..37], ...
    """
    k = window_count(start)
    if k > 1:
        width = frames // k
        centres = ((2 * np.arange(k) + 1) * n_frames) // (2 * k)
        starts = np.clip(centres - width // 2, 0, max(n_frames - width, 0))
        return np.minimum((starts[:, None] + np.arange(width)).ravel(), n_frames - 1)
    if start == "middle" or start == "windows1":
        start = max(0, (n_frames - frames) // 2)
    if not isinstance(start, int) or not 0 <= start < n_frames:
        raise ValueError(f"window start: expected 'middle' or an int in [0, {n_frames}), got {start!r}")
    return np.minimum(np.arange(start, start + frames), n_frames - 1)


def _open(path: Path) -> av.container.InputContainer:
    fault = file_fault(path)
    if fault:
        raise VideoDecodeError(f"{path}: {fault}")
    try:
        container = av.open(str(path), **_OPEN_OPTIONS)
    except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise VideoDecodeError(f"{path}: cannot open as a video container ({ffmpeg_reason(e)})") from e
    if container.format.name == "image2" or container.format.name.endswith("_pipe"):  # png_pipe, jpeg_pipe...
        container.close()
        raise VideoDecodeError(f"{path}: a still image ({container.format.long_name or container.format.name}), "
                               "not a video")
    return container


def _video_stream(path: Path, container, notes: list[str]):
    """The first video stream that is not cover art; a note when there are several."""
    streams = [s for s in container.streams.video
               if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        raise VideoDecodeError(f"{path}: no video stream (streams: {[s.type for s in container.streams]})")
    if len(streams) > 1:
        notes.append(f"{len(streams)} video streams; using the first (stream #{streams[0].index})")
    stream = streams[0]
    stream.codec_context.thread_count = 1  # parallelism comes from worker processes
    return stream


def _plan(path: Path, stream) -> tuple[np.ndarray | None, int, int, bool]:
    """Demux only: (sorted pts or None when missing, packet count, last packet duration, truncated)."""
    pts, last_dur, truncated = [], 0, False
    for packet in stream.container.demux(stream):
        if packet.size == 0 or packet.is_discard:
            continue
        truncated |= packet.is_corrupt
        pts.append(packet.pts)
        last_dur = packet.duration or 0
    if not pts:
        raise VideoDecodeError(f"{path}: the video stream holds no frame")
    if len(pts) < MIN_FRAMES:
        raise VideoDecodeError(f"{path}: the video stream holds {len(pts)} frame, a still picture "
                               f"(a clip needs at least {MIN_FRAMES} frames)")
    has_pts = all(p is not None for p in pts)
    return (np.sort(np.asarray(pts, dtype=np.int64)) if has_pts else None), len(pts), last_dur, truncated


def _target_size(width: int, height: int, sar: float, size: int) -> tuple[int, int]:
    """(w, h) with the display aspect ratio kept and the short side equal to `size`."""
    dw = width * sar
    if dw <= height:
        return size, max(size, round(height * size / dw))
    return max(size, round(dw * size / height)), size


def _centre_crop(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    y0, x0 = (h - size) // 2, (w - size) // 2
    return img[y0:y0 + size, x0:x0 + size]


def orientation(frame) -> tuple[int, bool]:
    """(counter-clockwise degrees in 0/90/180/270, mirrored) that make `frame` upright, from its display
    matrix (FFmpeg's `av_display_rotation_set` then `av_display_matrix_flip`).

    PyAV's `frame.rotation` ignores flips (a left-right mirror reads as -180 degrees), so the matrix
    is read here: a negative determinant is a mirror applied after the rotation; the angle of the
    un-mirrored matrix is the rotation, rounded to a quarter turn.
    """
    side = frame.side_data.get(DISPLAYMATRIX)  # a Mapping by side-data type in PyAV 18 and 19 alike
    matrix = None if side is None else bytes(side)
    if matrix is None or len(matrix) != 36:
        return round((frame.rotation or 0) / 90) % 4 * 90, False
    m = np.frombuffer(matrix, dtype=np.int32).astype(np.float64) / 65536  # 16.16 fixed point
    a, b, c, d = m[0], m[1], m[3], m[4]
    mirrored = a * d - b * c < 0
    if mirrored:  # the flip negated the first column
        a, c = -a, -c
    return round(-np.degrees(np.arctan2(b, a)) / 90) % 4 * 90, bool(mirrored)  # as av_display_rotation_get


def _upright(img: np.ndarray, orient: tuple[int, bool]) -> np.ndarray:
    img = np.rot90(img, orient[0] // 90)
    return img[:, ::-1] if orient[1] else img


def _convert(frame, size: int, sar: float, orient: tuple[int, bool], crop) -> np.ndarray:
    """One decoded frame -> upright (size, size, 3) uint8 RGB."""
    k = orient[0] // 90
    if crop is None:
        w, h = _target_size(frame.width, frame.height, sar, size)
        img = _upright(frame.to_ndarray(width=w, height=h, format="rgb24", interpolation=RESIZE), orient)
        return _centre_crop(img, size)
    # A crop box is given in the upright picture's pixels: crop at full resolution, then resize.
    full = _upright(frame.to_ndarray(format="rgb24"), orient)
    x0, y0, x1, y1 = crop
    box = np.ascontiguousarray(full[max(y0, 0):y1, max(x0, 0):x1])
    if box.shape[0] < 1 or box.shape[1] < 1:
        raise ValueError(f"crop {crop} is empty inside a {full.shape[1]}x{full.shape[0]} picture")
    w, h = _target_size(box.shape[1], box.shape[0], sar if k % 2 == 0 else 1 / sar, size)
    small = av.VideoFrame.from_ndarray(box, format="rgb24").to_ndarray(width=w, height=h, format="rgb24",
                                                                       interpolation=RESIZE)
    return _centre_crop(small, size)


def _decode(path: Path, stream, wanted: np.ndarray | None, size: int, crop, tolerate_tail: bool):
    """Decode the stream once; convert the frames whose ordinal is in `wanted`.

    Returns ({ordinal: image}, decoded pts, last frame duration, orientation, error note or None). A decoding
    error ends the pass silently when `tolerate_tail` (a truncated file), else raises VideoDecodeError.
    """
    want = set() if wanted is None else {int(i) for i in wanted}
    sar = float(stream.sample_aspect_ratio or 1) or 1.0
    images, pts, last_dur, orient, note = {}, [], 0, (0, False), None
    packets = stream.container.demux(stream)
    while True:
        try:
            packet = next(packets)
            decoded = packet.decode()
        except StopIteration:
            break
        except av.FFmpegError as e:
            where = f"after {len(pts)} decoded frames"
            if tolerate_tail and pts:
                note = f"decoding stopped {where}: {e}"
                break
            raise VideoDecodeError(f"{path}: corrupt data {where} ({ffmpeg_reason(e)})") from e
        for frame in decoded:
            if not pts:
                orient = orientation(frame)
            if len(pts) in want:
                try:
                    images[len(pts)] = _convert(frame, size, sar, orient, crop)
                except ValueError as e:
                    raise VideoDecodeError(f"{path}: {e}") from e
            pts.append(frame.pts)
            last_dur = frame.duration or 0
    return images, pts, last_dur, orient, note


def _indices(pts, n: int, last_dur: int, frames: int, window, path: Path) -> tuple[np.ndarray, bool]:
    if window is not None:
        try:
            return window_indices(n, frames, window), False
        except ValueError as e:  # a start beyond this video's end: this video is skipped, not the dataset
            raise VideoDecodeError(f"{path}: the video has {count(n, 'frame')}, too few for the clip window "
                                   f"({e})") from e
    if pts is not None and len(pts) == n and all(p is not None for p in pts):
        return time_indices(np.sort(np.asarray(pts, dtype=np.int64)), last_dur, frames), True
    return sample_indices(n, frames), False


def decode_clip(path: str | os.PathLike, spec: ClipSpec, *,
                box: tuple[int, int, int, int] | None = None) -> tuple[np.ndarray, ClipInfo]:
    """`read_clip` plus what decoding found (`ClipInfo`: counts, sampled ordinals, warnings)."""
    path = Path(path)
    frames, size, window, crop = spec.frames, spec.size, spec.window, box
    notes: list[str] = []
    with _open(path) as container:
        try:
            stream = _video_stream(path, container, notes)
            header = max(int(stream.frames or 0), 0)
            dims = (stream.codec_context.width, stream.codec_context.height)
            pts, n_packets, last_dur, truncated = _plan(path, stream)
        except av.FFmpegError as e:
            raise VideoDecodeError(f"{path}: cannot read the container ({ffmpeg_reason(e)})") from e
    tolerate = truncated or (header > n_packets)
    wanted, by_time = _indices(pts, n_packets, last_dur, frames, window, path)
    images, dec_pts, dec_last, orient, note = _run_pass(path, wanted, size, crop, tolerate)
    if note:
        notes.append(note)
    n = len(dec_pts)
    if n == 0:
        raise VideoDecodeError(f"{path}: no frame could be decoded")
    if header and n != header:
        notes.append(f"header promises {count(header, 'frame')}, decoded {n}; sampled from the "
                     f"{count(n, 'decoded frame')}")
    same_pts = pts is None or (None not in dec_pts and np.array_equal(np.sort(dec_pts), pts))
    same_plan = n == n_packets and same_pts
    if not same_plan:  # re-sample from the frames actually decoded (second pass)
        wanted, by_time = _indices(dec_pts, n, dec_last, frames, window, path)
        images, *_ = _run_pass(path, wanted, size, crop, tolerate_tail=True, limit=n)
    if n < frames:
        notes.append(f"{count(n, 'frame')}, fewer than the {frames} asked: frames repeat in the clip")
    clip = np.stack([images[int(i)] for i in wanted])
    width, height = dims[::-1] if orient[0] % 180 else dims
    info = ClipInfo(header, n, [int(i) for i in wanted], by_time, orient[0], width, height, notes,
                    mirrored=orient[1])
    return clip, info


def _run_pass(path: Path, wanted, size, crop, tolerate_tail: bool, limit: int | None = None):
    with _open(path) as container:
        stream = _video_stream(path, container, [])
        images, pts, last_dur, orient, note = _decode(path, stream, wanted, size, crop, tolerate_tail)
    if limit is not None and len(pts) < limit:
        raise VideoDecodeError(f"{path}: decoded {count(len(pts), 'frame')} on a second pass, {limit} on the first")
    return images, pts, last_dur, orient, note


def read_clip(path: str | os.PathLike, spec: ClipSpec, *, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """A clip (T, S, S, 3) uint8 RGB, upright, from one video as `spec` (`ClipSpec`: T frames of S x S pixels,
    the window) says (docs/DATASET.md "Clips"; Sec. IV-A).

    Frames are spread over the whole video by presentation time (module docstring; `sample_indices`
    for a constant rate) and repeat when the video is shorter than T. Each is resized on its
    short side to S, keeping the display aspect ratio, and centre-cropped to S x S.
    `spec.window`: instead, T consecutive frames at the native rate from the middle ("middle") or from
    a given start ordinal. `box`: the row's crop box (x0, y0, x1, y1) in pixels of the upright picture, applied
    before resizing (`spec.crop` says where boxes come from: `pdlib.boxes.clip_box`). Rotation metadata (the
    display matrix, mirrors included: `orientation`) is applied. Raises VideoDecodeError naming the file and the
    reason; issues a VideoWarning for a file that decoded but not as its header promised.
    """
    clip, info = decode_clip(path, spec, box=box)
    for note in info.warnings:
        warnings.warn(f"{path}: {note}", VideoWarning, stacklevel=2)
    return clip


def _seconds(pts, last_duration: int, time_base) -> float | None:
    """The span of presentation times [pts[0], pts[-1] + last duration) in seconds, None without timestamps."""
    if not len(pts) or time_base is None or any(p is None for p in pts):
        return None
    return float((max(pts) - min(pts) + (last_duration or 0)) * time_base)


def probe_video(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """What `pdlib check` learns of a video without decoding it all: demux the stream (frame count, span and
    frame times) and decode its first frame. Raises VideoDecodeError saying why the video is unusable (not a
    container, a still image, one frame, no decodable frame); returns (warnings: shorter than MIN_SECONDS,
    the frame times in seconds, empty without timestamps)."""
    path = Path(path)
    with _open(path) as container:
        try:
            stream = _video_stream(path, container, [])
            pts, n, last_dur, _ = _plan(path, stream)
            seconds = _seconds(pts if pts is not None else [], last_dur, stream.time_base)
            times = (pts * float(stream.time_base) if pts is not None and stream.time_base is not None
                     else np.zeros(0))
        except av.FFmpegError as e:
            raise VideoDecodeError(f"{path}: cannot read the container ({ffmpeg_reason(e)})") from e
    with _open(path) as container:
        try:
            for _ in container.decode(_video_stream(path, container, [])):
                break
            else:
                raise VideoDecodeError(f"{path}: no frame could be decoded")
        except av.FFmpegError as e:
            raise VideoDecodeError(f"{path}: cannot decode the first frame ({ffmpeg_reason(e)})") from e
    if seconds is not None and seconds < MIN_SECONDS:
        return [f"lasts {seconds:.2f} s ({count(n, 'frame')}), under {MIN_SECONDS} s"], times
    return [], times


def iter_frames(path: str | os.PathLike, max_side: int = 640):
    """Every frame of a video, upright, as (seconds, (H, W, 3) uint8 RGB) with the longer side at most
    `max_side` (aspect kept): for trackers, which want whole frames and their times (variable frame rates
    kept). A truncated file ends where decoding stops; a file that cannot be opened raises VideoDecodeError."""
    path = Path(path)
    container = _open(path)
    try:
        stream = _video_stream(path, container, [])
        stream.codec_context.thread_count = 0  # one video at a time: let FFmpeg use the cores
        orient = None
        for packet in container.demux(stream):
            try:
                decoded = packet.decode()
            except av.FFmpegError:
                break
            for frame in decoded:
                if orient is None:
                    orient = orientation(frame)
                scale = min(1.0, max_side / max(frame.width, frame.height))
                w, h = max(2, round(frame.width * scale)), max(2, round(frame.height * scale))
                img = frame.to_ndarray(width=w, height=h, format="rgb24", interpolation=RESIZE)
                seconds = float(frame.pts * stream.time_base) if frame.pts is not None else np.nan
                yield seconds, np.ascontiguousarray(_upright(img, orient))
    finally:
        container.close()
