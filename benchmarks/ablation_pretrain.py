"""Which lever makes the 3D CNN learn? For each pretraining recipe: Table II's top-1 on SynAct, and the MCC
of finger and hand (Table III's tasks) fine-tuned from it on SynPD default, one run.

    python benchmarks/ablation_pretrain.py [--epochs 8] [--levers baseline frame_diff ...] [--no-tasks]

Each lever is the default profile's pretraining (r3d18 at width 0.25, 16x64x64 clips, split 1 of SynAct
default, seed 0, --epochs) with the changes its name lists; the motion-and-appearance logistic probe
(pdlib.baselines) on the same clips is the yardstick. Then, unless --no-tasks, finger and hand are
cross-validated (the default profile's task recipe and folds) from that pretrained model and, once per
stem, from scratch. Needs `pdlib reproduce --profile default --only 00_dataset` (SynPD, folds) for the
tasks. Models and predictions go to outputs/ablation (emptied first). benchmarks/RESULTS.md records a run.
"""

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import matthews_corrcoef

from pdlib.baselines import action_probe_top1
from pdlib.data import ClipSpec, action_clips, load_manifest, preprocess_actions, task_clips
from pdlib.folds import load_or_make_folds
from pdlib.layout import Layout
from pdlib.models import build_model, save_model
from pdlib.params import load_params
from pdlib.preprocessing import preprocess
from pdlib.synth import make_synact
from pdlib.task_level import cross_validate, fine_tuned
from pdlib.train import TrainConfig, fit, predict, seed_everything

P = load_params("default")  # the default profile's recipe, read from params/default.yaml
DEFAULT = {"lr": P["pretrain_lr"], "weight_decay": P["pretrain_weight_decay"]}  # its pretraining: focal loss, SGD
CE = {"loss_form": "softmax", "gamma": 0.0}  # cross-entropy (Cui's softmax form, gamma 0, balanced classes)
ADAMW = {"optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.05, "lr_schedule": "cosine", "warmup_epochs": 1}
SGD_COSINE = {"lr": 0.1, "weight_decay": 5e-4, "lr_schedule": "cosine", "warmup_epochs": 1}
RGB, DIFF = {"widen": P["widen"]}, {"widen": P["widen"], "frame_diff": True}  # DIFF: ResNet3D.frame_diff
# lever -> (TrainConfig changes, model options)
LEVERS: dict[str, tuple[dict, dict]] = {
    "baseline": (DEFAULT, RGB),
    "ce": (DEFAULT | CE, RGB),
    "ce+adamw": (CE | ADAMW, RGB),
    "ce+adamw+no_max_pool": (CE | ADAMW, RGB | {"no_max_pool": True}),
    "ce+adamw+widen0.5": (CE | ADAMW, {"widen": 0.5}),
    "frame_diff": (DEFAULT, DIFF),
    "frame_diff+ce": (DEFAULT | CE, DIFF),
    "frame_diff+ce+sgd0.1_cosine": (CE | SGD_COSINE, DIFF),
}
TASK_CONFIG = {k: P[k] for k in ("epochs", "batch_size", "lr", "weight_decay")}  # the default profile's tasks
# (with its clip_window: "middle", consecutive frames)


def task_mcc(synpd, folds, layout: Layout, name: str, options: dict, pretrained: Path | None) -> dict[str, float]:
    """Pooled out-of-fold MCC of finger and hand fine-tuned from `pretrained` (or from scratch)."""
    config = TrainConfig(**TASK_CONFIG, progress=False)
    out = {}
    for task in ("finger", "hand"):
        model_fn = fine_tuned(lambda: build_model(P["task_model"], 2, **options), pretrained)
        preds = cross_validate(task_clips(synpd, task), folds, model_fn, config, layout, name, task)
        ok = preds["pred"].notna()
        out[task] = matthews_corrcoef(preds.loc[ok, "label"], preds.loc[ok, "pred"].astype(int))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=P["pretrain_epochs"])
    ap.add_argument("--levers", nargs="+", default=list(LEVERS), choices=list(LEVERS))
    ap.add_argument("--no-tasks", action="store_true", help="Table II's top-1 only")
    args = ap.parse_args()
    default, layout = Layout("default"), Layout("ablation")
    shutil.rmtree(layout.base, ignore_errors=True)
    root = make_synact(default.synth_dir("synact"), size=P["synact_size"], seed=P["seed"], progress=False)
    actions = preprocess_actions(root, ClipSpec.from_params(P, "pretrain_"), default.cache_dir, "synact", (1,))
    train, test, classes = action_clips(actions, 1)
    if not args.no_tasks:
        synpd = preprocess(default.dataset_root, ClipSpec.from_params(P), default.cache_dir, progress=False)
        folds = load_or_make_folds(default, load_manifest(default.dataset_root)[0], P["n_splits"], P["seed"])
    print(f"SynAct split 1: {len(train)} train / {len(test)} test clips, {len(classes)} classes "
          f"(chance {100 / len(classes):.1f}%), {P['pretrain_frames']}x{P['pretrain_size']}x{P['pretrain_size']}, "
          f"{args.epochs} epochs, {torch.get_num_threads()} threads")
    t0 = time.perf_counter()
    print(f"{'probe (motion + appearance, logistic)':30s} test {action_probe_top1(train, test):5.1f}%  "
          f"{time.perf_counter() - t0:6.0f} s", flush=True)
    scratch_done = set()
    for name in args.levers:
        changes, options = LEVERS[name]
        config = TrainConfig(**({"epochs": args.epochs, "batch_size": P["pretrain_batch_size"], "progress": False}
                                | changes))
        seed_everything(config.seed, torch.device("cpu"))
        t0 = time.perf_counter()
        model = fit(build_model(P["pretrain_depth"], len(classes), **options), train, None, config).model
        seconds = time.perf_counter() - t0
        top1 = {split: 100 * float(np.mean(predict(model, d, config).argmax(1) == d.labels.numpy()))
                for split, d in (("test", test), ("train", train))}
        line = f"{name:30s} test {top1['test']:5.1f}%  train {top1['train']:5.1f}%  {seconds:6.0f} s"
        if not args.no_tasks:
            path = layout.pretrained("synact", name, 1) / "model"
            save_model(model, path)
            mcc = task_mcc(synpd, folds, layout, name, options, path)
            line += f"  finger {mcc['finger']:+.2f}  hand {mcc['hand']:+.2f}"
        print(line, flush=True)
        stem = "scratch (frame_diff)" if options.get("frame_diff") else "scratch (RGB)"
        if not args.no_tasks and stem not in scratch_done and set(options) <= {"widen", "frame_diff"}:
            scratch_done.add(stem)
            mcc = task_mcc(synpd, folds, layout, stem.replace(" ", "_"), options, None)
            print(f"{stem:30s} {'':38s}  finger {mcc['finger']:+.2f}  hand {mcc['hand']:+.2f}", flush=True)


if __name__ == "__main__":
    main()
