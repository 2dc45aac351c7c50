"""Which task-level lever moves Table V? TSA-SynAct fine-tuned on the seven SynPD tasks with one change to
the default profile's recipe, next to the motion-energy probe on the same clips and folds.

    python benchmarks/ablation_task.py --name x32 --frames 32
    python benchmarks/ablation_task.py --name x48c16 --frames 48 --time-crop 16
    python benchmarks/ablation_task.py --name xp16 --pretrain-epochs 16

The recipe is params/default.yaml's (r3d18 at width 0.25 with frame differences, 16 consecutive middle
frames at 64x64, 6 epochs, lr 0.01, wd 0.01, seed 0); --frames, --time-crop, --epochs, --lr and --seed change it.
The run lives in outputs/<name>, whose data/ and cache/ link to outputs/default (run
`pdlib reproduce --profile default --only 00_dataset 01_pretraining` first). The pretrained model is the
default profile's (linked), unless --pretrain-epochs N > 0 pretrains TSA on split 1 of SynAct for N epochs
into outputs/<name>. Re-running a name reuses what it finished. Prints per-task MCC, the averages and the
seconds; benchmarks/RESULTS.md records runs.
"""

import argparse
import os
import time
from pathlib import Path

import pandas as pd

from pdlib import tables
from pdlib.layout import ClipSpec, Layout
from pdlib.task_level import ActionData, Pretraining, TaskExperiment
from pdlib.tasks import TASKS
from pdlib.train import TrainConfig

OPTIONS = {"widen": 0.25, "frame_diff": True}  # params/default.yaml


def link_default(base: Path, default: Path, pretrained: bool) -> None:
    """outputs/<name>/{data,cache[,models/pretrained]} -> outputs/default's."""
    subs = ["data", "cache"] + (["models/pretrained"] if pretrained else [])
    for sub in subs:
        if not (default / sub).exists():
            raise SystemExit(f"{default / sub} is missing: run `pdlib reproduce --profile default` first")
        (base / sub).parent.mkdir(parents=True, exist_ok=True)
        if not (base / sub).exists():
            (base / sub).symlink_to((default / sub).resolve())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True, help="outputs/<name> holds the run")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--time-crop", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0, help="the task-level training seed (the folds stay)")
    ap.add_argument("--pretrain-epochs", type=int, default=0, help="0: the default profile's pretrained models")
    ap.add_argument("--tasks", nargs="+", default=list(TASKS))
    a = ap.parse_args()
    layout = Layout(a.name)
    default = Layout("default")
    link_default(layout.base, default.base, pretrained=a.pretrain_epochs == 0)
    t0 = time.perf_counter()
    if a.pretrain_epochs:
        config = TrainConfig(epochs=a.pretrain_epochs, batch_size=15, lr=0.01, weight_decay=1e-5, seed=0,
                             progress=False)
        top1 = Pretraining(layout, ClipSpec(16, 64), config, OPTIONS).run(
            ActionData("SynAct", layout.synth_dir("synact"), "synact"), ["r3d18_tsa"], [1])
        print(top1[["arch", "split", "top1"]].to_string(index=False))
    t1 = time.perf_counter()
    config = TrainConfig(epochs=a.epochs, batch_size=15, lr=a.lr, weight_decay=0.01, seed=a.seed,
                         time_crop=a.time_crop, progress=False)
    experiment = TaskExperiment(layout, ClipSpec(a.frames, 64, "middle"), config, "r3d18", OPTIONS)
    results = {setting: experiment.run_setting(setting, a.tasks) for setting in ("tsa_synact", "probe")}
    t2 = time.perf_counter()
    numbers = tables.task_numbers(results, pd.read_csv(layout.ceiling_csv), n_boot=1000, n_resamples=99, seed=0)
    numbers = numbers.dropna(subset=["task"])
    mcc = numbers.pivot(index="task", columns="setting", values="mcc").reindex(a.tasks)
    low = numbers.pivot(index="task", columns="setting", values="ci_lo").reindex(a.tasks)
    print(f"== {a.name}: frames {a.frames}, time_crop {a.time_crop}, epochs {a.epochs}, lr {a.lr}, "
          f"seed {a.seed}, pretrain epochs {a.pretrain_epochs or 'default'}: pretraining {t1 - t0:.0f} s, "
          f"task level {t2 - t1:.0f} s")
    print(mcc.round(3).to_string())
    print("average MCC:", mcc.mean().round(3).to_dict())
    print("tasks with the 95% CI above 0:", (low > 0).sum().to_dict())


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning")
    main()
