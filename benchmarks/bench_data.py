"""Throughput of video ingestion: preprocessing (decode into the clip cache) and loading clips from the cache.

    python benchmarks/bench_data.py                      # a 6 s 1080p25 H.264 clip made here, 2 workers
    python benchmarks/bench_data.py --dataset DIR        # also every video of a dataset (docs/DATASET.md format)

Preprocessing always decodes (a fresh temporary cache). Loading, at 32x224x224 by default: the cache's .npy
files -> one in-memory tensor (once per run), then every epoch the engine's loader (`pdlib.train.clip_loader`,
one index_select gather per batch), a per-clip torch DataLoader with workers for comparison, and on a GPU the
GPU-resident engine loader with on-device augmentation. Target >= 300 clips/s.
"""

import argparse
import shutil
import struct
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import pandas as pd
import torch
from torch.utils.data import RandomSampler

from pdlib.data import ClipDataset, ClipSpec, cache_clips, to_model_input
from pdlib.preprocessing import preprocess
from pdlib.train import TrainConfig, clip_loader


def make_1080p(path: Path, seconds: float = 6.0, rate: int = 25) -> Path:
    """A 1920x1080 H.264 clip with moving texture (so it decodes like a real one, not a flat picture)."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (1080 + 64, 1920 + 64, 3), dtype=np.uint8)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "23"})
        s.width, s.height, s.pix_fmt = 1920, 1080, "yuv420p"
        for i in range(int(seconds * rate)):
            img = texture[i % 64:i % 64 + 1080, (2 * i) % 64:(2 * i) % 64 + 1920]
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")))
        c.mux(s.encode())
    return path


def distinct_copies(path: Path, n: int) -> list[str]:
    """n byte-distinct copies (a trailing MP4 'free' box of a different length) that decode identically,
    so the content-keyed cache decodes each one."""
    data = path.read_bytes()
    out = []
    for k in range(n):
        copy = path.with_name(f"{path.stem}_{k}{path.suffix}")
        copy.write_bytes(data + struct.pack(">I4s", 8 + k, b"free") + b"\0" * k)
        out.append(str(copy))
    return out


def bench_preprocess_1080p(tmp: Path, clips: int, frames: int, size: int, workers: int) -> None:
    t = time.perf_counter()
    src = make_1080p(tmp / "hd.mp4")
    print(f"made a 6 s 1080p25 H.264 clip ({src.stat().st_size / 2**20:.1f} MiB) "
          f"in {time.perf_counter() - t:.1f} s")
    paths = distinct_copies(src, clips)
    t = time.perf_counter()
    status = cache_clips(paths, ClipSpec(frames, size), tmp / "cache_hd", workers=workers, progress=False)
    dt = time.perf_counter() - t
    assert status["ok"].all() and status["decoded"].all(), status
    print(f"preprocess 1080p25 6 s H.264 -> {frames}x{size}x{size}: {clips} clips, {workers} workers: "
          f"{clips / dt:.2f} clips/s ({dt / clips * workers:.2f} s per clip per worker, incl. process start)")


def bench_preprocess_dataset(root: Path, tmp: Path, frames: int, size: int, workers: int) -> None:
    t = time.perf_counter()
    result = preprocess(root, ClipSpec(frames, size), tmp / "cache_ds", workers=workers, progress=False)
    dt = time.perf_counter() - t
    print(f"preprocess {root} -> {frames}x{size}x{size}: {len(result)} videos "
          f"({int(result['ok'].sum())} ok), {workers} workers: {len(result) / dt:.2f} clips/s")


def bench_loading(tmp: Path, n: int, frames: int, size: int, batch: int, workers: int) -> None:
    clip_dir = tmp / "npy"
    clip_dir.mkdir()
    rng = np.random.default_rng(0)
    files = []
    for i in range(n):
        files.append(str(clip_dir / f"{i}.npy"))
        np.save(files[-1], rng.integers(0, 256, (frames, size, size, 3), dtype=np.uint8))
    meta = pd.DataFrame({"video": files})
    t = time.perf_counter()
    ds = ClipDataset.from_files(files, [i % 2 for i in range(n)], meta)
    dt = time.perf_counter() - t
    print(f"cache (.npy, page cache) -> one in-memory tensor, once per run, {frames}x{size}x{size}: "
          f"{n / dt:.0f} clips/s ({ds.clips.nbytes / 2**30:.2f} GiB)")

    # The engine's loader (pdlib.train.clip_loader, as fit() uses it): a batch sampler over the in-memory
    # clips, each batch one index_select gather. This is what feeds training every epoch.
    config = TrainConfig(batch_size=batch, num_workers=0)
    for _ in range(2):
        t = time.perf_counter()
        seen = sum(len(x) for x, _ in clip_loader(ds, config, RandomSampler(ds)))
        dt = time.perf_counter() - t
    print(f"engine loader (clip_loader, batch {batch}, in-memory clips): {seen / dt:.0f} clips/s "
          f"({seen * ds.clips[0].nbytes / dt / 2**30:.2f} GiB/s)")

    # The same with worker processes and per-clip items, the usual torch DataLoader pattern, for comparison.
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers,
                                         persistent_workers=workers > 0)
    for _ in range(2):  # the first epoch includes starting the workers
        t = time.perf_counter()
        seen = sum(len(x) for x, _ in loader)
        dt = time.perf_counter() - t
    print(f"torch DataLoader, per-clip items ({workers} workers, batch {batch}, 2nd epoch): "
          f"{seen / dt:.0f} clips/s")

    if torch.cuda.is_available():
        resident = ds.to("cuda")
        for _ in range(2):
            t = time.perf_counter()
            seen = 0
            for x, _ in clip_loader(resident, config, RandomSampler(resident)):
                x = to_model_input(x, train=True)  # augmentation on the device included
                seen += len(x)
            torch.cuda.synchronize()
            dt = time.perf_counter() - t
        print(f"GPU-resident engine loader + on-device augmentation (batch {batch}): {seen / dt:.0f} clips/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, help="also preprocess this dataset folder (docs/DATASET.md format)")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--hd-clips", type=int, default=4, help="distinct copies of the 1080p clip to preprocess")
    ap.add_argument("--loader-clips", type=int, default=64)
    ap.add_argument("--batch", type=int, default=15)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_data_"))
    try:
        bench_preprocess_1080p(tmp, args.hd_clips, args.frames, args.size, args.workers)
        if args.dataset:
            bench_preprocess_dataset(args.dataset, tmp, args.frames, args.size, args.workers)
        bench_loading(tmp, args.loader_clips, args.frames, args.size, args.batch, args.workers)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
