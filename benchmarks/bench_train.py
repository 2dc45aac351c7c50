"""Throughput of pdlib.train on the smoke SynPD: one fold of one task, clips/s, and on GPU how much of an
epoch is spent waiting for data (epoch time / pure compute time).

    python benchmarks/bench_train.py [SYNPD_DIR] [--task finger] [--model r3d18] [--widen 0.25] ...

SYNPD_DIR is generated (--synpd-size, smoke by default) when it holds no dataset of that size. Sizes default
to params/smoke.yaml; `--synpd-size default --frames 16 --size 64 --epochs 3` is one fold at the default profile.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from pdlib.data import ClipSpec, task_clips
from pdlib.folds import patient_folds
from pdlib.losses import ClassBalancedFocalLoss
from pdlib.models import build_model
from pdlib.preprocessing import preprocess
from pdlib.synth import make_synpd
from pdlib.train import TrainConfig, configure_backends, fit, model_input, predict, resolve_device


def compute_only(model, batch, labels, config: TrainConfig, steps: int) -> float:
    """Seconds per training step on one batch already on the device: no loading, no host transfer."""
    device = resolve_device(config.device)
    x = model_input(batch.to(device), device, True, config)
    y = labels.to(device)
    criterion = ClassBalancedFocalLoss(np.bincount(labels.cpu().numpy(), minlength=2) + 1).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    amp = torch.bfloat16 if device.type == "cuda" else None
    configure_backends(device, config.deterministic)  # cuDNN autotuning on CUDA, as fit
    for i in range(steps + 2):  # two warm-up steps
        if i == 2:
            torch.cuda.synchronize() if device.type == "cuda" else None
            t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            loss = criterion(model(x).float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    from pdlib.params import load_params  # here, not at the top: gpu_check imports this file and needs no papermill

    smoke = load_params("smoke")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("synpd", nargs="?", default="outputs/smoke/data/synpd")
    ap.add_argument("--synpd-size", default=smoke["synpd_size"], help="SynPD size generated into SYNPD_DIR when absent")
    ap.add_argument("--task", default="finger")
    ap.add_argument("--model", default=smoke["task_model"])
    ap.add_argument("--widen", type=float, default=smoke["widen"])
    ap.add_argument("--frames", type=int, default=smoke["frames"])
    ap.add_argument("--size", type=int, default=smoke["size"])
    ap.add_argument("--epochs", type=int, default=smoke["epochs"])
    ap.add_argument("--batch-size", type=int, default=smoke["batch_size"])
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--gpu-resident", action="store_true", help="move the clips to the GPU first")
    args = ap.parse_args()

    root = Path(args.synpd)
    t0 = time.perf_counter()
    make_synpd(root, size=args.synpd_size, seed=0, progress=False)
    ds = task_clips(preprocess(root, ClipSpec(args.frames, args.size), root.parent / "cache"), args.task)
    folds = patient_folds(ds.meta)
    print(f"data: {len(ds)} clips of {args.task} ({tuple(ds.clips.shape[1:])}) ready in "
          f"{time.perf_counter() - t0:.1f} s")
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=smoke["lr"], progress=False)
    device = resolve_device(config.device)
    if args.gpu_resident and device.type == "cuda":
        ds = ds.to(device)
    test = (ds.meta["patient"].astype(str).map(folds.rename(index=str)) == args.fold).to_numpy()
    train, held_out = ds.subset(~test), ds.subset(test)

    torch.manual_seed(0)
    model = build_model(args.model, 2, widen=args.widen)
    t0 = time.perf_counter()
    result = fit(model, train, held_out, config)
    fit_s = time.perf_counter() - t0
    epoch_s = result.history["time_s"].to_numpy()
    t0 = time.perf_counter()
    predict(result.model, held_out, config)
    predict_s = time.perf_counter() - t0
    print(f"device: {device} ({torch.get_num_threads()} CPU threads); model {args.model} widen {args.widen}")
    print(f"fold {args.fold}: {len(train)} train / {len(held_out)} test clips, {args.epochs} epochs "
          f"in {fit_s:.1f} s (budget 30 s: {'ok' if fit_s < 30 else 'OVER'})")
    print(f"train: {len(train) / epoch_s[-1]:.1f} clips/s in the last epoch ({epoch_s[-1]:.2f} s; mean with "
          f"the first epoch's warm-up {len(train) / epoch_s.mean():.1f}); predict: {len(held_out) / predict_s:.1f} "
          "clips/s")
    x, y = train[np.arange(min(args.batch_size, len(train))).tolist()]
    step_s = compute_only(result.model, x, y, config, steps=3 if device.type == "cpu" else 20)
    compute_epoch = step_s * np.ceil(len(train) / args.batch_size)
    ratio = epoch_s[-1] / compute_epoch  # > 1: time outside forward/backward (loading, transfer, syncs)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**30
        print(f"pure compute {compute_epoch:.3f} s/epoch; loader starvation ratio (epoch / compute) "
              f"{ratio:.2f}; peak GPU memory {peak:.2f} GiB")
    else:
        print(f"pure compute {compute_epoch:.2f} s/epoch (epoch / compute {ratio:.2f}); "
              "loader starvation ratio on GPU: n/a on CPU")


if __name__ == "__main__":
    main()
