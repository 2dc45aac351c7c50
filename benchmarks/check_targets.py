"""Does a reproduced profile show the study's findings? Issue 14's targets 1-4, checked on the tables that
`pdlib reproduce --profile default` wrote (too slow for `make test`; run it after a reproduce):

    python benchmarks/check_targets.py [--profile default]              # each target, PASS/FAIL; exit 1 if one fails
    python benchmarks/check_targets.py [--profile default] --markdown   # the README's headline table

The headline table is what the README's "What the default profile shows" and benchmarks/RESULTS.md print (a
test checks that the two agree). Task-level MCCs are the pooled out-of-fold MCC Tables III and V print (the
estimator of their CIs); the study's own figures are fold means.
"""

import argparse
import sys

import pandas as pd

from pdlib.layout import Layout
from pdlib.tables import METHOD_LABELS
from pdlib.tasks import PROBE_LABEL, SETTINGS

# The study's figures for the headline table (Yin et al. 2022, Tables II, III, V, VIII, IX).
STUDY = {
    "ii": "UCF-101: 42.4% / 51.5%",
    "iii": "UCF-101: +0.02 / +0.08",
    "v": "0.29 / 0.40 (UCF-101); I3D Kinetics 0.38",
    "v_ci": "7 of 7 (TSA)",
    "ceiling": "–",
    "viii": "pixel-wise attention 0.39 vs hand 0.31",
    "ix": "pixel-wise attention 0.68 vs single task 0.60",
    "score": "–",
}


def _read(layout: Layout, name: str) -> pd.DataFrame:
    path = layout.table(name).with_suffix(".csv")
    if not path.is_file():
        sys.exit(f"{path} is missing: run `pdlib reproduce --profile {layout.profile}` first")
    return pd.read_csv(path)


def _label(setting: str) -> str:
    return SETTINGS[setting][0]


def measured(layout: Layout) -> dict:
    """Every figure the targets and the headline table use, read from the profile's table CSVs."""
    ii = _read(layout, "table_ii_pretraining").query("dataset == 'SynAct'").set_index("method")["top1_pct_mean"]
    iii = _read(layout, "table_iii_transfer").dropna(subset=["task"]).pivot(index="task", columns="setting",
                                                                            values="mcc")
    v = _read(layout, "table_v_task_level").dropna(subset=["task"])
    averages = v.groupby("setting")["mcc"].mean()
    deep = averages.drop(_label("probe"))
    best = deep.idxmax()
    rows = v[v["setting"] == best]

    def exam(name: str) -> tuple[pd.Series, pd.Series]:
        t = _read(layout, name)
        assembled = t[t["method"] != "single_task"]
        return assembled.loc[assembled["mcc_mean"].idxmax()], t[t["method"] == "single_task"].iloc[0]

    vii = _read(layout, "table_vii_single_task")
    score = layout.table("score_new_patients").with_suffix(".csv")
    return {
        "ii": ii, "iii": iii, "averages": averages, "best": best, "best_rows": rows,
        "vii_best": vii.loc[vii["mcc_mean"].idxmax()], "viii": exam("table_viii_assembling"),
        "ix": exam("table_ix_slight_vs_severe"),
        "score": pd.read_csv(score) if score.is_file() else None,
    }


def targets(m: dict) -> list[tuple[str, bool, str]]:
    """(target, met, measured figures) for issue 14's targets 1-4."""
    ii = m["ii"]
    probe, deep = ii[PROBE_LABEL], ii.drop(PROBE_LABEL)
    synact, scratch = m["iii"][_label("i3d_synact")], m["iii"][_label("i3d_scratch")]
    rows, best, averages = m["best_rows"], m["best"], m["averages"]
    top, single = m["viii"][0], m["vii_best"]
    return [
        ("1. Table II: SynAct top-1 >= 60% for I3D and TSA, above the probe",
         bool((deep >= 60).all() and (deep > probe).all()),
         ", ".join(f"{k} {x:.1f}%" for k, x in deep.items()) + f"; probe {probe:.1f}%"),
        ("2. Table III: SynAct-pretrained beats scratch by >= 0.10 MCC on finger and hand",
         bool((synact - scratch).reindex(["finger", "hand"]).ge(0.10).all()),
         ", ".join(f"{t} {synact[t]:+.2f} vs {scratch[t]:+.2f} (gain {synact[t] - scratch[t]:+.2f})"
                   for t in m["iii"].index)),
        ("3. Table V: best setting's average MCC >= 0.40 and every task's 95% CI above 0",
         bool(averages[best] >= 0.40 and (rows["ci_lo"] > 0).all()),
         f"{best}: average {averages[best]:.2f} ({(rows['mcc'] / rows['oracle_mcc']).mean():.2f} of the oracle), "
         "CI lower bounds " + ", ".join(f"{t} {lo:+.2f}" for t, lo in zip(rows["task"], rows["ci_lo"], strict=True))
         + f"; probe average {averages[_label('probe')]:.2f}"),
        ("4. Tables VII-VIII: the best assembling method beats the best single task (examination MCC)",
         bool(top["mcc_mean"] > single["mcc_mean"]),
         f"{top['method']} ({top['input']}) {top['mcc_mean']:.2f} ± {top['mcc_std']:.2f} vs "
         f"{single['task']} ({single['input']}) {single['mcc_mean']:.2f} ± {single['mcc_std']:.2f}"),
    ]


