"""The kinematics row on its own: pooled MCC and agreement with the rater per task, without decoding a video.

    python benchmarks/kinematics_agreement.py DATASET [DATASET ...] [--tasks finger] [--seed 0]

For each dataset folder (SynPD with its true keypoints, a keypoint cohort such as
`pdlib.synth.make_synpd_landmarks`'s, or your own), the same patient-level folds notebook 02 makes (5, or
leave-one-patient-out for a small cohort), the kinematics setting of Tables III and V
(`task_level.kinematics_cross_validate`: the ordinal model on `pdlib.kinematics`' features) and, for
comparison, a logistic regression on the same features (the setting before the ordinal model). Prints per
task and setting: videos with a prediction, pooled MCC [95% CI], Spearman's rho [95% CI] with the rater's
score, MAE and quadratic kappa; and the seconds the features and the cross-validation took.
"""

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from pdlib import task_level
from pdlib.data.manifest import load_manifest
from pdlib.folds import fold_scheme, patient_folds
from pdlib.kinematics import feature_names
from pdlib.layout import Layout
from pdlib.task_tables import task_numbers
from pdlib.tracking import video_features

STATS = {"n_boot": 2000, "n_resamples": 199, "seed": 0}


def cross_validate(root: Path, tasks: list[str], seed: int) -> tuple[pd.DataFrame, dict]:
    """Per task, the ordinal kinematics row and a logistic one on the same features, folds and videos."""
    videos, _ = load_manifest(root)
    folds = patient_folds(videos.assign(patient=videos["patient"].astype(str)), seed=seed)
    layout = Layout("bench", outputs=tempfile.mkdtemp())
    timing = {"features_s": 0.0, "cv_s": 0.0, "rows": 0}
    ordinal, logistic = {}, {}
    for task in tasks:
        rows = videos[videos["task"] == task].reset_index(drop=True)
        dataset = task_level.TaskRows(rows, rows["label"].to_numpy())
        start = time.perf_counter()
        table = video_features(rows, None)
        timing["features_s"] += time.perf_counter() - start
        timing["rows"] += len(rows)
        start = time.perf_counter()
        ordinal[task] = task_level.kinematics_cross_validate(dataset, folds, layout, task, seed)
        timing["cv_s"] += time.perf_counter() - start
        x = table.reindex(columns=feature_names(task)).to_numpy(float)
        fit_fold = task_level._logistic_fold(x, dataset.labels, 1.0, seed)  # noqa: SLF001 - another fold model
        logistic[task] = task_level.cross_validate_setting(dataset, folds, layout, "logistic", task, fit_fold,
                                                           notes=task_level.feature_notes(table, x))
    results = {"kinematics": task_level.SettingResult("kinematics", ordinal),
               "probe": task_level.SettingResult("probe", logistic)}  # the probe's slot: a logistic label
    numbers = task_numbers(results, **STATS)
    numbers["setting"] = numbers["setting"].replace({"Probe (motion energy, logistic)": "Kinematics, logistic"})
    timing["scheme"] = fold_scheme(folds, 5)
    return numbers, timing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datasets", nargs="+", type=Path)
    ap.add_argument("--tasks", nargs="+", default=None, help="default: every task of the dataset")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for root in args.datasets:
        tasks = args.tasks or sorted(load_manifest(root)[0]["task"].unique())
        numbers, timing = cross_validate(root.resolve(), tasks, args.seed)
        print(f"\n{root} ({timing['scheme']}): features of {timing['rows']} rows in {timing['features_s']:.1f} s, "
              f"ordinal cross-validation in {timing['cv_s']:.1f} s")
        shown = numbers.dropna(subset=["task"])
        for setting, part in shown.groupby("setting", sort=False):
            print(f"  {setting}")
            for r in part.itertuples():
                print(f"    {r.task:10s} n {int(r.n):4d}  MCC {r.mcc:5.2f} [{r.ci_lo:5.2f}, {r.ci_hi:5.2f}]  "
                      f"rho {r.spearman:5.2f} [{r.spearman_lo:5.2f}, {r.spearman_hi:5.2f}]  MAE {r.mae:5.2f}  "
                      f"kappa {r.qwk:5.2f}")
            print(f"    {'average':10s}         MCC {part['mcc'].mean():5.2f}                 "
                  f"rho {part['spearman'].mean():5.2f}")


if __name__ == "__main__":
    main()
