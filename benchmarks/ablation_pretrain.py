"""Which lever makes the 3D CNN learn SynAct? Table II's top-1 for each pretraining recipe, one run.

    python benchmarks/ablation_pretrain.py [--synact DIR] [--epochs 8] [--levers baseline ce adamw ...]

Each lever is the default profile's pretraining (r3d18 at width 0.25, 16x64x64 clips, split 1 of SynAct
default, seed 0, --epochs) with the changes its name lists; the motion-and-appearance logistic probe
(pdlib.baselines) on the same clips is the yardstick. Prints top-1 on the test side, training top-1 and
seconds per lever; benchmarks/RESULTS.md records a run.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from pdlib.baselines import action_probe_top1
from pdlib.data import action_clips, preprocess_actions
from pdlib.models import build_model
from pdlib.synth import make_synact
from pdlib.train import TrainConfig, fit, predict, seed_everything

DEFAULT = {"lr": 0.01, "weight_decay": 1e-5}  # params/default.yaml's pretraining: the focal loss, SGD
CE = {"loss_form": "softmax", "gamma": 0.0}  # cross-entropy (Cui's softmax form, gamma 0, balanced classes)
ADAMW = {"optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.05, "lr_schedule": "cosine", "warmup_epochs": 1}
# lever -> (TrainConfig changes, model options)
LEVERS: dict[str, tuple[dict, dict]] = {
    "baseline": (DEFAULT, {"widen": 0.25}),
    "ce": (DEFAULT | CE, {"widen": 0.25}),
    "ce+adamw": (CE | ADAMW, {"widen": 0.25}),
    "ce+adamw+no_max_pool": (CE | ADAMW, {"widen": 0.25, "no_max_pool": True}),
    "ce+adamw+widen0.5": (CE | ADAMW, {"widen": 0.5}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synact", type=Path, default=Path("outputs/default/data/synact"))
    ap.add_argument("--cache", type=Path, default=Path("outputs/default/cache"))
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--levers", nargs="+", default=list(LEVERS), choices=list(LEVERS))
    args = ap.parse_args()
    root = make_synact(args.synact, size="default", seed=0, progress=False)
    train, test, classes = action_clips(preprocess_actions(root, 16, 64, args.cache, "synact", (1,)), 1)
    print(f"SynAct split 1: {len(train)} train / {len(test)} test clips, {len(classes)} classes "
          f"(chance {100 / len(classes):.1f}%), 16x64x64, {args.epochs} epochs, {torch.get_num_threads()} threads")
    t0 = time.perf_counter()
    print(f"{'probe (motion + appearance, logistic)':40s} test {action_probe_top1(train, test):5.1f}%  "
          f"{time.perf_counter() - t0:6.0f} s", flush=True)
    for name in args.levers:
        changes, options = LEVERS[name]
        config = TrainConfig(**({"epochs": args.epochs, "batch_size": 15, "progress": False} | changes))
        seed_everything(config.seed, torch.device("cpu"))
        t0 = time.perf_counter()
        model = fit(build_model("r3d18", len(classes), **options), train, None, config).model
        seconds = time.perf_counter() - t0
        top1 = {split: 100 * float(np.mean(predict(model, d, config).argmax(1) == d.labels.numpy()))
                for split, d in (("test", test), ("train", train))}
        print(f"{name:40s} test {top1['test']:5.1f}%  train {top1['train']:5.1f}%  {seconds:6.0f} s", flush=True)


if __name__ == "__main__":
    main()
