"""Every GPU figure of the suite in one call (issue 23): what a check on a GPU machine runs.

    python benchmarks/gpu_check.py                 # on a CUDA machine: the study's sizes (about 6-8 min on an H200)
    python benchmarks/gpu_check.py --cpu-small     # its CPU twin at toy sizes (what the tests run)

Needs torch, torchvision, numpy, pandas, scikit-learn, PyAV, tqdm, pyyaml, safetensors; not papermill (no notebook
runs). It prints, each measured in this one run:
  1. training-step ms of I3D (r3d34) and TSA (r3d34_tsa), batch 15, 32x224x224, in strict fp32 (TF32 off), TF32,
     bf16 + channels_last_3d and + torch.compile, all with cudnn.benchmark on (benchmarks/bench_models.py);
  2. the engine (`pdlib.train.fit`) in clips/s on GPU-resident clips and on host clips, against its own pure
     compute (epoch / compute) and against the plain bf16 loop of 1;
  3. SynPD's finger videos generated at the paper size and decoded to 32x224x224 on every core (clips/s);
  4. finger's 5-fold cross-validation at the paper recipe (I3D from scratch), 6 epochs timed and scaled to 30;
  5. the paper profile's wall time extrapolated from 1-4 (every term printed; an extrapolation, not a run).
A section that fails prints why and the next one runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_models import MODES, train_step_ms  # noqa: E402  (the benchmark beside this file)
from bench_train import compute_only  # noqa: E402

from pdlib.data import ClipDataset, ClipSpec, task_clips  # noqa: E402
from pdlib.folds import patient_folds  # noqa: E402
from pdlib.jobs import default_workers  # noqa: E402
from pdlib.layout import Layout  # noqa: E402
from pdlib.models import build_model  # noqa: E402
from pdlib.params import load_params  # noqa: E402
from pdlib.preprocessing import preprocess  # noqa: E402
from pdlib.synth import make_synpd  # noqa: E402
from pdlib.synth.synact import SIZES as SYNACT_SIZES  # noqa: E402
from pdlib.synth.synpd import synpd_cohort  # noqa: E402
from pdlib.task_level import cross_validate  # noqa: E402
from pdlib.train import TrainConfig, fit, resolve_device  # noqa: E402

# Sizes of each profile of this check: the paper profile's (params/paper.yaml) on CUDA, toy ones for the CPU
# twin; steps, warmup, engine_clips and epochs are the check's own (what it times).
PAPER = load_params("paper")
FULL = {"model": PAPER["task_model"], "widen": PAPER["widen"], "batch": PAPER["batch_size"], "frames": PAPER["frames"],
        "size": PAPER["size"], "steps": 10, "warmup": 3, "engine_clips": 150, "synpd": PAPER["synpd_size"], "epochs": 6,
        "paper_epochs": PAPER["epochs"], "pre_frames": PAPER["pretrain_frames"],
        "pre_batch": PAPER["pretrain_batch_size"], "pre_epochs": PAPER["pretrain_epochs"]}
SMALL = {"model": "r3d18", "widen": 0.25, "batch": 4, "frames": 4, "size": 16, "steps": 2, "warmup": 1,
         "engine_clips": 16, "synpd": "smoke", "epochs": 1, "paper_epochs": 1, "pre_frames": 8, "pre_batch": 24,
         "pre_epochs": 1}


def section(title: str):
    print(f"\n== {title}", flush=True)


def step_modes(p: dict, device: torch.device, modes: list[str], out: dict) -> dict:
    """1: ms per training step of each mode and model, added to `out` {(model, mode): ms}."""
    models = [p["model"], p["model"] + "_tsa"]
    print(f"{'model':<12} {'mode':<17} {'ms/step':>9} {'clips/s':>8} {'vs strict fp32':>15}")
    for mode in modes:
        for name in models:
            try:
                ms, _ = train_step_ms(name, mode, p["batch"], p["frames"], p["size"], p["steps"], p["warmup"],
                                      device, p["widen"])
            except Exception as err:  # torch.compile without a compiler: report, go on
                print(f"{name:<12} {mode:<17} failed: {type(err).__name__}: {str(err).splitlines()[0][:100]}")
                continue
            out[name, mode] = ms
            base = out.get((name, "strict fp32"))
            print(f"{name:<12} {mode:<17} {ms:9.1f} {1e3 * p['batch'] / ms:8.1f} "
                  f"{(base / ms if base else float('nan')):14.2f}x", flush=True)
    for mode in modes:
        if (models[0], mode) in out and (models[1], mode) in out:
            print(f"TSA / I3D per step [{mode}]: {out[models[1], mode] / out[models[0], mode]:.2f}x (target <= 1.15)")
    return out


def random_clips(n: int, frames: int, size: int) -> ClipDataset:
    g = torch.Generator().manual_seed(0)
    clips = torch.randint(0, 256, (n, frames, size, size, 3), dtype=torch.uint8, generator=g)
    meta = pd.DataFrame({"video": [f"v{i}" for i in range(n)], "patient": [f"p{i}" for i in range(n)]})
    return ClipDataset(clips, torch.arange(n) % 2, meta)


def engine(p: dict, device: torch.device, plain_ms: float | None, arch: str) -> dict:
    """2: fit's clips/s (last of 3 epochs) on GPU-resident and host clips; epoch / pure compute."""
    config = TrainConfig(epochs=3, batch_size=p["batch"], lr=1e-3, progress=False)
    data = random_clips(p["engine_clips"], p["frames"], p["size"])
    out = {}
    for where in ("resident", "host"):
        ds = data.to(device) if where == "resident" and device.type == "cuda" else data
        torch.manual_seed(0)
        result = fit(build_model(arch, 2, widen=p["widen"]), ds, None, config)
        epoch_s = float(result.history["time_s"].iloc[-1])
        x, y = ds[list(range(p["batch"]))]
        step_s = compute_only(result.model, x, y, config, steps=p["steps"])
        compute_s = step_s * np.ceil(len(ds) / p["batch"])
        out[where] = len(ds) / epoch_s
        line = (f"{arch} engine, {where} clips: {len(ds) / epoch_s:.1f} clips/s ({epoch_s:.2f} s/epoch); "
                f"pure compute {p['batch'] / step_s:.1f} clips/s; epoch / compute {epoch_s / compute_s:.2f} "
                "(target <= 1.1)")
        if plain_ms:
            plain = 1e3 * p["batch"] / plain_ms
            line += f"; engine / plain loop {len(ds) / epoch_s / plain:.2f} (target >= 0.95)"
        print(line, flush=True)
    return out


