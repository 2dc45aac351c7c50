"""Figures of the suite (matplotlib): each function returns a Figure for pdlib.outputs.save_figure.

Conventions every figure follows (tests/test_plots.py checks them): panels and ticks carry human names
(MDS-UPDRS-III items in the tables' task order, I3D/TSA instead of registry names), legends sit outside the
data (below the axes or the figure), epoch and count axes have integer ticks, and lines that can touch 0 or 1
(ROC curves, accuracies, probabilities) are drawn inside a small margin, so the border never hides them.
"""

import re
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from pdlib.tasks import ITEMS, SETTINGS, TASKS

UNIT = (-0.03, 1.03)  # limits of an axis in [0, 1]: a line at 0 or 1 stays off the border
CHANCE = "chance (AUC 0.50)"
FIG6_RULE = ("per task the deep setting with the highest MCC as Table V prints it (2 decimals); "
             "a tie goes to the higher AUC (2 decimals), then to the setting listed first in Table V")
SCORE_NAMES = {0: "normal", 1: "slight", 2: "mild", 3: "moderate", 4: "severe"}  # MDS-UPDRS item scores


def task_name(task: str) -> str:
    """A task as a reader knows it: "finger" -> "3.4 finger tapping" (pdlib.tasks.ITEMS); other names as
    they are, underscores as spaces."""
    return ITEMS.get(task, str(task).replace("_", " "))


def group_name(group: str) -> str:
    """A learning-curve panel's title: a task's item name, or a backbone's family and depth ("r3d18" ->
    "I3D ResNet-18", "r3d18_tsa" -> "TSA ResNet-18")."""
    if group in ITEMS:
        return ITEMS[group]
    m = re.fullmatch(r"r3d(\d+)(_tsa)?", str(group))
    if m:
        return f"{'TSA' if m.group(2) else 'I3D'} ResNet-{m.group(1)}"
    return str(group).replace("_", " ")


def in_task_order(names: Sequence[str]) -> list[str]:
    """`names` with the study's tasks first, in the tables' order (pdlib.tasks.TASKS), the rest as given."""
    names = list(dict.fromkeys(names))
    return [t for t in TASKS if t in names] + [n for n in names if n not in TASKS]


def _run_name(run) -> str:
    """"fold0" -> "fold 0"; "split 1" stays."""
    return re.sub(r"^fold(\d+)$", r"fold \1", str(run))


def _grid(n: int, width: float = 3.3, height: float = 3.3, max_cols: int = 4):
    cols = min(max_cols, max(n, 1))
    rows = -(-max(n, 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, layout="constrained")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)[:n]


def _nice_width(span: float, max_bins: int, widths: Sequence[float]) -> float:
    """The smallest of `widths` that covers `span` in at most `max_bins` bins."""
    return next((w for w in widths if span / w <= max_bins), widths[-1])


def _bins(values: np.ndarray, max_bins: int, widths: Sequence[float]) -> np.ndarray:
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    w = _nice_width(max(hi - lo, 1e-9), max_bins, widths)
    start, stop = np.floor(lo / w) * w, (np.floor(hi / w) + 1) * w
    return np.arange(start, stop + w / 2, w)


