"""Training-step throughput of I3D (r3d34) and TSA (r3d34_tsa) in each numeric mode, every one with cuDNN autotuning
(`cudnn.benchmark`, as the engine sets it): strict fp32 (TF32 off for matmuls and convolutions), TF32 (cuDNN's own
default for convolutions), bf16 autocast + channels_last_3d, and that + torch.compile; each mode's speed-up is over
strict fp32. On CUDA at the study's size (batch 15, 32x224x224); on CPU at a reduced size (--cpu-small), where
TF32 does not exist and "tf32" equals strict fp32.

    python benchmarks/bench_models.py              # CUDA when available, else the CPU-small profile
    python benchmarks/bench_models.py --compile    # also try torch.compile on CPU (slow to compile)

Targets: TSA <= 1.15x I3D per step; results in benchmarks/RESULTS.md (issue 23).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from contextlib import nullcontext

import torch

from pdlib.losses import ClassBalancedFocalLoss
from pdlib.models import build_model

MODES = {  # name -> (TF32 allowed, bf16 autocast + channels_last_3d, torch.compile)
    "strict fp32": (False, False, False),
    "tf32": (True, False, False),
    "bf16+cl": (True, True, False),
    "bf16+cl+compile": (True, True, True),
}
BASE = "strict fp32"


def peak_memory_mb(device: torch.device) -> float:
    """Peak GPU memory of the last measurement, or the process's peak RSS so far on CPU (Linux: KiB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


def train_step_ms(name: str, mode: str, batch: int, frames: int, size: int, steps: int, warmup: int,
                  device: torch.device, widen: float = 1.0, num_classes: int = 2) -> tuple[float, float]:
    """Mean ms of an SGD training step (forward, class-balanced focal loss, backward, update), peak memory."""
    tf32, fast, compile_ = MODES[mode]
    torch.backends.cudnn.benchmark = True  # as pdlib.train.configure_backends on CUDA
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    torch.manual_seed(0)
    model = build_model(name, num_classes=num_classes, widen=widen).to(device)
    clip = torch.randn(batch, 3, frames, size, size, device=device)  # (N, C, T, H, W)
    target = torch.arange(batch, device=device) % num_classes
    if fast:
        model = model.to(memory_format=torch.channels_last_3d)
        clip = clip.contiguous(memory_format=torch.channels_last_3d)
    step_model = torch.compile(model) if compile_ else model
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=0.01)
    criterion = ClassBalancedFocalLoss(torch.bincount(target.cpu(), minlength=num_classes).tolist()).to(device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if fast else nullcontext()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = criterion(step_model(clip), target)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):  # compilation, cuDNN autotuning, allocator warm-up
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / steps * 1e3, peak_memory_mb(device)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--cpu-small", action=argparse.BooleanOptionalAction, default=None,
                        help="batch 2, 16x112x112 (default on CPU)")
    parser.add_argument("--batch", type=int)
    parser.add_argument("--frames", type=int)
    parser.add_argument("--size", type=int)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--warmup", type=int)
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help="also time torch.compile (default: on CUDA only)")
    parser.add_argument("--models", nargs="+", default=["r3d34", "r3d34_tsa"])
    parser.add_argument("--widen", type=float, default=1.0, help="channel width factor (CPU profiles use 0.25)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    small = device.type == "cpu" if args.cpu_small is None else args.cpu_small
    batch, frames, size = (2, 16, 112) if small else (15, 32, 224)
    batch, frames, size = args.batch or batch, args.frames or frames, args.size or size
    steps = args.steps or (3 if small else 20)
    warmup = args.warmup or (1 if small else 5)
    modes = [m for m in MODES if args.compile or (args.compile is None and device.type == "cuda")
             or not MODES[m][2]]
    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}), "
          f"torch {torch.__version__}, batch {batch}, clip {frames}x{size}x{size}, "
          f"{steps} steps after {warmup} warm-up; cudnn.benchmark on in every mode")
    mem = "peak GPU MiB" if device.type == "cuda" else "process peak RSS MiB"
    print(f"{'model':<12} {'mode':<17} {'ms/step':>9} {mem:>22}")
    results: dict[tuple[str, str], float] = {}
    for mode in modes:
        for name in args.models:
            try:
                ms, peak = train_step_ms(name, mode, batch, frames, size, steps, warmup, device, args.widen)
            except Exception as err:  # e.g. torch.compile without a working compiler: report and go on
                print(f"{name:<12} {mode:<17} failed: {type(err).__name__}: {str(err).splitlines()[0][:120]}")
                continue
            results[name, mode] = ms
            print(f"{name:<12} {mode:<17} {ms:9.1f} {peak:22.0f}")
            sys.stdout.flush()
    print("ratios within this run:")
    base, tsa = args.models[0], args.models[-1]
    for mode in modes:
        if (base, mode) in results and (tsa, mode) in results and base != tsa:
            ratio = results[tsa, mode] / results[base, mode]
            print(f"  {tsa}/{base} [{mode}]: {ratio:.2f}x (target <= 1.15)")
    for name in args.models:
        for mode in modes[1:]:
            if (name, mode) in results and (name, BASE) in results:
                speedup = results[name, BASE] / results[name, mode]
                print(f"  {name} speed-up of {mode} over {BASE}: {speedup:.2f}x")


if __name__ == "__main__":
    main()