def headline(m: dict, profile: str = "default") -> str:
    """The README's table of key numbers: each finding, the study's figure and this profile's."""
    ii, iii, averages, rows = m["ii"], m["iii"], m["averages"], m["best_rows"]
    gain = iii[_label("i3d_synact")] - iii[_label("i3d_scratch")]
    tsa, i3d = _label("tsa_synact"), _label("i3d_synact")
    arch = {k: x for k, x in ii.items() if k != PROBE_LABEL}
    i3d_top1 = next(x for k, x in arch.items() if k.startswith("I3D"))
    tsa_top1 = next(x for k, x in arch.items() if k.startswith("TSA"))

    def exam(pair) -> str:
        top, single = pair
        return (f"{METHOD_LABELS[top['method']]} {top['mcc_mean']:.2f} ± {top['mcc_std']:.2f} vs "
                f"{single['tasks']} {single['mcc_mean']:.2f} ± {single['mcc_std']:.2f}")

    lines = [
        f"| finding | the study | this suite, {profile} profile |",
        "|---|---|---|",
        f"| Table II: action recognition top-1 from scratch, I3D / TSA (probe) | {STUDY['ii']} | "
        f"SynAct: {i3d_top1:.1f}% / {tsa_top1:.1f}% (probe {ii[PROBE_LABEL]:.1f}%) |",
        f"| Table III: MCC gained by pretraining on actions, finger / hand | {STUDY['iii']} | "
        f"SynAct: {gain['finger']:+.2f} / {gain['hand']:+.2f} |",
        f"| Table V: average MCC over the seven tasks, I3D / TSA (probe) | {STUDY['v']} | "
        f"{averages[i3d]:.2f} / {averages[tsa]:.2f} (probe {averages[_label('probe')]:.2f}) |",
        f"| Table V: tasks whose 95% CI lies above 0, best setting | {STUDY['v_ci']} | "
        f"{int((rows['ci_lo'] > 0).sum())} of {len(rows)} ({m['best']}) |",
        f"| Table V: best setting's MCC as a share of SynPD's oracle ceiling | {STUDY['ceiling']} | "
        f"{(rows['mcc'] / rows['oracle_mcc']).mean():.2f} |",
        f"| Table VIII: examination (3 classes), best assembling vs single task, MCC | {STUDY['viii']} | "
        f"{exam(m['viii'])} |",
        f"| Table IX: slight vs severe examinations, best assembling vs single task, MCC | {STUDY['ix']} | "
        f"{exam(m['ix'])} |",
    ]
    score = m["score"]
    if score is not None:
        tasks = score[~score["task"].isin(["examination", "slight_vs_severe"])]
        lines.append(f"| Scoring new patients: share of videos whose 90% conformal set holds the true class | "
                     f"{STUDY['score']} | {tasks['coverage'].min():.2f} to {tasks['coverage'].max():.2f} over the "
                     f"seven tasks |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="default")
    ap.add_argument("--markdown", action="store_true", help="print the README's headline table instead")
    args = ap.parse_args()
    m = measured(Layout(args.profile))
    if args.markdown:
        print(headline(m, args.profile))
        return
    results = targets(m)
    for name, met, figures in results:
        print(f"{'PASS' if met else 'FAIL'}  {name}\n      {figures}")
    sys.exit(0 if all(met for _, met, _ in results) else 1)


if __name__ == "__main__":
    main()
