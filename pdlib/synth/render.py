"""Vectorised numpy drawing for the synthetic datasets: soft-edged capsules and ellipses, camera, scenery,
lighting, sensor noise, deterministic video writing with PyAV, the process pool and output folders."""

import hashlib
import json
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image

FPS = 25
CHUNK = 32  # frames drawn at once: bounds the (T, h, w) temporaries to a few MB


def stable_seed(*parts: object) -> int:
    """A 63-bit seed from strings/ints that does not depend on PYTHONHASHSEED or worker scheduling."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


@dataclass
class Capsule:
    """A segment a-b with radius r (cm), per frame: a, b (T, 2); r scalar or (T,); color RGB in [0, 1]."""

    a: np.ndarray
    b: np.ndarray
    r: float | np.ndarray
    color: Sequence[float]


@dataclass
class Ellipse:
    """An ellipse per frame: centre c (T, 2), semi-axes (T, 2) or (2,), angle (T,) or scalar (radians)."""

    c: np.ndarray
    axes: np.ndarray | Sequence[float]
    angle: float | np.ndarray
    color: Sequence[float]


Shape = Capsule | Ellipse


@dataclass(frozen=True)
class Camera:
    """World (cm, y up) to pixels: scale px/cm, roll angle, the pixel the world origin lands on, mirror."""

    scale: float
    angle: float
    center: tuple[float, float]
    mirror: bool = False

    def project(self, p: np.ndarray) -> np.ndarray:
        """Points (..., 2) in cm to pixel coordinates (..., 2) (x right, y down)."""
        x = -p[..., 0] if self.mirror else p[..., 0]
        y = p[..., 1]
        c, s = np.cos(self.angle), np.sin(self.angle)
        u = self.center[0] + self.scale * (c * x - s * y)
        v = self.center[1] - self.scale * (s * x + c * y)
        return np.stack([u, v], axis=-1)


def _frames(x, n: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, dtype=np.float32), (n, *shape))


def _bbox(lo: np.ndarray, hi: np.ndarray, h: int, w: int) -> tuple[int, int, int, int] | None:
    x0, y0 = np.floor(lo.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(hi.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _paint(region: np.ndarray, alpha: np.ndarray, shade: np.ndarray, color: np.ndarray) -> None:
    region += alpha[..., None] * (shade[..., None] * color - region)


def _draw_capsule(canvas: np.ndarray, cap: Capsule, cam: Camera, sl: slice) -> None:
    t = canvas.shape[0]
    a = cam.project(_frames(cap.a, t, (2,)) if np.ndim(cap.a) == 1 else np.asarray(cap.a)[sl])
    b = cam.project(_frames(cap.b, t, (2,)) if np.ndim(cap.b) == 1 else np.asarray(cap.b)[sl])
    r = (np.asarray(cap.r, np.float32)[sl] if np.ndim(cap.r) else _frames(cap.r, t, ())) * cam.scale
    r = np.maximum(r, 0.5)
    box = _bbox(np.minimum(a, b) - r[:, None], np.maximum(a, b) + r[:, None], *canvas.shape[1:3])
    if box is None:
        return
    x0, y0, x1, y1 = box
    xs = np.arange(x0, x1, dtype=np.float32)[None, None, :]
    ys = np.arange(y0, y1, dtype=np.float32)[None, :, None]
    ax, ay = a[:, 0, None, None], a[:, 1, None, None]
    bax, bay = b[:, 0, None, None] - ax, b[:, 1, None, None] - ay
    pax, pay = xs - ax, ys - ay
    h = np.clip((pax * bax + pay * bay) / (bax * bax + bay * bay + 1e-6), 0.0, 1.0)
    d = np.sqrt((pax - bax * h) ** 2 + (pay - bay * h) ** 2)
    rr = r[:, None, None]
    alpha = np.clip(rr + 0.5 - d, 0.0, 1.0)
    shade = 1.0 - 0.35 * np.clip(d / rr, 0.0, 1.0) ** 2  # a tube, lit from the front
    _paint(canvas[:, y0:y1, x0:x1], alpha, shade, np.asarray(cap.color, np.float32))


def _draw_ellipse(canvas: np.ndarray, ell: Ellipse, cam: Camera, sl: slice) -> None:
    t = canvas.shape[0]
    c = cam.project(_frames(ell.c, t, (2,)) if np.ndim(ell.c) == 1 else np.asarray(ell.c)[sl])
    axes = (np.asarray(ell.axes, np.float32)[sl] if np.ndim(ell.axes) == 2 else _frames(ell.axes, t, (2,)))
    axes = np.maximum(axes * cam.scale, 0.5)
    ang = np.asarray(ell.angle, np.float32)[sl] if np.ndim(ell.angle) else _frames(ell.angle, t, ())
    ang = (-ang if cam.mirror else ang) + cam.angle  # world angle to image angle (y flips)
    big = axes.max(axis=1)[:, None]
    box = _bbox(c - big, c + big, *canvas.shape[1:3])
    if box is None:
        return
    x0, y0, x1, y1 = box
    dx = np.arange(x0, x1, dtype=np.float32)[None, None, :] - c[:, 0, None, None]
    dy = np.arange(y0, y1, dtype=np.float32)[None, :, None] - c[:, 1, None, None]
    co, si = np.cos(ang)[:, None, None], np.sin(ang)[:, None, None]
    u = dx * co - dy * si
    v = dx * si + dy * co
    q = np.sqrt((u / axes[:, 0, None, None]) ** 2 + (v / axes[:, 1, None, None]) ** 2)
    dist = (q - 1.0) * np.sqrt(u * u + v * v) / np.maximum(q, 1e-6)  # radial distance to the rim
    alpha = np.clip(0.5 - dist, 0.0, 1.0)
    shade = 1.0 - 0.3 * np.clip(q, 0.0, 1.0) ** 2
    _paint(canvas[:, y0:y1, x0:x1], alpha, shade, np.asarray(ell.color, np.float32))


def scenery(rng: np.random.Generator, height: int, width: int, floor: bool = True) -> np.ndarray:
    """A room background (H, W, 3) in [0, 1]: textured wall, optional floor, a door or cabinet, a poster."""
    wall = rng.uniform(0.35, 0.85, 3)
    coarse = wall + rng.normal(0.0, 0.06, (6, 8, 1)) + rng.normal(0.0, 0.015, (6, 8, 3))
    img = np.asarray(Image.fromarray(np.uint8(np.clip(coarse, 0, 1) * 255)).resize(
        (width, height), Image.BICUBIC), np.float32) / 255.0
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    k = rng.uniform(0.05, 0.4, 2)
    img += (rng.uniform(0.0, 0.04) * np.sin(k[0] * xx + k[1] * yy * rng.choice([0, 1])))[..., None]
    for _ in range(rng.integers(1, 4)):  # furniture: a door, a cabinet, a poster
        w, h = rng.uniform(0.1, 0.35) * width, rng.uniform(0.15, 0.7) * height
        x0, y0 = rng.uniform(-0.1, 1.0) * width, rng.uniform(0.0, 0.7) * height
        inside = (xx >= x0) & (xx < x0 + w) & (yy >= y0) & (yy < y0 + h)
        img[inside] = 0.5 * rng.uniform(0.1, 0.9, 3) + 0.5 * rng.uniform(0.1, 0.9)
    if floor:
        horizon = rng.uniform(0.6, 0.85) * height
        img[yy >= horizon] = rng.uniform(0.15, 0.6, 3) + rng.normal(0, 0.015, (int((yy >= horizon).sum()), 3))
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def lighting(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Per-pixel gain (H, W, 3): overall exposure, a linear fall-off in a random direction, colour cast."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(theta) * (xx / width - 0.5) + np.sin(theta) * (yy / height - 0.5))
    gain = rng.uniform(0.75, 1.2) * (1.0 + rng.uniform(0.0, 0.5) * ramp)
    cast = 1.0 + rng.normal(0.0, 0.05, 3)
    return (gain[..., None] * cast).astype(np.float32)


def _sensor_noise(rng: np.random.Generator, shape: tuple[int, ...], sd: float) -> np.ndarray:
    """Zero-mean triangular noise with standard deviation sd (sum of two uniform bytes: ~6x faster than
    a normal draw, and the noise of a camera sensor need not be Gaussian)."""
    u = np.frombuffer(rng.bytes(2 * int(np.prod(shape))), np.uint8).reshape(2, *shape)
    noise = u[0].astype(np.float32)
    noise += u[1]
    noise -= 255.0
    noise *= sd / 104.1  # sd of the sum of two uniform bytes
    return noise


def render_frames(shapes: Iterable[Shape], cam: Camera, background: np.ndarray, light: np.ndarray,
                  n_frames: int, noise_sd: float, rng: np.random.Generator) -> np.ndarray:
    """Draw the shapes (in order) over the background, apply lighting and sensor noise: (T, H, W, 3) uint8."""
    shapes = list(shapes)
    h, w, _ = background.shape
    out = np.empty((n_frames, h, w, 3), np.uint8)
    gain = light * 255.0
    for start in range(0, n_frames, CHUNK):
        sl = slice(start, min(start + CHUNK, n_frames))
        canvas = np.repeat(background[None], sl.stop - sl.start, axis=0)
        for s in shapes:
            (_draw_capsule if isinstance(s, Capsule) else _draw_ellipse)(canvas, s, cam, sl)
        canvas *= gain
        canvas += _sensor_noise(rng, canvas.shape, noise_sd)
        np.clip(canvas, 0, 255, out=canvas)
        out[sl] = canvas
    return out


def to_yuv420p(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB to (T, H * 3 // 2, W) uint8 planar YUV 4:2:0 (PyAV's yuv420p layout), BT.601
    limited range in integer arithmetic.

    Done here in integers rather than by swscale or a float matmul, whose SIMD paths depend on the buffer's
    alignment: the same frames then encoded to different bytes from one run to the next.
    """
    t, h, w, _ = frames.shape
    r, g, b = (frames[..., i].astype(np.int32) for i in range(3))
    out = np.empty((t, h * 3 // 2, w), np.uint8)
    out[:, :h] = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16
    for k, (cr, cg, cb) in enumerate(((-38, -74, 112), (112, -94, -18))):
        c = cr * r + cg * g + cb * b
        c = c.reshape(t, h // 2, 2, w // 2, 2).sum(axis=(2, 4))  # 2x2 chroma subsampling
        plane = ((c + 512) >> 10) + 128
        out[:, h + k * h // 4:h + (k + 1) * h // 4] = plane.reshape(t, h // 4, w)
    return out


def write_video(path: Path, frames: np.ndarray, codec: str = "libx264", fps: int = FPS) -> None:
    """Encode (T, H, W, 3) uint8 frames (H, W even): H.264 in mp4 (crf 20) or MPEG-4 Part 2 in avi, from
    yuv420p planes made by to_yuv420p, one encoder thread, no x264 assembly: same frames, same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # x264's assembly gave different bytes for the same frames from run to run; its C path does not.
    options = {"crf": "20", "preset": "veryfast", "x264-params": "asm=0"} if codec == "libx264" \
        else {"qscale": "3"}
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        stream.options = options
        for f in to_yuv420p(frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="yuv420p")))
        container.mux(stream.encode())


def prepare_output(out: Path, meta: dict, marker: str) -> bool:
    """True when out/meta.json already records `meta`; else empties what a previous generator wrote there
    (after checking the folder is empty or carries `marker`) and marks the folder as ours."""
    meta_path = out / "meta.json"
    if meta_path.is_file() and json.loads(meta_path.read_text()) == meta:
        return True
    if out.exists() and any(out.iterdir()) and not (out / marker).exists():
        raise FileExistsError(f"{out} is not empty and was not written by pdlib.synth (no {marker}); "
                              f"expected an empty or missing folder")
    for sub in ("videos", "splits"):
        shutil.rmtree(out / sub, ignore_errors=True)
    meta_path.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / marker).write_text(f"written by pdlib.synth {meta['version']}\n")
    return False
