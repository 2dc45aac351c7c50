"""Figures of the suite (matplotlib): each function returns a Figure for pdlib.outputs.save_figure."""

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def fig4_distributions(durations: pd.Series, score_counts: pd.Series, totals: pd.Series) -> Figure:
    """Fig. 4: (a) histogram of video durations (80 bins, mean marked), (b) videos per item score,
    (c) histogram of examination totals (20 bins)."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    d = np.asarray(durations, float)
    axes[0].hist(d, bins=80, color="tab:blue")
    axes[0].axvline(d.mean(), color="k", ls="--", lw=1, label=f"mean {d.mean():.1f} s")
    axes[0].set(xlabel="duration (s)", ylabel="videos",
                title=f"(a) durations: {100 * (d < 10).mean():.0f}% under 10 s")
    axes[0].legend(frameon=False)
    axes[1].bar(score_counts.index.astype(str), score_counts.to_numpy(), color="tab:orange")
    axes[1].set(xlabel="item score $S_t$", ylabel="videos", title="(b) task-level scores")
    axes[2].hist(np.asarray(totals, float), bins=20, color="tab:green")
    axes[2].set(xlabel="MDS-UPDRS-III total $S_p$", ylabel="examinations", title="(c) examination totals")
    fig.tight_layout()
    return fig


def roc_grid(tasks: Sequence[str], preds_by_setting: dict[str, pd.DataFrame],
             best: dict[str, str] | None = None) -> Figure:
    """ROC curves per task (Figs. 5 and 6): every setting's curve, or with `best` only the task's best
    setting (Table V's bold numbers). Predictions are out-of-fold, `prob` the positive-class probability."""
    from pdlib.metrics import roc

    cols = min(4, len(tasks))
    rows = -(-len(tasks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        for setting, preds in preds_by_setting.items():
            if best is not None and best.get(task) != setting:
                continue
            p = preds[preds["task"] == task]
            if p.empty:
                continue
            fpr, tpr, auc = roc(p)
            ax.plot(fpr, tpr, label=f"{setting} (AUC {auc:.2f})")
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
        ax.set(title=task, xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.02))
        ax.legend(fontsize=7, loc="lower right")
    for ax in list(axes.flat)[len(tasks):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def reliability_grid(tasks: Sequence[str], preds_by_setting: dict[str, pd.DataFrame]) -> Figure:
    """Reliability diagrams per task: each setting's observed share of class 1 against its mean predicted
    probability per bin of 0.1 (out-of-fold; a marker's area grows with its videos); on the diagonal the
    probabilities mean what they say."""
    from pdlib.metrics import reliability

    cols = min(4, len(tasks))
    rows = -(-len(tasks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)
        for setting, preds in preds_by_setting.items():
            r = reliability(preds[preds["task"] == task])
            (line,) = ax.plot(r["predicted"], r["observed"], "-", lw=1, label=setting)
            ax.scatter(r["predicted"], r["observed"], s=8 + 4 * r["videos"], alpha=0.6, color=line.get_color())
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), title=task, xlabel="mean predicted P(severe)",
               ylabel="observed share severe")
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False, fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def learning_curves(history: pd.DataFrame, title: str) -> Figure:
    """Training loss per epoch (solid) and, where a held-out side was evaluated, its accuracy (dotted, right
    axis) of every run (split or fold) of every group (model or task): `pdlib.task_level.learning_curves`."""
    groups = list(dict.fromkeys(history["group"]))
    cols = min(4, max(len(groups), 1))
    rows = -(-max(len(groups), 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    for ax, group in zip(axes.flat, groups, strict=False):
        g = history[history["group"] == group]
        acc_ax = ax.twinx() if "val_acc" in g and g["val_acc"].notna().any() else None
        for i, (run, r) in enumerate(g.groupby("run", sort=False)):
            ax.plot(r["epoch"], r["loss"], color=f"C{i}", label=str(run))
            if acc_ax is not None:
                acc_ax.plot(r["epoch"], r["val_acc"], color=f"C{i}", ls=":")
        ax.set(title=str(group), xlabel="epoch", ylabel="training loss")
        if acc_ax is not None:
            acc_ax.set(ylabel="held-out accuracy (dotted)", ylim=(0, 1))
        ax.legend(fontsize=6, frameon=False)
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def fig7_task_weights(summary: pd.DataFrame, title: str = "vector weighting") -> Figure:
    """Fig. 7: per task the mean learned weight α_m of vector weighting (Eq. 8), error bars = std over
    repeats x folds, dashed line = uniform 1/M. `summary` is `pdlib.exam_level.weight_summary(...)`."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.bar(summary["task"], summary["mean"], yerr=summary["std"], capsize=3, color="tab:blue")
    ax.axhline(1 / len(summary), color="0.5", ls="--", lw=1, label=f"uniform 1/{len(summary)}")
    ax.set(ylabel="task weight α", title=f"{title}: {int(summary['runs'].iloc[0])} runs (repeats × folds)")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def scoring_on_new_patients(table: pd.DataFrame, coverage: float) -> Figure:
    """Notebook 06 on videos the models never saw (`scoring.coverage_table`): (a) per task, how often the
    conformal set held the true class, against the nominal coverage; (b) accuracy of the ensemble's class on
    all videos and on those it did not abstain on, with the share it abstained on."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.6))
    x = np.arange(len(table))
    a.bar(x, 100 * table["coverage"], color="tab:blue", label="empirical coverage")
    a.axhline(100 * coverage, color="k", ls="--", lw=1, label=f"nominal {100 * coverage:.0f}%")
    a.axhspan(100 * coverage - 5, 100 * coverage + 5, color="grey", alpha=0.15, lw=0, label="nominal ± 5 points")
    names = [t.replace("_", " ") for t in table["task"]]
    a.set_xticks(x, names, rotation=30, ha="right")
    a.set(ylim=(0, 105), ylabel="true class in the set (%)", title="(a) coverage of the prediction sets")
    a.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3)
    w = 0.38
    b.bar(x - w / 2, 100 * table["accuracy_all"], w, color="tab:grey", label="all videos")
    b.bar(x + w / 2, 100 * table["accuracy_called"].fillna(0), w, color="tab:green", label="videos called")
    for xi, share in zip(x, table["abstained"], strict=True):
        b.text(xi, 102, f"{100 * share:.0f}%", ha="center", fontsize=7)
    b.set_xticks(x, names, rotation=30, ha="right")
    b.set(ylim=(0, 112), ylabel="accuracy (%)", title="(b) accuracy; above: share abstained")
    b.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2)
    fig.tight_layout()
    return fig