def fig4_distributions(durations: pd.Series, score_counts: pd.Series, totals: pd.Series) -> Figure:
    """Fig. 4: (a) histogram of video durations (bins of a round width, mean dashed), (b) videos per item
    score S_t (0 normal ... 4 severe; coloured by the task-level class), (c) histogram of the examination
    totals S_p (exams.csv's `total`: the sum of all MDS-UPDRS-III items, the study's Eq. 14, not only the
    seven videotaped ones)."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.0), layout="constrained")
    d = np.asarray(durations, float)
    d = d[np.isfinite(d)]
    a, b, c = axes
    if len(d):
        bins = _bins(d, 30, (0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 60))  # seconds: round widths, at most 30 bins
        a.hist(d, bins=bins, color="tab:blue", edgecolor="white", lw=0.5)
        a.axvline(d.mean(), color="k", ls="--", lw=1, label=f"mean {d.mean():.1f} s")
        a.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    share = f"{100 * (d < 10).mean():.0f}% under 10 s" if len(d) else "no video"
    a.set(xlabel="video duration (s)", ylabel="videos", title=f"(a) video durations: {share}")

    scores = [int(s) for s in score_counts.index]
    colours = ["tab:blue" if s < 2 else "tab:orange" for s in scores]
    b.bar(range(len(scores)), score_counts.to_numpy(), color=colours)
    b.set_xticks(range(len(scores)), [f"{s}\n{SCORE_NAMES.get(s, '')}" for s in scores])
    b.set(xlabel="item score $S_t$ of a video (all seven tasks)", ylabel="videos",
          title="(b) task-level scores $S_t$")
    proxies = [plt.Rectangle((0, 0), 1, 1, color="tab:blue"), plt.Rectangle((0, 0), 1, 1, color="tab:orange")]
    words = [", ".join(SCORE_NAMES[s] for s in group) for group in ((0, 1), (2, 3, 4))]  # the ticks' words
    b.legend(proxies, [f"class 0, slight: $S_t$ 0-1 ({words[0]})", f"class 1, severe: $S_t$ 2-4 ({words[1]})"],
             frameon=False, ncol=1, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.28))

    t = np.asarray(totals, float)
    t = t[np.isfinite(t)]
    if len(t):
        c.hist(t, bins=_bins(t, 20, (1, 2, 5, 10, 20)), color="tab:green", edgecolor="white", lw=0.5)
    else:  # e.g. PD4T: item scores of a few tasks, no examination totals
        c.text(0.5, 0.5, "no examination totals\nin this dataset", ha="center", va="center", transform=c.transAxes)
    c.set(xlabel="MDS-UPDRS-III total $S_p$ of an examination (all its items)", ylabel="examinations",
          title="(c) patient-level scores $S_p$")
    for ax in axes:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def fig6_best_settings(numbers: pd.DataFrame) -> pd.DataFrame:
    """Fig. 6's setting per task from `tables.task_numbers` (FIG6_RULE): the deep setting with the highest MCC
    at Table V's precision, then the higher AUC, then the setting listed first; the probe is the yardstick,
    not a candidate, nor are the kinematics. One row per task (index): setting, mcc, auc and `decided_by`."""
    baselines = [label for label, kind, _ in SETTINGS.values() if kind in ("probe", "kinematics")]
    ran = numbers[numbers["task"].notna() & ~numbers["setting"].isin(baselines)].copy()
    order = {s: i for i, s in enumerate(dict.fromkeys(ran["setting"]))}
    ran["_order"] = ran["setting"].map(order)
    ran["_mcc"] = ran["mcc"].astype(float).round(2)
    ran["_auc"] = ran["auc"].astype(float).round(2) if "auc" in ran else np.nan
    rows = []
    for task in in_task_order(ran["task"]):
        g = ran[ran["task"] == task].sort_values(["_mcc", "_auc", "_order"], ascending=[False, False, True],
                                                 na_position="last")
        top = g.iloc[0]
        same_mcc = g[g["_mcc"] == top["_mcc"]]
        same_auc = same_mcc[same_mcc["_auc"] == top["_auc"]]
        others = [s for s in same_mcc["setting"] if s != top["setting"]]
        decided = ("MCC" if not others else
                   f"AUC (MCC tied with {', '.join(others)})" if len(same_auc) == 1 else
                   f"table order (MCC and AUC tied with {', '.join(others)})")
        rows.append({"task": task, "setting": top["setting"], "mcc": top["mcc"],
                     "auc": top["auc"] if "auc" in top else np.nan, "decided_by": decided})
    return pd.DataFrame(rows, columns=["task", "setting", "mcc", "auc", "decided_by"]).set_index("task")


def roc_grid(tasks: Sequence[str], preds_by_setting: dict[str, pd.DataFrame],
             best: pd.DataFrame | dict[str, str] | None = None) -> Figure:
    """ROC curves per task (Figs. 5 and 6), out-of-fold, `prob` the positive-class probability: every
    setting's curve, or with `best` (`fig6_best_settings`, or a {task: setting} dict) only the task's chosen
    setting, its MCC and how the choice was made in the legend. Each panel has the chance diagonal; the axes
    reach a little past 0 and 1, so every curve visibly ends at (1, 1)."""
    from pdlib.metrics import roc

    tasks = in_task_order(tasks)
    chosen = best["setting"].to_dict() if isinstance(best, pd.DataFrame) else best
    fig, axes = _grid(len(tasks), 3.4, 3.9)
    for i, (ax, task) in enumerate(zip(axes, tasks, strict=True)):
        ax.plot([0, 1], [0, 1], color="0.6", lw=0.9, ls="--", label=CHANCE)
        for j, (setting, preds) in enumerate(preds_by_setting.items()):
            if chosen is not None and chosen.get(task) != setting:
                continue
            p = preds[preds["task"] == task]
            if p.empty or p["label"].nunique() < 2:
                continue
            fpr, tpr, auc = roc(p)
            label = f"{setting}: AUC {auc:.2f}"
            if isinstance(best, pd.DataFrame):
                label = f"{setting}: MCC {best.loc[task, 'mcc']:.2f}, AUC {auc:.2f}"
                decided = best.loc[task, "decided_by"]
                label += ("\ntie on MCC: higher AUC" if decided.startswith("AUC") else
                          "\ntie on MCC and AUC: listed first" if decided.startswith("table order") else "")
            ax.plot(fpr, tpr, color=f"C{j}", lw=1.6, label=label)
        ax.set(title=task_name(task), xlim=UNIT, ylim=UNIT,
               xlabel="false positive rate" if i >= len(tasks) - min(4, len(tasks)) else "",
               ylabel="true positive rate" if i % 4 == 0 else "")
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1])
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1])
        handles, labels = ax.get_legend_handles_labels()
        order = list(range(1, len(handles))) + [0]  # curves first, chance last
        ax.legend([handles[k] for k in order], [labels[k] for k in order], fontsize=7, frameon=False,
                  loc="upper center", bbox_to_anchor=(0.5, -0.2 if ax.get_xlabel() else -0.1))
    if isinstance(best, pd.DataFrame):
        fig.suptitle("ROC per task of the setting with the highest MCC in Table V\n"
                     "(ties: higher AUC, then the setting listed first)", fontsize=10)
    return fig


def reliability_grid(tasks: Sequence[str], preds_by_setting: dict[str, pd.DataFrame]) -> Figure:
    """Reliability diagrams per task: each setting's observed share of class 1 against its mean predicted
    probability per bin of 0.1 (out-of-fold; a marker's area grows with its videos); on the diagonal the
    probabilities mean what they say."""
    from pdlib.metrics import reliability

    tasks = in_task_order(tasks)
    fig, axes = _grid(len(tasks), 3.3, 3.3)
    for i, (ax, task) in enumerate(zip(axes, tasks, strict=True)):
        ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)
        for j, preds in enumerate(preds_by_setting.values()):
            r = reliability(preds[preds["task"] == task])
            ax.plot(r["predicted"], r["observed"], "-", lw=1, color=f"C{j}")
            ax.scatter(r["predicted"], r["observed"], s=8 + 4 * r["videos"], alpha=0.6, color=f"C{j}")
        ax.set(xlim=UNIT, ylim=UNIT, aspect="equal", title=task_name(task),
               xlabel="mean predicted P(severe)" if i >= len(tasks) - min(4, len(tasks)) else "",
               ylabel="observed share severe" if i % 4 == 0 else "")
    handles = [Line2D([], [], color=f"C{j}", marker="o", alpha=0.8, label=s) for j, s in enumerate(preds_by_setting)]
    handles.append(Line2D([], [], color="grey", ls=":", label="calibrated (diagonal)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False, fontsize=8,
               title="bins of 0.1 of the predicted probability; a marker's area grows with its videos",
               title_fontsize=8)
    return fig


def learning_curves(history: pd.DataFrame, title: str) -> Figure:
    """Training loss per epoch (solid, left axis) and, where a held-out side was evaluated, its accuracy
    (dotted, right axis) of every run (split or fold, one colour each) of every group (task or backbone,
    `group_name`, tasks in the tables' order): `pdlib.pretraining.training_histories`."""
    groups = in_task_order(history["group"]) if len(history) else []
    runs = list(dict.fromkeys(history["run"])) if len(history) else []
    colour = {run: f"C{i % 10}" for i, run in enumerate(runs)}
    has_acc = "val_acc" in history and history["val_acc"].notna().any()
    fig, axes = _grid(len(groups), 3.4, 2.9)
    last_row = len(groups) - min(4, len(groups))
    for i, (ax, group) in enumerate(zip(axes, groups, strict=True)):
        g = history[history["group"] == group]
        acc_ax = ax.twinx() if has_acc and g["val_acc"].notna().any() else None
        for run, r in g.groupby("run", sort=False):
            ax.plot(r["epoch"], r["loss"], color=colour[run], lw=1.4, marker="." if len(r) < 4 else None)
            if acc_ax is not None:
                acc_ax.plot(r["epoch"], r["val_acc"], color=colour[run], ls=":", lw=1.4,
                            marker="." if len(r) < 4 else None)
        ax.set(title=group_name(group), xlabel="epoch" if i >= last_row else "",
               ylabel="training loss" if i % 4 == 0 else "")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.margins(x=0.05)
        if acc_ax is not None:
            acc_ax.set(ylim=UNIT, ylabel="held-out accuracy" if i % 4 == 3 or i == len(groups) - 1 else "")
            acc_ax.set_yticks([0, 0.25, 0.5, 0.75, 1])
    handles = [Line2D([], [], color=colour[r], lw=2, label=_run_name(r)) for r in runs]
    handles.append(Line2D([], [], color="k", lw=1.4, label="training loss (solid, left axis)"))
    if has_acc:
        handles.append(Line2D([], [], color="k", lw=1.4, ls=":", label="held-out accuracy (dotted, right axis)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 7), frameon=False, fontsize=8)
    fig.suptitle(title)
    return fig


def fig7_task_weights(summary: pd.DataFrame, title: str = "vector weighting") -> Figure:
    """Fig. 7: per task the mean learned weight α_m of vector weighting (Eq. 8), error bars = std over
    repeats x folds, dashed line = uniform 1/M. `summary` is `pdlib.exam_level.weight_summary(...)`."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    x = np.arange(len(summary))
    ax.bar(x, summary["mean"], yerr=summary["std"], capsize=3, color="tab:blue", label="mean α ± std")
    ax.axhline(1 / len(summary), color="0.4", ls="--", lw=1, label=f"uniform 1/{len(summary)}")
    ax.set_xticks(x, [task_name(t) for t in summary["task"]], rotation=30, ha="right")
    ax.set(ylabel="task weight α", xlabel="MDS-UPDRS-III item",
           title=f"{title}: {int(summary['runs'].iloc[0])} runs (repeats × folds)")
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return fig


def scoring_on_new_patients(table: pd.DataFrame, coverage: float) -> Figure:
    """Notebook 06 on videos the models never saw (`scoring.coverage_table`): (a) per task, how often the
    conformal set held the true class, against the nominal coverage; (b) accuracy of the ensemble's class on
    all videos and on those it did not abstain on, with the share it abstained on."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    x = np.arange(len(table))
    a.bar(x, 100 * table["coverage"], color="tab:blue", label="empirical coverage")
    a.axhline(100 * coverage, color="k", ls="--", lw=1, label=f"nominal {100 * coverage:.0f}%")
    a.axhspan(100 * coverage - 5, 100 * coverage + 5, color="grey", alpha=0.15, lw=0, label="nominal ± 5 points")
    names = [task_name(t) for t in table["task"]]
    a.set_xticks(x, names, rotation=30, ha="right")
    a.set(ylim=(0, 105), ylabel="true class in the set (%)", title="(a) coverage of the prediction sets")
    a.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.42),
             ncol=3)
    w = 0.38
    b.bar(x - w / 2, table["acc_pct_all"], w, color="tab:grey", label="all videos")
    called = table["acc_pct_called"].notna().to_numpy()
    if called.any():  # a task where every video was abstained on has no bar, and says so
        b.bar((x + w / 2)[called], table["acc_pct_called"][called], w, color="tab:green", label="videos called")
        for xi in x[~called]:
            b.text(xi + w / 2, 2, "none called", rotation=90, ha="center", va="bottom", fontsize=7)
    else:  # no "videos called" bar anywhere: no legend entry for it, and the figure says why
        b.text(0.5, 0.93, f"no video called at coverage {coverage:g}: every set held both classes",
               transform=b.transAxes, ha="center", va="top", fontsize=8,
               bbox={"facecolor": "white", "edgecolor": "tab:grey", "boxstyle": "round"})
    for xi, share in zip(x, table["abstained"], strict=True):
        b.text(xi, 102, f"{100 * share:.0f}%", ha="center", fontsize=7)
    b.set_xticks(x, names, rotation=30, ha="right")
    b.set_xlim(-0.6, len(x) - 0.4)  # the same with or without the called bars
    b.set(ylim=(0, 122 if not called.any() else 112), ylabel="accuracy (%)",
          title="(b) accuracy; above the bars: share abstained")
    b.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.42), ncol=2)
    return fig


