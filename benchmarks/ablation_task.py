"""Which task-level lever moves Table V? TSA-SynAct fine-tuned on the seven SynPD tasks with one change to
the default profile's recipe, next to the motion-energy probe on the same clips and folds.

    python benchmarks/ablation_task.py --name x32 --frames 32
    python benchmarks/ablation_task.py --name x48c16 --frames 48 --time-crop 16
    python benchmarks/ablation_task.py --name xp16 --pretrain-epochs 16
    python benchmarks/ablation_task.py --name xw4x8 --frames 32 --window windows4
    python benchmarks/ablation_task.py --name kp25 --crop keypoints --crop-margin 0.25 --seed 0
    python benchmarks/ablation_task.py --name base0 --settings tsa_synact i3d_synact

The recipe is params/default.yaml's, read from it (r3d18 at width 0.25 with frame differences, 16 consecutive
middle frames at 64x64, 6 epochs, lr 0.01, wd 0.01, seed 0); --frames, --window, --views, --crop,
--crop-margin, --time-crop, --epochs, --lr and --seed change it (--crop keypoints: each clip cut to a square
around the landmarks its task needs, `pdlib.boxes`; SynPD's true joints lie beside its videos). --settings
names the deep rows (default TSA-SynAct; i3d_synact adds I3D, pretrained on SynAct split 1 by notebook 01's
recipe the first time a run needs it); the probe and kinematics rows always run.
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
from pdlib.params import load_params
from pdlib.pretraining import ActionData, Pretraining, arch_name
from pdlib.task_level import TaskExperiment
from pdlib.train import TrainConfig

DEFAULT = load_params("default")
OPTIONS = {"widen": DEFAULT["widen"], "frame_diff": DEFAULT["frame_diff"]}


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
    ap.add_argument("--frames", type=int, default=DEFAULT["frames"])
    ap.add_argument("--window", default=DEFAULT["clip_window"],
                    help="clip_window: 'middle', '' (spread), a start frame or windows<K> (default: %(default)s)")
    ap.add_argument("--views", action="store_true", help="with windows<K>: each window a view (clip_views)")
    ap.add_argument("--crop", choices=["manifest", "keypoints", "none"], default=DEFAULT["clip_crop"],
                    help="clip_crop: manifest (videos.csv's boxes), keypoints or none (default: %(default)s)")
    ap.add_argument("--crop-margin", type=float, default=DEFAULT["clip_crop_margin"],
                    help="clip_crop_margin: with --crop keypoints, the margin on each side as a fraction of the "
                         "landmarks' box side (default: %(default)s)")
    ap.add_argument("--time-crop", type=int, default=DEFAULT["time_crop"])
    ap.add_argument("--epochs", type=int, default=DEFAULT["epochs"])
    ap.add_argument("--lr", type=float, default=DEFAULT["lr"])
    ap.add_argument("--seed", type=int, default=DEFAULT["seed"], help="the task-level training seed (the folds stay)")
    ap.add_argument("--pretrain-epochs", type=int, default=0, help="0: the default profile's pretrained models")
    ap.add_argument("--tasks", nargs="+", default=DEFAULT["tasks"])
    ap.add_argument("--settings", nargs="+", default=["tsa_synact"], choices=["tsa_synact", "i3d_synact"],
                    help="the deep rows trained (default: %(default)s); the probe and kinematics rows always run")
    a = ap.parse_args()
    layout = Layout(a.name)
    default = Layout("default")
    link_default(layout.base, default.base, pretrained=a.pretrain_epochs == 0)
    t0 = time.perf_counter()
    if a.pretrain_epochs:
        config = TrainConfig(epochs=a.pretrain_epochs, batch_size=DEFAULT["pretrain_batch_size"],
                             lr=DEFAULT["pretrain_lr"], weight_decay=DEFAULT["pretrain_weight_decay"],
                             seed=DEFAULT["seed"], progress=False)
        clip = ClipSpec(DEFAULT["pretrain_frames"], DEFAULT["pretrain_size"])
        synact = ActionData("SynAct", layout.synth_dir("synact"), "synact")
        tsa = arch_name(DEFAULT["pretrain_depth"], "tsa")
        top1 = Pretraining(layout, clip, config, OPTIONS).run(synact, [tsa], [1])
        print(top1[["arch", "split", "top1"]].to_string(index=False))
    t1 = time.perf_counter()
    config = TrainConfig(epochs=a.epochs, batch_size=DEFAULT["batch_size"], lr=a.lr,
                         weight_decay=DEFAULT["weight_decay"], seed=a.seed, time_crop=a.time_crop, progress=False)
    clip = ClipSpec(a.frames, DEFAULT["size"], a.window, a.crop, views=a.views, crop_margin=a.crop_margin)
    experiment = TaskExperiment(layout, clip, config, DEFAULT["task_model"], OPTIONS, folds_seed=DEFAULT["seed"])
    results = {setting: experiment.run_setting(setting, a.tasks) for setting in [*a.settings, "probe", "kinematics"]}
    if clip.crop == "keypoints":
        print(experiment.clips.attrs["whole"] or "every video cropped to its task's keypoints")
    t2 = time.perf_counter()
    numbers = tables.task_numbers(results, pd.read_csv(layout.ceiling_csv), n_boot=1000, n_resamples=99, seed=0)
    numbers = numbers.dropna(subset=["task"])
    mcc = numbers.pivot(index="task", columns="setting", values="mcc").reindex(a.tasks)
    low = numbers.pivot(index="task", columns="setting", values="ci_lo").reindex(a.tasks)
    crop = f"crop {clip.crop}" + (f" (margin {clip.crop_margin})" if clip.crop == "keypoints" else "")
    print(f"== {a.name}: frames {a.frames}, window {clip.window}{' (views)' if a.views else ''}, {crop}, "
          f"time_crop {a.time_crop}, epochs {a.epochs}, lr {a.lr}, "
          f"seed {a.seed}, pretrain epochs {a.pretrain_epochs or 'default'}: pretraining {t1 - t0:.0f} s, "
          f"task level {t2 - t1:.0f} s")
    print(mcc.round(3).to_string())
    print("average MCC:", mcc.mean().round(3).to_dict())
    print("tasks with the 95% CI above 0:", (low > 0).sum().to_dict())


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning")
    main()
