"""The clip cache: every video decoded once, in worker processes, into a uint8 `.npy` keyed by its content.

Layout of a cache folder (a run's is `Layout.cache_dir`, shared by the notebooks and `pdlib preprocess`):
    hashes.json                                   {absolute path: [size, mtime_ns, blake2b]} (a memo only)
    clips/<ClipSpec.tag>_v<SAMPLER_VERSION>/       (T<frames>_S<size>[_W<window>])
        <blake2b>[_crop<x0>-<y0>-<x1>-<y1>].npy   (T, S, S, 3) uint8, np.load(mmap_mode="r") friendly
        <same stem>.json                          {"ok", "reason", "warnings", "frames", "header_frames",
                                                   "indices", "source"}; a failure has no .npy
    report_<dataset>_<ClipSpec.tag>[_crop-<mode>].csv  video, status (skipped | warning), reason
The key is the blake2b-128 of the file's bytes; (size, mtime_ns) only spares re-hashing an unchanged
file. A changed video, or changed sampling parameters, re-decodes only what changed; a failure is
remembered too (decoding is deterministic), so a second run decodes nothing.
"""

import hashlib
import json
import os
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pandas as pd

from pdlib.data.spec import ClipSpec
from pdlib.data.video import SAMPLER_VERSION, VideoDecodeError, decode_clip, file_fault
from pdlib.jobs import run_jobs

DECODE_REPORT_COLUMNS = ("video", "status", "reason")