def _kinematics_title(kp, task: str, a, reason: str) -> str:
    """Task, side, tracked share; then the taps, rate, amplitude and window measured, or why none."""
    from pdlib.kinematics import FEATURES

    side = {"L": ", left side", "R": ", right side"}.get(kp.side, "")
    head = f"{task_name(task)}{side}: tracked in {100 * kp.tracked(task):.0f}% of frames"
    if reason:
        return f"{head}\nleft out: {reason}"
    if not len(a.taps):
        return f"{head}\n{a.window[0]:.1f}-{a.window[1]:.1f} s"
    return (f"{head}\n{len(a.taps)} taps at {FEATURES['frequency_hz'](a):.1f} Hz, amplitude "
            f"{FEATURES['amplitude_mean'](a):.2f} {a.movement.units}, in {a.window[0]:.1f}-{a.window[1]:.1f} s "
            f"of {np.nanmax(kp.t):.1f} s")


def _amplitude_trend(ax, a) -> None:
    """The taps' amplitude trend of an analysis (3 taps or more): the Theil-Sen line and the trimmed mean
    amplitude of the first and of the last third of the taps, drawn up from the median trough."""
    from scipy import stats

    from pdlib.kinematics import FEATURES

    taps = a.taps
    slope, icpt = stats.theilslopes(taps["amplitude"], np.arange(len(taps)))[:2]
    ax.plot(taps["t_peak"], taps["trough"].median() + icpt + slope * np.arange(len(taps)), "--",
            color="tab:red", lw=1.4, label=f"amplitude trend: {100 * FEATURES['decrement_slope'](a):+.0f}% "
            f"per 10 taps")
    third, base = len(taps) // 3, taps["trough"].median()
    pad = 0.25 * float(np.median(np.diff(taps["t_peak"])))
    for k, part in enumerate((taps.iloc[:third], taps.iloc[-third:])):
        ax.hlines(base + stats.trim_mean(part["amplitude"], 0.2), part["t_peak"].iloc[0] - pad,
                  part["t_peak"].iloc[-1] + pad, color="k", lw=2.2, label=None if k else
                  f"mean amplitude of the first and last third: ratio {FEATURES['decrement_ratio'](a):.2f}")


