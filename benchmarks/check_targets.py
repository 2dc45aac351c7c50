"""Does a reproduced profile show the study's findings? Issue 14's targets 1-4, checked on the tables that
`pdlib reproduce --profile default` wrote (too slow for `make test`; run it after a reproduce):

    python benchmarks/check_targets.py [--profile default]

Prints each target with the measured figures and PASS/FAIL; exits 1 when one fails. benchmarks/RESULTS.md
records a run.
"""

import argparse
import sys

import pandas as pd

from pdlib.layout import Layout
from pdlib.task_level import PROBE_LABEL, SETTINGS


def _read(layout: Layout, name: str) -> pd.DataFrame:
    path = layout.table(name).with_suffix(".csv")
    if not path.is_file():
        sys.exit(f"{path} is missing: run `pdlib reproduce --profile {layout.profile}` first")
    return pd.read_csv(path)


def targets(layout: Layout) -> list[tuple[str, bool, str]]:
    """(target, met, measured figures) for issue 14's targets 1-4."""
    out = []
    ii = _read(layout, "table_ii_pretraining").query("dataset == 'SynAct'").set_index("method")["top1_mean"]
    probe, deep = ii[PROBE_LABEL], ii.drop(PROBE_LABEL)
    out.append(("1. Table II: SynAct top-1 >= 60% for I3D and TSA, above the probe",
                bool((deep >= 60).all() and (deep > probe).all()),
                ", ".join(f"{m} {v:.1f}%" for m, v in deep.items()) + f"; probe {probe:.1f}%"))

    iii = _read(layout, "table_iii_transfer").dropna(subset=["task"]).pivot(index="task", columns="setting",
                                                                            values="mcc")
    synact, scratch = iii[SETTINGS["i3d_synact"][0]], iii[SETTINGS["i3d_scratch"][0]]
    out.append(("2. Table III: SynAct-pretrained beats scratch by >= 0.10 MCC on finger and hand",
                bool((synact - scratch).reindex(["finger", "hand"]).ge(0.10).all()),
                ", ".join(f"{t} {synact[t]:+.2f} vs {scratch[t]:+.2f} (gain {synact[t] - scratch[t]:+.2f})"
                          for t in iii.index)))

    v = _read(layout, "table_v_task_level").dropna(subset=["task"])
    deep_v = v[v["setting"] != SETTINGS["probe"][0]]
    averages = deep_v.groupby("setting")["mcc"].mean()
    best = averages.idxmax()
    rows = deep_v[deep_v["setting"] == best]
    probe_avg = v.loc[v["setting"] == SETTINGS["probe"][0], "mcc"].mean()
    out.append(("3. Table V: best setting's average MCC >= 0.40 and every task's 95% CI above 0",
                bool(averages[best] >= 0.40 and (rows["ci_lo"] > 0).all()),
                f"{best}: average {averages[best]:.2f} ({(rows['mcc'] / rows['oracle_mcc']).mean():.2f} of the "
                "oracle), CI lower bounds "
                + ", ".join(f"{t} {lo:+.2f}" for t, lo in zip(rows["task"], rows["ci_lo"], strict=True))
                + f"; probe average {probe_avg:.2f}"))

    vii, viii = _read(layout, "table_vii_single_task"), _read(layout, "table_viii_assembling")
    assembled = viii[viii["method"] != "single_task"]
    top = assembled.loc[assembled["mcc_mean"].idxmax()]
    single = vii.loc[vii["mcc_mean"].idxmax()]
    out.append(("4. Tables VII-VIII: the best assembling method beats the best single task (examination MCC)",
                bool(top["mcc_mean"] > single["mcc_mean"]),
                f"{top['method']} ({top['input']}) {top['mcc_mean']:.2f} ± {top['mcc_std']:.2f} vs "
                f"{single['task']} ({single['input']}) {single['mcc_mean']:.2f} ± {single['mcc_std']:.2f}"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="default")
    args = ap.parse_args()
    results = targets(Layout(args.profile))
    for name, met, figures in results:
        print(f"{'PASS' if met else 'FAIL'}  {name}\n      {figures}")
    sys.exit(0 if all(met for _, met, _ in results) else 1)


if __name__ == "__main__":
    main()
