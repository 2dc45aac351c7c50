"""Every figure of pdlib.plots rendered on small synthetic inputs: titles, axis labels, human names in the
tables' task order, legends outside the data, integer epoch and count ticks, ROC curves reaching (1, 1)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402

from pdlib import plots  # noqa: E402
from pdlib.tasks import ITEMS, SETTINGS, TASKS  # noqa: E402

ALPHABETICAL = sorted(TASKS)  # the order a careless groupby would give
NAMES = [ITEMS[t] for t in TASKS]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _preds(setting_shift: float, seed: int, tasks=ALPHABETICAL, n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for task in tasks:
        label = np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)]
        prob = np.clip(0.5 + setting_shift * (label - 0.5) + rng.normal(0, 0.25, n), 0.001, 0.999)
        rows.append(pd.DataFrame({"video": [f"{task}{i}" for i in range(n)], "task": task, "label": label,
                                  "prob": prob, "pred": (prob >= 0.5).astype(int), "fold": np.arange(n) % 5,
                                  "note": ""}))
    return pd.concat(rows, ignore_index=True)


def _history(groups, runs, epochs: int = 2, acc: bool = True) -> pd.DataFrame:
    rows = []
    for group in groups:
        for k, run in enumerate(runs):
            for e in range(1, epochs + 1):
                row = {"group": group, "run": run, "epoch": e, "loss": 1.0 / e + 0.1 * k}
                if acc:
                    row["val_acc"] = 1.0 if k == 0 else 0.0 if k == 1 else 0.6  # lines on the borders
                rows.append(row)
    return pd.DataFrame(rows)


def _drawn(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _legends(fig) -> list[Legend]:
    return [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]


def _assert_legends_outside(fig, expect: int = 1):
    """Every legend's box lies outside every visible axes' data area."""
    renderer = _drawn(fig)
    legends = _legends(fig)
    assert len(legends) >= expect
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            if ax.get_visible():
                texts = [t.get_text() for t in legend.texts]
                assert not box.overlaps(ax.bbox), f"legend {texts} over the data of {ax.get_title()!r}"


def _visible(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]


def _legend_texts(fig) -> list[str]:
    return [t.get_text() for legend in _legends(fig) for t in legend.texts]


def test_fig4_bins_integer_counts_and_score_names():
    rng = np.random.default_rng(0)
    durations = pd.Series(rng.gamma(4, 1.6, 1000))
    counts = pd.Series([226, 430, 324, 100, 5], index=pd.Index(range(5), name="score"))
    totals = pd.Series(rng.integers(8, 82, 90))
    fig = plots.fig4_distributions(durations, counts, totals)
    a, b, c = fig.axes
    assert a.get_title().startswith("(a) video durations") and a.get_xlabel() == "video duration (s)"
    assert "$S_t$" in b.get_xlabel() and "$S_t$" in b.get_title()
    assert "$S_p$" in c.get_xlabel() and "MDS-UPDRS-III total" in c.get_xlabel()
    assert [t.get_text() for t in b.get_xticklabels()] == ["0\nnormal", "1\nslight", "2\nmild", "3\nmoderate",
                                                           "4\nsevere"]
    assert 10 <= len(a.patches) <= 30, "durations in bins of a round width, not 80 slivers"
    widths = {round(p.get_width(), 6) for p in a.patches}
    assert len(widths) == 1 and widths.pop() in (0.5, 1.0, 2.0)
    assert len(c.patches) <= 20 and all(float(p.get_width()).is_integer() for p in c.patches)
    _drawn(fig)
    for ax in fig.axes:
        ticks = ax.get_yticks()
        assert np.allclose(ticks, np.round(ticks)), f"fractional count ticks on {ax.get_title()}"
    legend = _legend_texts(fig)[1:]  # after (a)'s mean: the classes in the ticks' words
    assert legend == ["class 0, slight: $S_t$ 0-1 (normal, slight)",
                      "class 1, severe: $S_t$ 2-4 (mild, moderate, severe)"]
    _assert_legends_outside(fig, expect=2)


def test_fig4_short_videos_get_finer_round_bins():
    durations = pd.Series(np.random.default_rng(1).uniform(1.0, 2.5, 80))
    fig = plots.fig4_distributions(durations, pd.Series([15, 30, 31, 8, 0], index=range(5)), pd.Series([12, 50]))
    a = fig.axes[0]
    assert 8 <= len(a.patches) <= 30 and round(a.patches[0].get_width(), 6) in (0.1, 0.2, 0.25)


def test_fig4_small_dataset():
    fig = plots.fig4_distributions(pd.Series([3.0, 4.2, 5.1]), pd.Series([1, 2, 0, 0, 0], index=range(5)),
                                   pd.Series([20, 21]))
    _drawn(fig)
    for ax in fig.axes:
        assert np.allclose(ax.get_yticks(), np.round(ax.get_yticks()))


def test_roc_curves_reach_one_one_with_chance_and_task_order():
    preds = {SETTINGS["i3d_scratch"][0]: _preds(0.2, 1, ["hand", "finger"]),
             SETTINGS["i3d_synact"][0]: _preds(0.5, 2, ["hand", "finger"])}
    fig = plots.roc_grid(["hand", "finger"], preds)
    axes = _visible(fig)
    assert [ax.get_title() for ax in axes] == [ITEMS["finger"], ITEMS["hand"]]
    for ax in axes:
        curves = [line for line in ax.get_lines() if not line.get_label().startswith("chance")]
        assert len(curves) == 2
        for line in curves:
            x, y = line.get_data()
            assert (x[-1], y[-1]) == (1.0, 1.0) and (x[0], y[0]) == (0.0, 0.0)
        assert ax.get_xlim()[1] > 1 and ax.get_ylim()[1] > 1 and ax.get_xlim()[0] < 0 and ax.get_ylim()[0] < 0
        assert any(line.get_label() == plots.CHANCE for line in ax.get_lines())
    assert axes[0].get_ylabel() == "true positive rate"
    assert all(ax.get_xlabel() == "false positive rate" for ax in axes)
    texts = _legend_texts(fig)
    assert any(t.startswith("I3D (scratch): AUC") for t in texts) and plots.CHANCE in texts
    _assert_legends_outside(fig, expect=2)


def _numbers(mcc: dict, auc: dict) -> pd.DataFrame:
    rows = [{"setting": s, "task": t, "mcc": mcc[s][t], "auc": auc[s][t]} for s in mcc for t in mcc[s]]
    rows.append({"setting": SETTINGS["probe"][0], "task": "finger", "mcc": 0.9, "auc": 0.99})  # never chosen
    return pd.DataFrame(rows)


def test_fig6_best_setting_rule_breaks_ties_deterministically():
    i3d, tsa = SETTINGS["i3d_synact"][0], SETTINGS["tsa_synact"][0]
    numbers = _numbers({i3d: {"toe": 0.30, "finger": 0.40, "hand": 0.2, "leg": 0.5},
                        tsa: {"toe": 0.35, "finger": 0.401, "hand": 0.2, "leg": 0.5}},
                       {i3d: {"toe": 0.7, "finger": 0.70, "hand": 0.8, "leg": 0.6},
                        tsa: {"toe": 0.6, "finger": 0.75, "hand": 0.8, "leg": 0.6}})
    best = plots.fig6_best_settings(numbers)
    assert list(best.index) == ["finger", "hand", "toe", "leg"]  # the tables' order
    assert best.loc["toe", "setting"] == tsa and best.loc["toe", "decided_by"] == "MCC"
    assert best.loc["finger", "setting"] == tsa and best.loc["finger", "decided_by"].startswith("AUC")
    assert best.loc["hand", "setting"] == i3d and best.loc["hand", "decided_by"].startswith("table order")
    assert best.loc["leg", "setting"] == i3d
    tasks = ["toe", "finger", "hand", "leg"]
    fig = plots.roc_grid(tasks, {i3d: _preds(0.4, 3, tasks), tsa: _preds(0.5, 4, tasks)}, best=best)
    axes = _visible(fig)
    assert [ax.get_title() for ax in axes] == [ITEMS[t] for t in ["finger", "hand", "toe", "leg"]]
    assert all(len(ax.get_lines()) == 2 for ax in axes)  # the chosen curve and the chance diagonal
    assert "ties" in fig.get_suptitle()
    texts = _legend_texts(fig)
    assert any("tie on MCC: higher AUC" in t for t in texts)
    assert any("tie on MCC and AUC: listed first" in t for t in texts)
    _assert_legends_outside(fig, expect=4)


def test_reliability_grid_names_order_and_legend():
    preds = {SETTINGS["i3d_synact"][0]: _preds(0.4, 5), SETTINGS["tsa_synact"][0]: _preds(0.5, 6)}
    fig = plots.reliability_grid(ALPHABETICAL, preds)
    axes = _visible(fig)
    assert [ax.get_title() for ax in axes] == NAMES
    assert axes[0].get_ylabel() == "observed share severe" and axes[-1].get_xlabel() == "mean predicted P(severe)"
    assert {"I3D (SynAct)", "TSA (SynAct)", "calibrated (diagonal)"} <= set(_legend_texts(fig))
    _assert_legends_outside(fig)


@pytest.mark.parametrize("epochs", [2, 3, 9])
def test_learning_curves_tasks_integer_epochs_and_full_legend(epochs):
    history = _history(ALPHABETICAL, [f"fold{k}" for k in range(5)], epochs=epochs)
    fig = plots.learning_curves(history, "TSA (SynAct): training loss and held-out accuracy per epoch")
    axes = _visible(fig)
    assert [ax.get_title() for ax in axes] == NAMES
    _drawn(fig)
    for ax in axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and np.allclose(ticks, np.round(ticks)), f"fractional epoch ticks {ticks}"
        assert ax.get_xlabel() in ("epoch", "")
    assert axes[-1].get_xlabel() == "epoch" and axes[0].get_ylabel() == "training loss"
    twins = [ax for ax in fig.axes if ax.get_visible() and not ax.get_title()]
    assert len(twins) == len(TASKS)
    for twin in twins:  # accuracy 0 and 1 drawn inside the frame
        lo, hi = twin.get_ylim()
        assert lo < 0 and hi > 1
    assert any(t.get_ylabel() == "held-out accuracy" for t in twins)
    texts = _legend_texts(fig)
    assert "fold 0" in texts and "fold 4" in texts
    assert "training loss (solid, left axis)" in texts and "held-out accuracy (dotted, right axis)" in texts
    dotted = [h for h in fig.legends[0].legend_handles if h.get_label().startswith("held-out")]
    assert dotted[0].get_linestyle() == ":"
    assert fig.get_suptitle().startswith("TSA (SynAct)")
    _assert_legends_outside(fig)


def test_learning_curves_pretraining_backbone_names():
    history = _history(["r3d18", "r3d18_tsa"], ["split 1", "split 2"], epochs=2, acc=False)
    fig = plots.learning_curves(history, "SynAct pretraining: training loss per epoch")
    axes = _visible(fig)
    assert [ax.get_title() for ax in axes] == ["I3D ResNet-18", "TSA ResNet-18"]
    assert len(fig.axes) == 2  # no accuracy axis
    texts = _legend_texts(fig)
    assert "split 1" in texts and not any("accuracy" in t for t in texts)
    _drawn(fig)
    for ax in axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert np.allclose(ticks, [1, 2])
    _assert_legends_outside(fig)


def test_group_names():
    assert plots.group_name("r3d34_tsa") == "TSA ResNet-34" and plots.group_name("r3d10") == "I3D ResNet-10"
    assert plots.group_name("kinetic") == ITEMS["kinetic"]
    assert plots.group_name("slight_vs_severe") == "slight vs severe"
    assert plots.in_task_order(["toe", "examination", "finger"]) == ["finger", "toe", "examination"]


def test_fig7_uniform_line_error_bars_and_names():
    rng = np.random.default_rng(7)
    mean = rng.dirichlet(np.ones(7))
    summary = pd.DataFrame({"task": list(TASKS), "mean": mean, "std": 0.02, "runs": 10})
    fig = plots.fig7_task_weights(summary)
    ax = fig.axes[0]
    assert len(ax.patches) == 7 and ax.get_ylabel() == "task weight α" and ax.get_xlabel() == "MDS-UPDRS-III item"
    assert [t.get_text() for t in ax.get_xticklabels()] == NAMES
    assert "10 runs" in ax.get_title()
    uniform = [line for line in ax.get_lines() if line.get_label() == "uniform 1/7"]
    assert uniform and np.allclose(uniform[0].get_ydata(), 1 / 7)
    assert ax.containers and ax.containers[-1].errorbar is not None  # the bars' error bars
    _assert_legends_outside(fig)


def test_scoring_on_new_patients_names_and_legends():
    table = pd.DataFrame({"task": ["finger", "kinetic", "examination"], "coverage": [0.9, 0.95, 0.85],
                          "acc_pct_all": [70.0, 80.0, 60.0], "acc_pct_called": [90.0, np.nan, 80.0],
                          "abstained": [0.5, 1.0, 0.3]})
    fig = plots.scoring_on_new_patients(table, 0.9)
    a, b = fig.axes
    assert [t.get_text() for t in a.get_xticklabels()] == [ITEMS["finger"], ITEMS["kinetic"], "examination"]
    assert a.get_title().startswith("(a)") and b.get_title().startswith("(b)")
    assert a.get_ylabel() == "true class in the set (%)" and b.get_ylabel() == "accuracy (%)"
    _assert_legends_outside(fig, expect=2)
    assert "videos called" in _legend_texts(fig) and [t.get_text() for t in b.texts].count("none called") == 1
    nothing = plots.scoring_on_new_patients(table.assign(acc_pct_called=np.nan, abstained=1.0), 0.9)
    b = nothing.axes[1]
    assert "videos called" not in _legend_texts(nothing)  # no entry for bars that are not there, and a word why
    assert any(t.get_text().startswith("no video called at coverage 0.9") for t in b.texts)


def test_the_filmstrip_of_a_one_step_layer_says_its_attention_cannot_vary_over_time():
    import torch

    from pdlib.attention import attention_view, clip_attention
    from pdlib.attention_figures import filmstrip_figure
    from pdlib.layout import ClipSpec
    from pdlib.models import build_model

    torch.manual_seed(0)
    model = build_model("r3d18_tsa", 2, clip=ClipSpec(8, 32), widen=0.125, attention={"heads": 2}).eval()
    frames = np.random.default_rng(0).integers(0, 255, (8, 32, 32, 3), dtype=np.uint8)
    clip = clip_attention(model, frames, task="finger", video="v.mp4")
    view = attention_view(clip, "layer4.1.conv2.attn")
    assert len(view.received) == 1
    curve = filmstrip_figure(clip, view).axes[2]
    assert any("layer4 has one time step here: its attention cannot vary over time" in t.get_text()
               for t in curve.texts)


def test_kinematics_signal_shows_the_taps_the_window_untracked_time_and_why_a_video_is_left_out():
    from pdlib.kinematics import Keypoints, analyse

    rng = np.random.default_rng(0)
    t = np.arange(0, 12, 1 / 30)
    aperture = np.where(t < 2, 1.1, 0.6 + 0.5 * np.cos(2 * np.pi * 3 * (t - 2)))  # an open hold, taps at 3 Hz
    xy = np.full((len(t), 21, 2), 300.0)
    xy[:, 0], xy[:, 4] = (300, 380), (260, 300)  # wrist 80 px below the middle-finger MCP; the thumb tip
    xy[:, 8] = np.stack([260 + 80 * aperture, 300 + 0 * t], 1)  # the index fingertip
    xy += rng.normal(0, 0.8, xy.shape)
    keep = (t < 7) | (t > 7.6)  # 0.6 s absent from the file
    kp = Keypoints(xy[keep], t[keep], "hand", "L")
    fig = plots.kinematics_signal(kp, "finger")
    ax, a = fig.axes[0], analyse(kp, "finger")
    assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "thumb-index distance (hand sizes)"
    assert ax.get_title().startswith(f"{ITEMS['finger']}, left side: tracked in 100% of frames\n"
                                     f"{len(a.taps)} taps at 3.0 Hz")
    texts = _legend_texts(fig)
    assert {f"taps found ({len(a.taps)})", "untracked", "window measured"} <= set(texts)
    peaks = next(line for line in ax.lines if line.get_marker() == "v")
    assert np.allclose(peaks.get_xdata(), a.taps["t_peak"]) and 25 <= len(a.taps) <= 30
    assert a.window[0] > 2.0  # the hold is not measured
    _assert_legends_outside(fig)
    still = Keypoints(xy[:300] * 0 + xy[:1] + rng.normal(0, 0.8, (300, 21, 2)), t[:300], "hand", "R")
    title = plots.kinematics_signal(still, "finger").axes[0].get_title()
    assert title.endswith("left out: right hand not seen tapping")