def kinematics_signal(kp, task: str, ax=None) -> Figure:
    """A video's movement as the kinematic features read it (`pdlib.kinematics.analyse`, the one analysis both
    use): the task's signal over time (blue: smoothed; grey: as tracked) in its units, each tap found (a marker
    at its peak and a bar from its opening trough to the peak: its amplitude), the amplitude trend over the
    taps (dashed: Theil-Sen line; black: the trimmed mean amplitude of the first and of the last third of the
    taps, whose ratio is `decrement_ratio`; both drawn up from the median trough), the
    window measured (green), halts and hesitations between taps (hatched) and untracked stretches (grey);
    titled with the task, side, tracked share and the taps' rate and amplitude, or why the video is left
    out. `kp`: `pdlib.kinematics.Keypoints`; `ax`: an axes to draw into (its figure is returned)."""
    from pdlib.kinematics import KinematicsError, analyse, untracked
    from pdlib.repetitive import runs

    fig = ax.figure if ax is not None else plt.subplots(figsize=(10, 4.2), layout="constrained")[0]
    ax = ax if ax is not None else fig.axes[0]
    try:
        a = analyse(kp, task)
    except KinematicsError as err:  # keypoints with nothing to measure (e.g. no hand size): said, not drawn
        ax.set(title=f"{task_name(task)}: left out: {err}", xlabel="time (s)")
        return fig
    poor = untracked(kp, task)
    for k, (s, e) in enumerate(runs(~a.tracked)):
        ax.axvspan(a.t[max(s - 1, 0)], a.t[min(e, len(a.t) - 1)], color="0.55", alpha=0.35, lw=0,
                   label="untracked" if k == 0 else None)
    if np.isfinite(a.window).all():
        ax.axvspan(*a.window, color="tab:green", alpha=0.1, lw=0, label="window measured")
        for edge in a.window:
            ax.axvline(edge, color="tab:green", lw=1.0)
    for kind, hatch, colour in (("halt", "///", "tab:red"), ("hesitation", "...", "tab:purple")):
        for k, iv in enumerate(a.intervals[a.intervals["kind"] == kind].itertuples()):
            ax.axvspan(iv.t_from, iv.t_to, fill=False, hatch=hatch, edgecolor=colour, lw=0,
                       label=f"{kind} (between taps)" if k == 0 else None)
    if a.raw is not a.x:
        ax.plot(a.t, a.raw, color="0.6", lw=0.6, label="as tracked")
    ax.plot(a.t, a.x, color="tab:blue", lw=1.2, label="smoothed" if a.raw is not a.x else "signal")
    taps = a.taps
    if len(taps):
        ax.vlines(taps["t_peak"], taps["trough"], taps["peak"], color="tab:orange", lw=1.4,
                  label="tap amplitude (trough to peak)")
        ax.plot(taps["t_peak"], taps["peak"], "v", color="tab:orange", ms=5, label=f"taps found ({len(taps)})")
    if len(taps) >= 3:
        _amplitude_trend(ax, a)
    lo, hi = ax.get_ylim()
    span = 5 * a.movement.min_amplitude  # so that jitter under the smallest tap never looks like movement
    if hi - lo < span:
        ax.set_ylim((lo + hi - span) / 2, (lo + hi + span) / 2)
    ax.set(xlabel="time (s)", ylabel=f"{a.movement.quantity} ({a.movement.units})",
           title=_kinematics_title(kp, task, a, poor or a.reason))
    ax.title.set_fontsize(10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=4, fontsize=8, frameon=False)
    return fig