def decode(p: dict, work: Path) -> dict:
    """3: SynPD's finger videos generated on every core (the whole dataset's time scaled by its video count),
    then decoded to the task clips on every core."""
    n_videos = len(synpd_cohort(p["synpd"], 0)[0])
    t0 = time.perf_counter()
    root = make_synpd(work / "synpd", size=p["synpd"], seed=0, progress=False, tasks=["finger"])
    gen_s = time.perf_counter() - t0
    made = len(pd.read_csv(root / "videos.csv"))
    print(f"SynPD {p['synpd']}: {made} finger videos generated in {gen_s:.1f} s on {default_workers()} cores "
          f"({made / gen_s:.1f} videos/s; all {n_videos}: {gen_s * n_videos / made:.0f} s at that rate)")
    t0 = time.perf_counter()
    clips = preprocess(root, ClipSpec(p["frames"], p["size"]), work / "cache", progress=False)
    dec_s = time.perf_counter() - t0
    n = int(clips["ok"].sum())
    print(f"decoded {n} finger videos to {p['frames']}x{p['size']}x{p['size']} in {dec_s:.1f} s on "
          f"{default_workers()} cores: {n / dec_s:.1f} clips/s (process start included)", flush=True)
    return {"root": root, "clips": clips, "n_videos": n_videos, "gen_s": gen_s * n_videos / made,
            "decode_rate": n / dec_s}


def finger_cv(p: dict, data: dict, work: Path) -> float:
    """4: finger's 5-fold CV, I3D from scratch at the paper recipe (lr and weight decay of params/paper.yaml),
    p["epochs"] per fold; seconds scaled to the paper's p["paper_epochs"] (evaluation scaled with it: an upper
    bound)."""
    ds = task_clips(data["clips"], "finger")
    folds = patient_folds(ds.meta)
    config = TrainConfig(epochs=p["epochs"], batch_size=p["batch"], lr=PAPER["lr"], weight_decay=PAPER["weight_decay"],
                         progress=False)
    if torch.cuda.is_available():
        ds = ds.to(resolve_device(config.device))
    layout = Layout("gpu_check", outputs=work / "outputs")
    t0 = time.perf_counter()
    preds = cross_validate(ds, folds, lambda: build_model(p["model"], 2, widen=p["widen"]), config, layout,
                           "i3d_scratch", "finger")
    cv_s = time.perf_counter() - t0
    acc = float((preds.dropna(subset=["pred"])["pred"] == preds.dropna(subset=["pred"])["label"]).mean())
    scaled = cv_s * p["paper_epochs"] / p["epochs"]
    print(f"finger 5-fold CV, {len(ds)} clips, {p['epochs']} epochs per fold: {cv_s:.1f} s "
          f"({5 * p['epochs'] * len(ds) * 0.8 / cv_s:.1f} training clips/s over the whole CV); accuracy {acc:.2f}; "
          f"scaled to {p['paper_epochs']} epochs: {scaled:.1f} s", flush=True)
    data["finger_n"] = len(ds)
    return scaled