def content_hash(path: str | os.PathLike) -> str:
    """blake2b-128 hex digest of the file's bytes (the cache key of its clips)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def clip_dir(cache_dir: str | os.PathLike, spec: ClipSpec) -> Path:
    """The folder holding the clips of one clip spec (crop boxes are part of each clip's file name)."""
    return Path(cache_dir) / "clips" / f"{spec.tag}_v{SAMPLER_VERSION}"


def report_path(cache_dir: str | os.PathLike, dataset: str, spec: ClipSpec) -> Path:
    """`<cache_dir>/report_<dataset>_<spec.tag>[_crop-<mode>].csv`: the videos skipped or warned about (the
    crop mode named unless "manifest").

    The dataset's folder name is part of the name because several datasets may share one cache.
    """
    crop = "" if spec.crop == "manifest" else f"_crop-{spec.crop}"
    return Path(cache_dir) / f"report_{dataset}_{spec.tag}{crop}.csv"


def _stem(digest: str, crop) -> str:
    return digest + ("_crop" + "-".join(map(str, crop)) if crop else "")


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:  # a file object: np.save would append ".npy" to a temporary name
        np.save(f, array)


def _cached(npy: Path) -> dict | None:
    """The stored outcome of a clip (a success only while its .npy exists), or None."""
    try:
        done = json.loads(npy.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None
    return None if done.get("ok") and not npy.is_file() else done


def _failure(reason: str) -> dict:
    """The outcome of a video that could not even be read (not cached: it may be fixed in place)."""
    return {"hash": None, "ok": False, "reason": reason, "warnings": [], "decoded": False}


def _work(path: str, digest: str | None, out: str, spec: ClipSpec, crop) -> dict:
    """Worker: hash (when unknown), decode and store one video; never raises for a bad video."""
    try:
        digest = digest or content_hash(path)
    except OSError as e:
        return _failure(f"unreadable file ({e})")
    npy = Path(out) / f"{_stem(digest, crop)}.npy"
    done = _cached(npy)
    if done is not None:
        return {**done, "hash": digest, "decoded": False}
    try:
        clip, info = decode_clip(path, spec, box=crop)
        result = {"ok": True, "reason": "", "warnings": info.warnings, "frames": info.frames,
                  "header_frames": info.header_frames, "indices": info.indices}
        _atomic_write(npy, lambda p: _save_npy(p, clip))
    except VideoDecodeError as e:
        result = {"ok": False, "reason": str(e).removeprefix(f"{path}: "), "warnings": [], "frames": 0}
    result["source"] = path
    _atomic_write(npy.with_suffix(".json"), lambda p: p.write_text(json.dumps(result)))
    return {**result, "hash": digest, "decoded": True}


def _load_memo(cache_dir: Path) -> dict:
    try:
        return json.loads((cache_dir / "hashes.json").read_text())
    except (OSError, ValueError):
        return {}


def _work_job(job: tuple) -> dict:
    return _work(*job)


def _run(jobs: dict[int, tuple], results: list, workers: int | None, progress: bool, spec: ClipSpec) -> None:
    """Decode the `jobs` (index -> `_work` arguments) into `results` (`pdlib.jobs.run_jobs`: worker processes
    when they repay their start)."""
    try:
        done = run_jobs(_work_job, list(jobs.values()), workers, progress, desc=f"decoding {spec.tag}")
    except BrokenProcessPool as e:
        raise RuntimeError(
            f"cache_clips: a decoding worker process died ({e}). Workers are started with 'spawn', which "
            "re-imports the calling script: a script that calls pdlib at its top level needs "
            "`if __name__ == \"__main__\":`. Otherwise the machine may be out of memory; workers=1 decodes "
            "in this process.") from e
    for i, result in zip(jobs, done, strict=True):
        results[i] = result


def cache_clips(paths: list[str], spec: ClipSpec, cache_dir: str | os.PathLike, *, crops: list | None = None,
                workers: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Decode every video not yet in the cache (worker processes) as `spec` says; one row per path, in order.
    `crops` (a box or None per path: `pdlib.boxes.clip_boxes`) are used unless `spec.crop` is "none".

    Columns: path, ok, reason, warning ("; "-joined), decoded (True when decoded by this call), cache
    (the .npy, "" when skipped), frames (decoded frame count), hash. A video that cannot be used never
    stops the run: its row has ok=False and the reason.
    """
    cache_dir = Path(cache_dir)
    out = clip_dir(cache_dir, spec)
    out.mkdir(parents=True, exist_ok=True)
    crops = crops if crops is not None and spec.crop != "none" else [None] * len(paths)
    memo = _load_memo(cache_dir)
    results: list[dict | None] = [None] * len(paths)
    jobs = {}
    for i, (path, crop) in enumerate(zip(paths, crops, strict=True)):
        fault = file_fault(path)  # the same words as `pdlib check` (missing, a directory, empty)
        if fault:
            results[i] = _failure(fault)
            continue
        st = os.stat(path)
        known = memo.get(str(path))
        digest = known[2] if known and known[:2] == [st.st_size, st.st_mtime_ns] else None
        done = _cached(out / f"{_stem(digest, crop)}.npy") if digest else None
        if done is not None:
            results[i] = {**done, "hash": digest, "decoded": False}
        else:
            jobs[i] = (str(path), digest, str(out), spec, crop)
            memo[str(path)] = [st.st_size, st.st_mtime_ns, None]
    _run(jobs, results, workers, progress, spec)
    for i in jobs:
        memo[jobs[i][0]][2] = results[i]["hash"]
    memo = {p: v for p, v in memo.items() if v[2]}
    _atomic_write(cache_dir / "hashes.json", lambda p: p.write_text(json.dumps(memo)))
    return pd.DataFrame({
        "path": [str(p) for p in paths],
        "ok": [r["ok"] for r in results],
        "reason": [r["reason"] for r in results],
        "warning": ["; ".join(r["warnings"]) for r in results],
        "decoded": [r["decoded"] for r in results],
        "cache": [str(out / f"{_stem(r['hash'], c)}.npy") if r["ok"] else ""
                  for r, c in zip(results, crops, strict=True)],
        "frames": [r.get("frames", 0) for r in results],
        "hash": [r["hash"] or "" for r in results],
    })


def write_report(status: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Write the rows of `status` (video, ok, reason, warning) that were skipped or warned about."""
    skipped = status.loc[~status["ok"], ["video", "reason"]].assign(status="skipped")
    warned = status.loc[status["ok"] & (status["warning"] != ""), ["video", "warning"]]
    warned = warned.rename(columns={"warning": "reason"}).assign(status="warning")
    report = pd.concat([skipped, warned])[list(DECODE_REPORT_COLUMNS)].reset_index(drop=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, lambda p: report.to_csv(p, index=False))
    return report
