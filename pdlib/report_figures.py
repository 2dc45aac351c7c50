"""The figures of a report page (`pdlib.report`), each followed by its caption in plain words: a video's movement
signal (`plots.kinematics_signal`), its TSA attention filmstrip (`attention_figures.filmstrip_figure`), and the
patient's kinematic features among the training cohort's, per item score (`features_figure`).

Each `*_part` yields what notebook 07 displays: a matplotlib Figure, then a Markdown caption (or only a Markdown
note saying why there is no figure).
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Image, Markdown
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pdlib.kinematics import TASK_CONVENTION, TREMOR_MOVEMENT, feature_names
from pdlib.repetitive import MOVEMENTS

SHOWN_FEATURES = 6  # features per item: those most rank-correlated with the item score in the training cohort
DPI = 80  # the pages' figures: legible on a screen, a page of 14 videos under 2 MB
SIDE_COLOURS = {"L": "tab:red", "R": "tab:blue", "": "tab:red"}
# feature -> (plain name, unit: "{u}" is the task's movement unit)
FEATURE_WORDS = {
    "amplitude_mean": ("mean tap amplitude", "{u}"), "amplitude_median": ("median tap amplitude", "{u}"),
    "amplitude_cv": ("variation of the amplitude", "sd / mean"), "range_of_motion": ("range of motion", "{u}"),
    "speed_mean": ("opening speed", "{u} per s"), "closing_speed_mean": ("closing speed", "{u} per s"),
    "peak_speed_mean": ("peak speed", "{u} per s"), "speed_cv": ("variation of the speed", "sd / mean"),
    "frequency_hz": ("tapping rate", "Hz"), "repetitions_per_10s": ("taps per 10 s", "taps"),
    "rhythm_cv": ("irregular rhythm", "sd / mean of the intervals"),
    "hesitations_per_10": ("hesitations", "per 10 taps"), "halts_per_10": ("halts", "per 10 taps"),
    "interruptions_per_10": ("hesitations and halts", "per 10 taps"),
    "halt_time_fraction": ("time lost to halts", "share of the window"),
    "decrement_ratio": ("decrement: last third / first third", "ratio; 1 = none"),
    "decrement_slope": ("amplitude trend", "change per 10 taps"),
    "tremor_frequency_hz": ("tremor frequency", "Hz"), "tremor_amplitude": ("tremor amplitude", "arm lengths"),
    "tremor_power_ratio": ("share of motion that is tremor", "0-1"),
    "tremor_steadiness": ("how far the fingertip moves", "arm lengths"),
}


def png(fig: Figure) -> Image:
    """The figure as the page's PNG, drawn once (no tight bounding box: the figures lay themselves out)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return Image(data=buffer.getvalue(), format="png")


def movement(task: str):
    return MOVEMENTS.get(task, TREMOR_MOVEMENT)


def feature_label(feature: str, task: str) -> str:
    name, unit = FEATURE_WORDS.get(feature, (feature, ""))
    return f"{name} ({unit.format(u=movement(task).units)})" if unit else name


def signal_part(row, name: str, cache_dir):
    """The video's movement from its keypoints (beside it, or `pdlib track`'s in `cache_dir`), or why not."""
    from pdlib.kinematics import KinematicsError
    from pdlib.landmarks import load_keypoints
    from pdlib.plots import kinematics_signal
    from pdlib.tracking import keypoint_files

    if row.task not in TASK_CONVENTION:
        return
    file = keypoint_files(pd.DataFrame({"path": [row.path], "task": [row.task]}), cache_dir)[0]
    if file is None:
        yield Markdown(f"*{name}: no keypoints for this video, so its movement is not drawn (`pdlib track` its "
                       f"dataset to see it).*")
        return
    try:
        size = [getattr(row, k, None) for k in ("width", "height")]
        kp = load_keypoints(file, row.task, row.side, bool(getattr(row, "mirrored", False) is True), *size)
        fig = Figure(figsize=(10, 4.2))
        fig.subplots_adjust(left=0.08, right=0.98, top=0.86, bottom=0.3)
        kinematics_signal(kp, row.task, ax=fig.add_subplot())
    except KinematicsError as err:
        yield Markdown(f"*{name}: its movement cannot be drawn: {err}*")
        return
    m = movement(row.task)
    what = (f"the {m.quantity} over time, in {m.units} (blue: smoothed; grey: as tracked). Orange: each tap found, "
            "a bar from its opening trough to its peak (its amplitude); red dashed: the trend of the amplitude over "
            "the taps; black: the mean amplitude of the first and of the last third of the taps (their ratio is "
            "the decrement; 1: none); green: the window measured; hatched: halts and hesitations between taps; "
            "grey bands: frames where the limb was not tracked" if row.task in MOVEMENTS else
            f"the {m.quantity}, in {m.units}, over time: the tremor is its fast oscillation")
    yield png(fig)
    yield Markdown(f"*Figure: movement of {name}, from its keypoints ({100 * kp.tracked(row.task):.0f}% of frames "
                   f"tracked): {what}.*")


@cache
def _model(path: str):
    from pdlib.models import load_model

    return load_model(path).eval()


