"""Small videos and a small PD dataset made here with PyAV, for the data tests (tests/test_video.py,
tests/test_manifest.py, tests/test_clip_cache.py); their fixtures (`truncated`, `video_files`, `dataset`) are
tests/conftest.py's."""

import fractions
from pathlib import Path

import av
import numpy as np
import pandas as pd


def encode(path, codec="libx264", n=20, w=64, h=48, rate=25, pix_fmt="yuv420p", pts_ms=None, rotation=None,
           audio=False, video_streams=1, noise=0, options=None, picture=None) -> Path:
    """A small video whose frame i is uniformly gray 8*i (so a decoded frame tells its index)."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options=options or {}) as c:
        streams = []
        for _ in range(video_streams):
            s = c.add_stream(codec, rate=rate)
            s.width, s.height, s.pix_fmt = w, h, pix_fmt
            if pts_ms is not None:
                s.codec_context.time_base = fractions.Fraction(1, 1000)
            if rotation is not None:
                deg, hflip, vflip = rotation if isinstance(rotation, tuple) else (rotation, False, False)
                s.set_display_rotation(deg, hflip=hflip, vflip=vflip)
            streams.append(s)
        a = c.add_stream("aac", rate=8000, layout="mono") if audio else None
        for i in range(n):
            img = np.full((h, w, 3), 8 * i, np.int16) if picture is None else picture.astype(np.int16)
            img = img + (rng.integers(-noise, noise + 1, img.shape) if noise else 0)
            f = av.VideoFrame.from_ndarray(np.clip(img, 0, 255).astype(np.uint8), format="rgb24")
            if pts_ms is not None:
                f.pts, f.time_base = pts_ms[i], fractions.Fraction(1, 1000)
            for s in streams:
                c.mux(s.encode(f))
        for s in streams:
            c.mux(s.encode())
        if a is not None:
            for k in range(8):
                af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
                af.sample_rate, af.pts = 8000, k * 1024
                c.mux(a.encode(af))
            c.mux(a.encode())
    return Path(path)


def frame_ids(clip: np.ndarray) -> list[int]:
    """Which source frames a clip holds (frame i is gray 8*i)."""
    return [int(v) for v in np.round(clip.reshape(len(clip), -1).mean(axis=1) / 8)]



FASTSTART = {"movflags": "faststart"}  # the index first, so a truncated file still opens


VIDEOS = [  # video, patient, exam, task, side, score
    ("videos/p1_finger_L.mp4", "P1", "E1", "finger", "L", "0"),
    ("videos/p1_finger_R.mp4", "P1", "E1", "finger", "R", "3"),
    ("videos/p2_finger_L.mp4", "P2", "E2", "finger", "L", "2"),
    ("videos/p2_hand_L.avi", "P2", "E2", "hand", "L", "1"),
]


def write_dataset(root: Path, videos=VIDEOS, exams=None) -> Path:
    (root / "videos").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(videos, columns=["video", "patient", "exam", "task", "side", "score"]).to_csv(
        root / "videos.csv", index=False)
    exams = exams if exams is not None else pd.DataFrame(
        {"exam": ["E1", "E2"], "patient": ["P1", "P2"], "condition": ["OFF", "ON"], "total": [30, 12]})
    exams.to_csv(root / "exams.csv", index=False)
    return root


def edit_csv(root: Path, name: str, fn) -> None:
    df = pd.read_csv(root / name, dtype=str, keep_default_na=False)
    fn(df).to_csv(root / name, index=False)

