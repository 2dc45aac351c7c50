"""Does averaging the five fold models help on new patients? Each fold model alone against their ensemble.

    python benchmarks/ensemble_new_patients.py --run default [--setting tsa_synact] [--cohort DIR | --seed-offset K]

Within cross-validation a video is held out by one fold model only, so Table V cannot use an ensemble; on
patients no model saw, all five apply, and `pdlib score` averages their probabilities. This script measures
what that buys: for each task, the MCC of each fold model alone on the new cohort (mean ± sd over the five),
and the MCC of their averaged probabilities; and how the conformal sets at 90% behave there: the empirical
coverage of `pdlib score`'s CV+ sets on the ensemble, of each fold model's own split-conformal set (mean over
the five), and the accuracy of the ensemble on all videos and on those it calls (does not abstain on). The
last lines give the noise floor: how often an exactly calibrated method lands within 5 points of 90% on all
seven tasks with these numbers of videos (calibration and test both this size, videos independent).
The cohort is SynPD with seed + 1 (notebook 06's, generated under
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
from pdlib.params import load_params
from pdlib.scoring import TaskModels, class_probabilities
from pdlib.synth import make_synpd
from pdlib.train import TrainConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="default", help="outputs/<run> holds the trained models (default: %(default)s)")
    ap.add_argument("--setting", default="tsa_synact")
    ap.add_argument("--cohort", type=Path, help="a dataset folder with scores (default: SynPD default, seed + 1)")
    ap.add_argument("--seed-offset", type=int, default=1, help="SynPD's seed + this (1: notebook 06's cohort)")
    a = ap.parse_args()
    layout, params = Layout(a.run), load_params("default")
    name = "synpd_new_patients" + ("" if a.seed_offset == 1 else f"_{a.seed_offset}")
    cohort = a.cohort or make_synpd(Layout("default").synth_dir(name), size=params["synpd_size"],
                                    seed=params["seed"] + a.seed_offset, progress=False)
    videos, _ = load_manifest(cohort)
    config, rows = TrainConfig(progress=False), []
    for task in params["tasks"]:
        models = TaskModels.load(layout, a.setting, task)
        todo = videos[videos["task"] == task].reset_index(drop=True)
        status = cache_clips(list(todo["path"]), models.spec, layout.cache_dir, progress=False)
        ok = status["ok"].to_numpy(bool)
        clips = ClipDataset.from_files(list(status.loc[ok, "cache"]), np.zeros(int(ok.sum()), int), todo[ok])
        y = todo.loc[ok, "label"].astype(int).to_numpy()
        probs = models.fold_probabilities(clips, config)  # {fold: (N, 2)}
        alone = [matthews_corrcoef(y, p.argmax(1)) for p in probs.values()]
        mean = np.mean(list(probs.values()), axis=0)
        sets, right = models.conformal(COVERAGE).sets(probs), mean.argmax(1) == y
        called = sets.sum(1) == 1
        rows.append({"task": task, "videos": int(ok.sum()), "fold model MCC (mean)": np.mean(alone),
                     "fold model MCC (sd)": np.std(alone, ddof=1),
                     "ensemble MCC": matthews_corrcoef(y, mean.argmax(1)),
                     "coverage CV+ ensemble": sets[np.arange(len(y)), y].mean(),
                     "coverage one fold model": np.mean(single_model_coverage(models, probs, y)),
                     "accuracy all": right.mean(), "accuracy called": right[called].mean(),
                     "called": int(called.sum())})
    table = pd.DataFrame(rows).set_index("task")
    print(f"== {a.run} / {a.setting}: {cohort} ({len(videos)} videos), clip {models.spec.tag}")
    print(table.round(3).to_string())
    print("average:", table.drop(columns=["videos", "called"]).mean().round(3).to_dict())
    within = {t: within_five_points(n) for t, n in table["videos"].items()}
    print(f"noise floor: an exact {COVERAGE:.0%} method is within 5 points with probability",
          {t: round(p, 2) for t, p in within.items()}, f"; on all seven: {np.prod(list(within.values())):.2f}")


COVERAGE = 0.9


def single_model_coverage(models: TaskModels, probs: dict[int, np.ndarray], y: np.ndarray) -> list[float]:
    """Per fold model k: split conformal at COVERAGE with the out-of-fold scores of the videos k held out
    (the predictor they come from), applied to k's own probabilities on the new cohort."""
    cal = models.calibration
    p_cal = class_probabilities(cal)
    s = 1.0 - p_cal[np.arange(len(cal)), cal["label"].to_numpy(int)]
    out = []
    for k, p in probs.items():
        held = np.sort(s[cal["fold"].to_numpy(int) == k])
        q = held[min(int(np.ceil((len(held) + 1) * COVERAGE)), len(held)) - 1]
        out.append(float((1.0 - p[np.arange(len(y)), y] <= q).mean()))
    return out


def within_five_points(n: int, reps: int = 20000, seed: int = 0) -> float:
    """P(|empirical coverage - COVERAGE| <= 0.05) for exact split conformal with n calibration and n test
    videos: the coverage given the calibration is Beta(k, n + 1 - k), k = ceil((n + 1) COVERAGE), the test
    count binomial on it."""
    rng = np.random.default_rng(seed)
    k = int(np.ceil((n + 1) * COVERAGE))
    hits = rng.binomial(n, rng.beta(k, n + 1 - k, reps)) / n
    return float(np.mean(np.abs(hits - COVERAGE) <= 0.05 + 1e-9))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning")
    main()
