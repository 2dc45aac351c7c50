"""Do the kinematic features help the examination level? Table VIII's vector heads with and without them.

    python benchmarks/assembling_kinematics.py --run xdefault [--slight-vs-severe]

The run's `tsa_synact` fold models (notebook 02, or benchmarks/ablation_task.py's outputs/<name>) give each
examination's avgpool features (extracted here when missing, as notebook 02 does); `ExamExperiment(kinematics=
True)` appends each task's kinematic features (`pdlib.kinematics`, from each video's keypoints) to them. Both
vector heads (averaging, weighting; the attention heads read layer4 and are left as they are) are trained with
the default profile's head settings, repeats and seed on the same folds, with and without; also the best
single task's avgpool alone with and without. Prints MCC mean ± sd over the repeats; RESULTS.md records runs.
"""

import argparse
import os

import pandas as pd

from pdlib import exam_level
from pdlib.layout import ClipSpec, Layout
from pdlib.params import load_params
from pdlib.task_level import TaskExperiment
from pdlib.train import TrainConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="xdefault")
    ap.add_argument("--slight-vs-severe", action="store_true", help="Table IX's two classes instead of three")
    a = ap.parse_args()
    p, layout = load_params("default"), Layout(a.run)
    if not layout.feature_folds("tsa_synact", p["tasks"][0]):
        task_level = TaskExperiment(layout, ClipSpec(p["frames"], p["size"], p["clip_window"]),
                                    TrainConfig(progress=False), p["task_model"])
        task_level.extract_features("tsa_synact", p["tasks"])
    head = exam_level.HeadConfig(epochs=p["head_epochs"], lr=p["head_lr"], weight_decay=p["head_weight_decay"],
                                 hidden_layers=p["head_hidden_layers"], hidden_units=p["head_hidden_units"])
    rows = []
    for kinematics in (False, True):
        experiment = exam_level.ExamExperiment(layout, "tsa_synact", p["exam_scheme"], a.slight_vs_severe, head,
                                               p["repeats"], p["seed"], kinematics=kinematics)
        single = exam_level.single_task_results(experiment.data, head, p["repeats"], p["seed"], inputs=("avgpool",))
        best = single.sort_values("mcc_mean", ascending=False).iloc[0]
        rows.append({"kinematics": kinematics, "method": f"single task ({best['task']}, avgpool)",
                     "mcc_mean": best["mcc_mean"], "mcc_std": best["mcc_std"]})
        for method in ("vector_averaging", "vector_weighting"):
            res = exam_level.cross_validate_heads(experiment.data, method, "avgpool", None, head, p["repeats"],
                                                  p["seed"]).summary()
            rows.append({"kinematics": kinematics, "method": method, "mcc_mean": res["mcc_mean"],
                         "mcc_std": res["mcc_std"]})
    table = pd.DataFrame(rows).pivot(index="method", columns="kinematics", values=["mcc_mean", "mcc_std"])
    print(f"== {a.run}: {'slight vs severe' if a.slight_vs_severe else 'three classes'}, {p['repeats']} repeats")
    print(table.round(3).to_string())


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning")
    main()