def extrapolate(p: dict, data: dict | None, cv_s: float | None, pre_clips_per_s: float | None) -> None:
    """5: the paper profile's wall time from the figures above."""
    if data is None or cv_s is None or pre_clips_per_s is None:
        print("not enough figures measured for the extrapolation")
        return
    per_clip_cv = cv_s / data["finger_n"]  # seconds of one task's 5-fold CV per video of that task
    n = data["n_videos"]
    s = SYNACT_SIZES["paper"]
    synact_train = s.n_classes * (s.n_groups - s.test_groups) * s.clips_per_group
    synact_all = s.n_classes * s.n_groups * s.clips_per_group
    terms = {
        "00 SynPD generation (finger's, scaled by the video count)": data["gen_s"],
        f"00/02 decode {n} SynPD videos at 32x224 ({data['decode_rate']:.1f} clips/s)": n / data["decode_rate"],
        f"01 decode {synact_all} SynAct videos at 64x224 (SynPD's rate halved; SynAct generation not measured)":
            2 * synact_all / data["decode_rate"],
        f"01 pretraining: {synact_train} clips x {p['pre_epochs']} epochs x 2 archs x 3 splits at "
        f"{pre_clips_per_s:.1f} clips/s": synact_train * p["pre_epochs"] * 6 / pre_clips_per_s,
        "02 task level: 16 CVs (I3D+TSA SynAct on 7 tasks, I3D scratch on 2) at finger's s/video":
            16 * per_clip_cv * n / 7,
    }
    for k, v in terms.items():
        print(f"  {v / 60:7.1f} min  {k}")
    print(f"paper profile, extrapolated: {sum(terms.values()) / 60:.1f} min (03-05 and the probe rows: minutes on "
          "CPU, not counted)")


def pretrain_rate(p: dict, device: torch.device) -> float | None:
    """Pretraining's step at its size (bf16 + channels-last, cudnn.benchmark): clips/s."""
    try:
        mode = "bf16+cl" if device.type == "cuda" else "strict fp32"
        ms, _ = train_step_ms(p["model"], mode, p["pre_batch"], p["pre_frames"], p["size"], p["steps"],
                              p["warmup"], device, p["widen"], num_classes=24)
    except Exception as err:
        print(f"pretraining step failed: {type(err).__name__}: {err}")
        return None
    rate = 1e3 * p["pre_batch"] / ms
    print(f"pretraining step, {p['model']} batch {p['pre_batch']}, {p['pre_frames']}x{p['size']}x{p['size']}, "
          f"{mode}: {ms:.1f} ms ({rate:.1f} clips/s)", flush=True)
    return rate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu-small", action="store_true", help="toy sizes on the CPU (the tests' twin)")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile mode")
    ap.add_argument("--skip", nargs="*", default=[], choices=["steps", "engine", "data"])
    ap.add_argument("--budget-s", type=float, default=470, help="skip torch.compile when less than 2 min of this "
                    "is left (the whole check stays within 8 min)")
    args = ap.parse_args(argv)
    device = torch.device("cpu" if args.cpu_small or not torch.cuda.is_available() else "cuda")
    p = SMALL if device.type == "cpu" else FULL
    import av
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "CPU"
    print(f"gpu_check {time.strftime('%Y-%m-%d %H:%M')}: {name}; torch {torch.__version__}, PyAV {av.__version__}, "
          f"Python {platform.python_version()}, {default_workers()} cores")
    t_all = time.perf_counter()
    steps = {}
    if "steps" not in args.skip:
        section("1. training step per mode (cudnn.benchmark on; + torch.compile at the end)")
        step_modes(p, device, [m for m in MODES if not MODES[m][2]], steps)
    pre = None
    if "engine" not in args.skip:
        section("2. the engine (pdlib.train.fit)")
        for arch in (p["model"], p["model"] + "_tsa"):
            try:
                engine(p, device, steps.get((arch, "bf16+cl" if device.type == "cuda" else "strict fp32")), arch)
            except Exception:
                traceback.print_exc()
        pre = pretrain_rate(p, device)
    data = cv_s = None
    if "data" not in args.skip:
        work = Path(tempfile.mkdtemp(prefix="gpu_check_"))
        try:
            section("3. SynPD generation (finger) and decoding on every core")
            data = decode(p, work)
            section("4. one task's 5-fold CV at the paper recipe")
            cv_s = finger_cv(p, data, work)
        except Exception:
            traceback.print_exc()
        finally:
            if not os.environ.get("GPU_CHECK_KEEP"):
                shutil.rmtree(work, ignore_errors=True)
    section("5. the paper profile, extrapolated")
    extrapolate(p, data, cv_s, pre)
    if "steps" not in args.skip and not args.no_compile and device.type == "cuda":
        section("1b. training step with torch.compile (compilation in the warm-up)")
        left = args.budget_s - (time.perf_counter() - t_all)
        if left < 120:
            print(f"skipped: {left:.0f} s of --budget-s left, compiling two models takes minutes")
        else:
            step_modes(p, device, [m for m in MODES if MODES[m][2]], steps)
    print(f"\ngpu_check done in {time.perf_counter() - t_all:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
