"""Does averaging the five fold models help on new patients? Each fold model alone against their ensemble.

    python benchmarks/ensemble_new_patients.py --run default [--setting tsa_synact] [--cohort DIR]

Within cross-validation a video is held out by one fold model only, so Table V cannot use an ensemble; on
patients no model saw, all five apply, and `pdlib score` averages their probabilities. This script measures
what that buys: for each task, the MCC of each fold model alone on the new cohort (mean ± sd over the five),
and the MCC of their averaged probabilities. The cohort is SynPD with seed + 1 (notebook 06's, generated under
outputs/<run>/data/synpd_new_patients when missing) or --cohort; the run's trained models (notebook 02, or
benchmarks/ablation_task.py's outputs/<name>) score it with their own clip spec. Prints one row per task and the
averages; benchmarks/RESULTS.md records runs.
"""

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import matthews_corrcoef

from pdlib.data import ClipDataset, cache_clips
from pdlib.data.manifest import load_manifest
from pdlib.layout import Layout
from pdlib.run import load_params
from pdlib.scoring import TaskModels
from pdlib.synth import make_synpd
from pdlib.train import TrainConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="default", help="outputs/<run> holds the trained models (default: %(default)s)")
    ap.add_argument("--setting", default="tsa_synact")
    ap.add_argument("--cohort", type=Path, help="a dataset folder with scores (default: SynPD default, seed + 1)")
    a = ap.parse_args()
    layout, params = Layout(a.run), load_params("default")
    cohort = a.cohort or make_synpd(Layout("default").synth_dir("synpd_new_patients"), size=params["synpd_size"],
                                    seed=params["seed"] + 1, progress=False)
    videos, _ = load_manifest(cohort)
    config, rows = TrainConfig(progress=False), []
    for task in params["tasks"]:
        models = TaskModels.load(layout, a.setting, task)
        todo = videos[videos["task"] == task].reset_index(drop=True)
        status = cache_clips(list(todo["path"]), models.spec, layout.cache_dir, progress=False)
        ok = status["ok"].to_numpy(bool)
        clips = ClipDataset.from_files(list(status.loc[ok, "cache"]), np.zeros(int(ok.sum()), int), todo[ok])
        y = todo.loc[ok, "label"].astype(int).to_numpy()
        probs = models.probabilities(clips, config)  # {fold: (N, 2)}
        alone = [matthews_corrcoef(y, p.argmax(1)) for p in probs.values()]
        mean = np.mean(list(probs.values()), axis=0)
        rows.append({"task": task, "videos": int(ok.sum()), "fold model MCC (mean)": np.mean(alone),
                     "fold model MCC (sd)": np.std(alone, ddof=1),
                     "ensemble MCC": matthews_corrcoef(y, mean.argmax(1))})
    table = pd.DataFrame(rows).set_index("task")
    print(f"== {a.run} / {a.setting}: {cohort} ({len(videos)} videos), clip {models.spec.tag}")
    print(table.round(3).to_string())
    print("average:", table.drop(columns="videos").mean().round(3).to_dict())


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning")
    main()
