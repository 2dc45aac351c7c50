"""Whole frame against keypoint crops over training seeds: the runs of `benchmarks/ablation_task.py` read back.

    python benchmarks/crop_seeds.py --whole base0 base1 base2 --crop kp10s0 kp10s1 kp10s2

Per setting (TSA, I3D, the probe; those a run holds for all tasks), per task: the pooled MCC of each run, the
mean over an arm's seeds, the paired difference crop - whole (mean and sd over the seeds), and the MCC of the
seeds' probabilities averaged (an ensemble: out-of-fold still, at the cost of one training per seed). Then the
epoch noise of the deep runs: per fold, the best epoch's MCC on the held-out fold against the last epoch's (the
held-out fold is the test fold: the best epoch is not a result, its gap says how much one epoch moves the
number). And how much the crop zooms: per task, the median box side at --margin against the whole-frame
clip's side (the picture's centre square). The 95% CIs are each run's own (ablation_task prints them).
"""

import argparse
import os

import numpy as np
import pandas as pd

from pdlib.boxes import keypoint_boxes
from pdlib.data.manifest import load_manifest
from pdlib.layout import Layout
from pdlib.metrics import binary_metrics
from pdlib.tasks import TASKS
from pdlib.tracking import upright_size

KEY = ["video", "side"]


def predictions(run: str, setting: str) -> dict[str, pd.DataFrame] | None:
    """A run's out-of-fold predictions of one setting per task, or None when a task is missing."""
    layout = Layout(run)
    paths = {t: layout.predictions(setting, t) for t in TASKS}
    if not all(p.is_file() for p in paths.values()):
        return None
    return {t: pd.read_csv(p).set_index(KEY).sort_index() for t, p in paths.items()}


def arm_mcc(runs: dict[str, dict[str, pd.DataFrame]]) -> pd.DataFrame:
    """Per task (rows): each run's pooled MCC, and the MCC of the runs' averaged probabilities ("ensemble")."""
    table = pd.DataFrame({run: {t: binary_metrics(p[t]["label"], p[t]["pred"])["mcc"] for t in TASKS}
                          for run, p in runs.items()}).reindex(TASKS)
    ensemble = {}
    for t in TASKS:
        prob = pd.concat([p[t]["prob"] for p in runs.values()], axis=1).mean(axis=1)
        labels = next(iter(runs.values()))[t]["label"].reindex(prob.index)
        ensemble[t] = binary_metrics(labels, (prob > 0.5).astype(int))["mcc"]
    return table.assign(ensemble=pd.Series(ensemble))


def epoch_noise(run: str, setting: str) -> tuple[float, float]:
    """(mean over folds and tasks of the last epoch's MCC on the held-out fold, of the best epoch's)."""
    units = [Layout(run).task_unit(setting, t) for t in TASKS]
    hist = [pd.read_csv(f) for u in units for f in sorted(u.glob("fold*_history.csv"))]
    return float(np.mean([h["val_mcc"].iloc[-1] for h in hist])), float(np.mean([h["val_mcc"].max() for h in hist]))


def zoom(margin: float) -> pd.DataFrame:
    """Per task of the default profile's SynPD: the whole-frame clip's side, the keypoint boxes' median side at
    `margin`, and their ratio (how many times larger the moving part is in the cropped clip)."""
    videos, _ = load_manifest(Layout("default").synth_dir("synpd"))
    rows = {}
    for task in TASKS:
        g = videos[videos["task"] == task]
        boxes, _ = keypoint_boxes(g, None, margin)
        side = float(min(upright_size(g["path"].iloc[0])))  # SynPD: one picture size a task
        box = float(np.median([b[2] - b[0] for b in boxes if b is not None]))
        rows[task] = {"whole_px": side, "box_px": box, "zoom": side / box}
    return pd.DataFrame(rows).T


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--whole", nargs="+", required=True, help="ablation_task runs with the whole frame, one a seed")
    ap.add_argument("--crop", nargs="+", required=True, help="the keypoint-crop runs, the same seeds in order")
    ap.add_argument("--settings", nargs="+", default=["tsa_synact", "i3d_synact", "probe"])
    ap.add_argument("--margin", type=float, default=0.1, help="the crop runs' --crop-margin (default: %(default)s)")
    a = ap.parse_args()
    if len(a.whole) != len(a.crop):
        ap.error(f"--whole names {len(a.whole)} runs and --crop {len(a.crop)}: one of each per seed, in the same order")
    pd.set_option("display.width", 160)
    print(f"== the crop's zoom on SynPD at margin {a.margin}: whole-frame clip side / median box side (px)")
    print(zoom(a.margin).round(2).to_string())
    for setting in a.settings:
        arms = {}
        for arm, names in (("whole", a.whole), ("crop", a.crop)):
            runs = {n: p for n in names if (p := predictions(n, setting)) is not None}
            if runs:
                arms[arm] = arm_mcc(runs)
        if len(arms) < 2:
            print(f"== {setting}: not in both arms' runs ({', '.join(arms) or 'none'})")
            continue
        seeds = {arm: [c for c in t.columns if c != "ensemble"] for arm, t in arms.items()}
        pairs = [(w, c) for w, c in zip(a.whole, a.crop, strict=True) if w in seeds["whole"] and c in seeds["crop"]]
        diff = pd.DataFrame({f"{c}-{w}": arms["crop"][c] - arms["whole"][w] for w, c in pairs})
        table = pd.concat(arms, axis=1)
        for arm, names in seeds.items():
            table[(arm, "mean")] = arms[arm][names].mean(axis=1)
        table[("crop - whole", "mean")] = diff.mean(axis=1)
        table[("crop - whole", "sd")] = diff.std(axis=1) if len(pairs) > 1 else np.nan
        table.loc["average"] = table.mean()
        # the average row's sd: of the seeds' paired averages, not the mean of the tasks' sds
        table.loc["average", ("crop - whole", "sd")] = diff.mean().std() if len(pairs) > 1 else np.nan
        print(f"== {setting}: pooled MCC per task; paired: {', '.join(diff.columns) or 'none'}")
        print(table.round(3).to_string())
        print("average over tasks, per seed: crop - whole", diff.mean().round(3).tolist())
        if setting != "probe":
            for name in seeds["whole"] + seeds["crop"]:
                last, best = epoch_noise(name, setting)
                print(f"   {name}: held-out fold MCC at the last epoch {last:.3f}, at its best epoch {best:.3f}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning")
    main()