def attention_part(row, name: str, layout, setting: str):
    """The clip as the first fold's video model sees it and where its TSA attention goes over time."""
    from pdlib.attention import attention_view, clip_attention, longest_layer, one_step_note
    from pdlib.attention_figures import filmstrip_figure
    from pdlib.boxes import clip_box
    from pdlib.data import ClipSpec, read_clip

    folds = layout.trained_folds(setting, row.task)
    if pd.isna(row.prob_1) or not folds:
        return
    if not Path(row.path).is_file():  # scores whose dataset folder was not found (moved, or named by no meta)
        yield Markdown(f"*{name}: the video file was not found at {row.path}, so its attention is not shown.*")
        return
    model = _model(str(layout.fold_model(setting, row.task, folds[0])))
    spec = ClipSpec.of_model(model)
    frames = read_clip(row.path, spec, box=clip_box(row._asdict(), spec, layout.cache_dir)[0])
    clip = clip_attention(model, frames, task=row.task, fold=folds[0], video=row.video, prob=float(row.prob_1))
    if not clip.attention:
        yield Markdown(f"*The `{setting}` models have no attention layer: no attention to show for {name}.*")
        return
    view = attention_view(clip, longest_layer(clip))
    yield png(filmstrip_figure(clip, view))
    yield Markdown(f"*Figure: where fold {folds[0]}'s video model looked in {name} ({view.layer}, the layer with the "
                   f"most time steps). Top: the {len(frames)} frames of the clip as the model sees them "
                   f"({spec.size} × {spec.size} pixels); middle: the same frames under the attention each receives "
                   f"(bright: more); bottom: the attention each frame receives (dotted: uniform). It shows what the "
                   f"model used, not what is abnormal. {one_step_note(view, len(frames))}*")


def chosen_features(task: str, train: pd.DataFrame, k: int = SHOWN_FEATURES) -> list[str]:
    """The `k` features of `task` most rank-correlated (|Spearman|) with the item score in the training rows."""
    names = [f for f in feature_names(task) if f in train and train[f].notna().sum() > 2]
    rho = {f: abs(train[f].rank().corr(train["score"].rank())) for f in names}
    return sorted(names, key=lambda f: -np.nan_to_num(rho[f]))[:k]


def features_figure(task: str, train: pd.DataFrame, patient: pd.DataFrame, features: list[str]) -> Figure:
    """Per feature, the training cohort's values per item score (boxes, points) and this patient's (a line per
    side)."""
    cols = min(3, len(features))
    rows = -(-len(features) // cols)
    fig = Figure(figsize=(3.6 * cols, 2.5 * rows + 0.7))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.55 / (2.5 * rows + 0.7), top=1 - 0.55 / (2.5 * rows + 0.7),
                        wspace=0.25, hspace=0.45)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    rng = np.random.default_rng(0)
    scores = train["score"].astype(int).to_numpy()
    for ax, feature in zip(axes, features, strict=False):
        x = train[feature].to_numpy(float)
        ax.scatter(scores + rng.uniform(-0.2, 0.2, len(x)), x, s=6, color="0.6", lw=0)
        present = np.unique(scores[np.isfinite(x)])
        q = np.array([np.nanpercentile(x[scores == c], (25, 50, 75)) for c in present])  # (scores, 3)
        ax.vlines(present, q[:, 0], q[:, 2], color="0.15", lw=5, alpha=0.35)  # the middle half
        ax.hlines(q[:, 1], present - 0.3, present + 0.3, color="0.15", lw=1.5)  # the median
        for r in patient.itertuples():
            value = getattr(r, feature)
            if pd.notna(value):
                side = {"L": "left", "R": "right"}.get(r.side, "")
                ax.axhline(value, color=SIDE_COLOURS.get(r.side, "tab:red"), lw=1.8,
                           label=f"this patient{', ' + side if side else ''}")
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.set_xticks(range(5), [str(i) for i in range(5)])
        ax.set_xlim(-0.6, 4.6)
        ax.set_title(feature_label(feature, task), fontsize=9)
        ax.tick_params(labelsize=8)
    for ax in axes[len(features):]:
        ax.set_visible(False)
    fig.supxlabel("item score given by the rater (training cohort)", fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    seen = dict(zip(labels, handles, strict=True))
    if seen:
        fig.legend(seen.values(), seen.keys(), loc="upper right", fontsize=8, frameon=False, ncol=2)
    return fig


def cohort_part(task: str, group: pd.DataFrame, cohort: pd.DataFrame):
    """The patient's kinematic features of `task` among the training cohort's, per item score, or why not."""
    if task not in TASK_CONVENTION:
        return
    train = (cohort[(cohort["task"] == task) & (cohort["note"] == "") & cohort["score"].notna()]
             if len(cohort) else cohort)
    mine = group[group["keypoints_note"] == ""]
    if not len(train) or not len(mine):
        why = ("the run's dataset has no keypoints for this item" if not len(train) else
               "; ".join(sorted(set(group["keypoints_note"]))))
        yield Markdown(f"*This patient cannot be placed among the training cohort on this item's kinematic features: "
                       f"{why}.*")
        return
    features = chosen_features(task, train)
    yield png(features_figure(task, train, mine, features))
    yield Markdown(f"*Figure: this patient's movement measures (coloured lines) among those of the "
                   f"{len(train)} training videos of this item, grouped by the item score their rater gave (points: "
                   f"videos; grey bar: the middle half; black tick: the median). Shown: the {len(features)} measures "
                   "that follow the "
                   f"item score most closely in the training cohort (of {len(feature_names(task))}).*")
