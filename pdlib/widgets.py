"""Attention explorer: the TSA attention of trained task models (Sec. III-B) and task weights (Sec. III-C).

`ExplorerState` finds a profile's trained models, reads clips and computes attention, without widgets (it is
tested in Python); `AttentionExplorer` wires ipywidgets 8 controls to matplotlib views rendered as PNG images,
which work alike in JupyterLab and in a Voilà page. `build_explorer` is the notebook's one call.
"""

from __future__ import annotations

import html
import io
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import ipywidgets as widgets
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from pdlib.data.spec import clip_views
from pdlib.layout import ClipSpec, Layout
from pdlib.tasks import ITEMS, PREDICTION_COLUMNS, TASK_CLASSES, TASKS

# Named in every "nothing to show" message: the notebook that writes what the explorer reads.
TRAIN_HINT = ("Run notebooks/02_task_level.ipynb first with a TSA setting (a `*_tsa` model, e.g. the "
              "`tsa_synact` setting) for this profile: it writes the fold models, predictions and features.")
# Frames drawn in the filmstrip; a longer clip shows evenly spaced frames (the curve keeps every frame).
MAX_FILMSTRIP = 16
# The assembling heads whose task weights are shown (Table I): per examination, and global; notebook 04's.
WEIGHT_METHODS = ("pixel_attention", "vector_weighting")
HEADS = "assembling"  # the examination-level experiment whose saved heads are shown (notebook 04)


class ExplorerError(Exception):
    """Outputs the explorer needs are missing or inconsistent; the message says what, where, and what to run."""


@dataclass(frozen=True)
class ClipAttention:
    """One video through the model of one fold: its frames, recorded prediction and every TSA layer's attention."""

    task: str
    fold: int
    video: str
    patient: str
    exam: str
    side: str
    label: int
    prob: float  # recorded out-of-fold probability of class 1 (severe)
    pred: int
    frames: np.ndarray  # (T, S, S, 3) uint8
    attention: dict[str, np.ndarray]  # TSA module -> (heads, H', W', T', T'); rows: queries, softmax over keys


@dataclass(frozen=True)
class AttentionView:
    """What the explorer draws for one (layer, head, position) choice on one clip."""

    layer: str
    head: int | None  # None: mean over heads
    position: tuple[int, int] | None  # (h, w) on the H' x W' grid; None: mean over positions
    matrix: np.ndarray  # (T', T') attention of query step (row) to key step (column)
    received: np.ndarray  # (T',) attention each step receives: the column mean of `matrix`
    spatial: np.ndarray  # (T', H', W') attention each step receives at every position
    frame_step: np.ndarray  # (T,) the attention step each frame falls in
    frame_maps: np.ndarray  # (T, S, S) `spatial` upsampled onto each frame


@dataclass(frozen=True)
class TaskWeights:
    """Task weights of the assembling heads of one fold for one examination (Eq. 8, Eq. 12-13)."""

    exam: str
    fold: int
    tasks: tuple[str, ...]
    present: np.ndarray  # (M,) bool: the examination has features of the task
    pixel: np.ndarray  # (T', H', W', M) pixel-wise attention weights α_{t,h,w,m} of this examination
    vector: np.ndarray  # (M,) global α_m of vector weighting
    source: str  # how the heads were obtained


def attention_matrix(att: np.ndarray, head: int | None, position: tuple[int, int] | None) -> np.ndarray:
    """The (T', T') temporal attention (Eq. 6) of one head (None: mean of heads) at one position (None: mean).

    `att` is one clip's (heads, H', W', T', T') softmax attention of a TSA block.
    """
    heads, h_dim, w_dim = att.shape[:3]
    a = att.mean(axis=0) if head is None else att[_checked(head, heads, "head")]
    if position is None:
        return a.mean(axis=(0, 1))
    h, w = position
    return a[_checked(h, h_dim, "row h"), _checked(w, w_dim, "column w")]


def received_attention(att: np.ndarray, head: int | None) -> np.ndarray:
    """(T', H', W'): at every position, the attention each key step receives, averaged over the query steps."""
    a = att.mean(axis=0) if head is None else att[_checked(head, att.shape[0], "head")]
    return a.mean(axis=-2).transpose(2, 0, 1)


def frame_steps(n_frames: int, n_steps: int) -> np.ndarray:
    """(T,) the attention step, of T' evenly strided steps, that each of T frames falls in."""
    return np.arange(n_frames) * n_steps // n_frames


def upsample_maps(spatial: np.ndarray, steps: np.ndarray, size: int) -> np.ndarray:
    """(T, S, S): each frame's (H', W') map of its step, bilinearly upsampled to the frame size."""
    maps = torch.from_numpy(np.ascontiguousarray(spatial[steps], dtype=np.float32))[:, None]  # (T, 1, H', W')
    return F.interpolate(maps, size=(size, size), mode="bilinear", align_corners=False)[:, 0].numpy()


def clip_attention(model: torch.nn.Module, frames: np.ndarray, **about) -> ClipAttention:
    """`frames` (T, S, S, 3) uint8 through a TSA `model`: its attention in every TSA layer. `about`: the other
    fields of ClipAttention (task, fold, video, patient, exam, side, label, prob, pred; a new video that no
    one rated has label -1)."""
    from pdlib.data import to_model_input
    from pdlib.models import attention_weights
    from pdlib.train import all_views

    views = clip_views(model)  # K > 1: each window is scored on its own, as in training and `train.infer`
    clip = all_views(torch.from_numpy(np.ascontiguousarray(frames))[None], views)  # (K, T/K, S, S, 3)
    att = attention_weights(model, to_model_input(clip, train=False))  # each (K, heads, H', W', t, t)
    if views > 1:  # its attention: one block per window, none across two
        att = {name: _block_diagonal(list(a))[None] for name, a in att.items()}
    fields = {"task": "", "fold": 0, "video": "", "patient": "", "exam": "", "side": "", "label": -1,
              "prob": float("nan"), "pred": -1} | about
    return ClipAttention(**fields, frames=frames, attention={name: a[0].float().numpy() for name, a in att.items()})


def _block_diagonal(blocks: list[torch.Tensor]) -> torch.Tensor:
    """(..., t, t) blocks -> (..., K t, K t) with the blocks on the diagonal and zeros elsewhere."""
    t = blocks[0].shape[-1]
    out = blocks[0].new_zeros((*blocks[0].shape[:-2], t * len(blocks), t * len(blocks)))
    for k, block in enumerate(blocks):
        out[..., k * t:(k + 1) * t, k * t:(k + 1) * t] = block
    return out


def attention_view(clip: ClipAttention, layer: str, head: int | None = None,
                   position: tuple[int, int] | None = None) -> AttentionView:
    """Attention matrix, received-attention curve and per-frame maps of one TSA layer of a clip."""
    if layer not in clip.attention:
        raise ExplorerError(f"{layer!r} is not a TSA layer of this model; layers: {', '.join(clip.attention)}")
    att = clip.attention[layer]
    matrix = attention_matrix(att, head, position)
    spatial = received_attention(att, head)
    steps = frame_steps(len(clip.frames), att.shape[-1])
    return AttentionView(layer, head, position, matrix, matrix.mean(axis=0), spatial, steps,
                         upsample_maps(spatial, steps, clip.frames.shape[1]))


def longest_layer(clip: ClipAttention) -> str:
    """The TSA layer with the most time steps (the most to see over time)."""
    return max(clip.attention, key=lambda name: clip.attention[name].shape[-1])


def _checked(index: int, size: int, name: str) -> int:
    if not 0 <= index < size:
        raise ValueError(f"{name} = {index} is out of range: expected 0..{size - 1}")
    return index


class ExplorerState:
    """The data behind the explorer: models, clips and predictions of one profile and setting, read lazily.

    Reads what the notebooks write under `<root>/<profile>/` (root: `outputs/` or $PDLIB_OUTPUTS; paths by
    `pdlib.layout.Layout`): notebook 02's fold models, predictions, features, folds and clip cache, and
    notebook 04's assembling heads. The clips are the cached ones the models were trained on: their clip spec
    is read from each model's saved config. Attention is computed once per (task, fold, video).
    """

    def __init__(self, profile: str, setting: str = "tsa_synact", root: str | Path | None = None,
                 dataset: str | Path = ""):
        self.profile, self.setting = profile, setting
        self.layout = Layout(profile, dataset, outputs=root)
        self.base = self.layout.base
        self._models: dict[tuple[str, int], torch.nn.Module] = {}
        self._clips: dict[tuple[str, int, str], ClipAttention] = {}
        self._predictions: dict[str, pd.DataFrame] = {}
        self._cached: dict[ClipSpec, dict[str, tuple[str, str]]] = {}
        self._heads: dict[str, dict] = {}
        self._scorers: dict[str, object] = {}  # task -> scoring.TaskModels, loaded once
        self._assembling = None

    @property
    def model_dir(self) -> Path:
        """The setting's models: one unit folder per task holding fold<k>.json/.safetensors."""
        return self.layout.setting_models(self.setting)

    @property
    def tasks(self) -> list[str]:
        """Tasks with at least one fold model, in the study's order (other tasks after them)."""
        found = self.layout.trained_tasks(self.setting)
        return sorted(found, key=lambda t: (TASKS.index(t) if t in TASKS else len(TASKS), t))

    def check(self) -> None:
        """Raises ExplorerError, naming what is missing and where, when there is nothing to explore."""
        from pdlib.models import TemporalRelativeAttention

        if not self.tasks:
            raise ExplorerError(f"No trained models of setting '{self.setting}' for profile '{self.profile}': "
                                f"{self.model_dir} holds no <task>/fold<k>.safetensors. {TRAIN_HINT}")
        for task in self.tasks:
            if not self.folds(task):
                raise ExplorerError(f"Task '{task}' has no fold with both a model in {self.model_dir / task} "
                                    f"and predictions. {TRAIN_HINT}")
        task = self.tasks[0]
        model = self.model(task, self.folds(task)[0])
        if not any(isinstance(m, TemporalRelativeAttention) for m in model.modules()):
            raise ExplorerError(f"The models of setting '{self.setting}' ({model.pdlib_config['name']}) have no "
                                f"TSA layer, so no temporal attention to show. {TRAIN_HINT}")

    def predictions(self, task: str) -> pd.DataFrame:
        """The task's out-of-fold predictions (video, patient, exam, task, side, label, fold, prob, pred)."""
        if task not in self._predictions:
            path = self.layout.predictions(self.setting, task)
            if not path.is_file():
                raise ExplorerError(f"Models of task '{task}' exist but not their predictions {path}. {TRAIN_HINT}")
            df = pd.read_csv(path, dtype={"video": str, "patient": str, "exam": str, "side": str})
            missing = sorted(set(PREDICTION_COLUMNS) - set(df.columns))
            if missing:
                raise ExplorerError(f"{path}: expected columns {', '.join(PREDICTION_COLUMNS)}; missing {missing}")
            self._predictions[task] = df.fillna({"side": ""})
        return self._predictions[task]

    def folds(self, task: str) -> list[int]:
        """Folds of `task` with both a model and out-of-fold predictions."""
        saved = set(self.layout.trained_folds(self.setting, task))
        predicted = self.predictions(task).dropna(subset=["prob"])["fold"].astype(int)
        return sorted(saved & set(predicted))

    def videos(self, task: str, fold: int) -> pd.DataFrame:
        """The predicted test videos of `fold` (its model never saw their patients), by examination and side."""
        df = self.predictions(task)
        df = df[(df["fold"] == fold) & df["prob"].notna()]
        return df.sort_values(["exam", "side", "video"]).reset_index(drop=True)

    def model(self, task: str, fold: int) -> torch.nn.Module:
        """The fold's task model in eval mode (loaded once)."""
        from pdlib.models import load_model

        if (task, fold) not in self._models:
            path = self.layout.fold_model(self.setting, task, fold)
            if not self.layout.saved(path):
                raise ExplorerError(f"No model for task '{task}', fold {fold}: expected {path}.safetensors. "
                                    f"{TRAIN_HINT}")
            self._models[task, fold] = load_model(path).eval()
        return self._models[task, fold]

    def clip(self, task: str, fold: int, video: str) -> ClipAttention:
        """The video's frames, recorded prediction and attention under the fold's model (cached)."""

        if (task, fold, video) in self._clips:
            return self._clips[task, fold, video]
        rows = self.videos(task, fold)
        rows = rows[rows["video"] == video]
        if rows.empty:
            raise ExplorerError(f"Video {video!r} is not a predicted test video of task '{task}', fold {fold} "
                                f"in {self.layout.predictions(self.setting, task)}")
        row = rows.iloc[0]
        frames = self._cached_clip(ClipSpec.of_model(self.model(task, fold)), video)  # (T, S, S, 3) uint8
        result = clip_attention(self.model(task, fold), frames, task=task, fold=fold, video=video,
                                patient=str(row["patient"]), exam=str(row["exam"]), side=str(row["side"]),
                                label=int(row["label"]), prob=float(row["prob"]), pred=int(row["pred"]))
        self._clips[task, fold, video] = result
        return result

    def view(self, task: str, fold: int, video: str, layer: str, head: int | None,
             position: tuple[int, int] | None) -> AttentionView:
        """Attention matrix, received-attention curve and per-frame maps for one choice of the controls."""
        return attention_view(self.clip(task, fold, video), layer, head, position)

    def task_weights(self, fold: int, exam: str) -> TaskWeights:
        """`exam`'s weights under fold `fold`'s pixel-wise attention head, and that fold's vector weights: the
        heads notebook 04 fitted and saved (repeat 0), on the features it read."""
        from pdlib.models.heads import task_weights

        data = self._assembling_data()
        fd = next((f for f in data.folds if f.fold == fold), None)
        if fd is None or exam not in set(fd.exam):
            raise ExplorerError(f"Examination {exam} has no features in fold {fold} of notebook 04's "
                                f"features. {TRAIN_HINT}")
        heads = {m: self._saved_heads(m) for m in WEIGHT_METHODS}
        if any((fold, 0) not in h for h in heads.values()):
            raise ExplorerError(f"Notebook 04 saved no heads of fold {fold} (its tasks were masked on one side)")
        i = int(np.flatnonzero(fd.exam == exam)[0])
        x, mask = torch.from_numpy(fd.layer4[i:i + 1]), torch.from_numpy(fd.mask[i:i + 1])
        recipe = self.layout.recipe(self.layout.heads(HEADS))
        return TaskWeights(exam, fold, data.tasks, fd.mask[i],
                           task_weights(heads["pixel_attention"][fold, 0], x, mask)[0].numpy(),
                           task_weights(heads["vector_weighting"][fold, 0], x, mask).numpy(),
                           f"notebook 04 fitted on the training examinations of fold {fold} (repeat 0 of "
                           f"{recipe['repeats']}, {recipe['head']['epochs']} epochs), saved in "
                           f"{self.layout.heads(HEADS)}")

    def _saved_heads(self, method: str) -> dict:
        from pdlib.exam_level import load_heads

        if method not in self._heads:
            try:
                self._heads[method] = load_heads(self.layout.head_file(HEADS, method))[0]
            except FileNotFoundError as err:
                raise ExplorerError(str(err)) from None
        return self._heads[method]

    def score(self, path: str, task: str, coverage: float = 0.9) -> tuple[pd.Series, ClipAttention]:
        """A new video scored as `pdlib score` does (the task's fold models as an ensemble, the conformal call),
        and its attention under the first fold's model. Mistakes come back as an ExplorerError in words."""
        from pdlib.data import read_clip
        from pdlib.scoring import ScoreError, TaskModels, score_videos

        path = str(path).strip()
        if not path:
            raise ExplorerError("Give the path of a video file to score.")
        try:
            if task not in self._scorers:
                self._scorers[task] = TaskModels.load(self.layout, self.setting, task)
            models = self._scorers[task]
            row = score_videos(pd.DataFrame({"path": [path]}), models, coverage, progress=False).iloc[0]
        except ScoreError as err:
            raise ExplorerError(str(err)) from None
        if row["call"] == "":
            raise ExplorerError(f"{path} cannot be scored: {row['note'].removeprefix('unusable video: ')}")
        fold = min(models.models)
        frames = read_clip(path, models.spec.frames, models.spec.size, window=models.spec.window)
        clip = clip_attention(models.models[fold], frames, task=task, fold=fold, video=Path(path).name,
                              prob=float(row["prob_1"]), pred=int(row["pred"]))
        return row, clip

    def _cached_clip(self, spec: ClipSpec, video: str) -> np.ndarray:
        """The video's clip from the clip cache the models were trained on (decoded now only if missing)."""
        from pdlib.data import preprocess

        if spec not in self._cached:
            status = preprocess(self.layout.dataset_root, spec, self.layout.cache_dir, progress=False)
            self._cached[spec] = dict(zip(status["video"], zip(status["cache"], status["reason"], strict=True),
                                          strict=True))
        if video not in self._cached[spec]:
            raise ExplorerError(f"Video {video!r} is not in {self.layout.dataset_root}: is it the dataset the "
                                f"models of '{self.setting}' were trained on?")
        cache, reason = self._cached[spec][video]
        if not cache:
            raise ExplorerError(f"Video {video!r} cannot be used: {reason}")
        return np.load(cache)

    def _assembling_data(self):
        """Examination features and classes as notebook 04 read them (its heads' recipe), loaded once."""
        from pdlib.exam_level import ExamExperiment

        if self._assembling is None:
            try:
                recipe = self.layout.recipe(self.layout.heads(HEADS))
                self._assembling = ExamExperiment(self.layout, recipe["features"], recipe["scheme"],
                                                  recipe["slight_vs_severe"]).data
            except FileNotFoundError as err:
                raise ExplorerError(f"{err}. Run notebooks/04_assembling.ipynb first.") from None
        return self._assembling


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def describe(view: AttentionView) -> str:
    """The choice a view shows, in words: layer, head, position."""
    head = "mean of heads" if view.head is None else f"head {view.head}"
    where = "mean over positions" if view.position is None else f"position h={view.position[0]}, w={view.position[1]}"
    return f"{view.layer} · {head} · {where}"


def one_step_note(view: AttentionView, n_frames: int) -> str:
    """Why a layer's attention is trivial, in words ('' when it is not): one time step leaves nothing to compare."""
    if len(view.matrix) > 1:
        return ""
    return (f"{view.layer} has one time step: the network's temporal strides pool all {n_frames} frames of the "
            f"clip into it, so its attention matrix is 1 × 1 (the step attends only to itself, weight 1) and "
            f"every frame receives the same attention. Earlier layers keep more steps (with 16 frames layer3 has "
            f"2, with 32 frames 4); a model trained on more frames (the `frames` parameter) shows attention over "
            f"time.")


def matrix_figure(view: AttentionView, n_frames: int) -> Figure:
    """Heatmap of the T' x T' attention matrix: row = query step, column = key step."""
    fig = Figure(figsize=(4.6, 4.0))
    ax = fig.add_subplot()
    im = ax.imshow(view.matrix, cmap="viridis", vmin=0.0, vmax=max(float(view.matrix.max()), 1e-6))
    ax.set_xlabel(f"key step (1 step = {n_frames / len(view.matrix):g} frames)")
    ax.set_ylabel("query step")
    ax.set_title(describe(view), fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="attention (softmax weight)")
    if len(view.matrix) == 1:
        ax.text(0, 0, "one time step:\nnothing to compare", ha="center", va="center", color="white", fontsize=9)
    return fig


def filmstrip_figure(clip: ClipAttention, view: AttentionView) -> Figure:
    """Frames (chosen position boxed), frames under their attention-received map, and the received curve.

    The three rows share the horizontal axis: the curve's points sit under the frames they belong to.
    """
    n_frames, size = clip.frames.shape[:2]
    shown = np.unique(np.linspace(0, n_frames - 1, min(n_frames, MAX_FILMSTRIP)).round().astype(int))
    n = len(shown)
    frames = clip.frames[shown] / 255.0  # (n, S, S, 3)
    heat = colormaps["inferno"](view.frame_maps[shown] / max(float(view.frame_maps.max()), 1e-6))[..., :3]
    strip, overlay = (np.concatenate(list(a), axis=1) for a in (frames, 0.45 * frames + 0.55 * heat))  # (S, nS, 3)
    fig = Figure(figsize=(min(0.9 * n + 1.5, 16), 4.2))
    top, mid, curve = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": (1, 1, 1.2), "hspace": 0.08})
    for ax, image, title in ((top, strip, "frames"), (mid, overlay, "attention\nreceived")):
        ax.imshow(image, extent=(0, n * size, size, 0), aspect="auto", interpolation="nearest")
        ax.set_yticks([])
        ax.set_ylabel(title, fontsize=8)
    if view.position is not None:
        h_dim, w_dim = view.spatial.shape[1:]
        ch, cw = size / h_dim, size / w_dim
        for col in range(n):
            top.add_patch(Rectangle((col * size + view.position[1] * cw, view.position[0] * ch), cw, ch,
                                    fill=False, edgecolor="cyan", linewidth=1.2))
    centres = (np.arange(n) + 0.5) * size
    x = (np.interp(np.arange(n_frames), shown, np.arange(n)) + 0.5) * size  # every frame, in strip coordinates
    curve.plot(x, view.received[view.frame_step], drawstyle="steps-mid", color="tab:red")
    curve.plot(centres, view.received[view.frame_step[shown]], "o", color="tab:red", markersize=3)
    curve.axhline(1.0 / len(view.received), color="grey", linestyle=":", linewidth=1, label="uniform")
    curve.set_xlim(0, n * size)
    curve.set_xticks(centres, [str(t) for t in shown], fontsize=7)
    curve.set_xlabel("frame")
    curve.set_ylabel("attention\nreceived", fontsize=8)
    curve.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"When and where attention goes: {describe(view)}", fontsize=9)
    return fig


def weights_figure(weights: TaskWeights) -> Figure:
    """One examination's pixel-wise attention weights (Eq. 12-13) beside the global vector weights (Eq. 8).

    Left: per task, the pixel-wise weight averaged over the feature points (whiskers: lowest and highest
    point) and vector weighting's α_m; right: the pixel-wise weights per time step, averaged over positions.
    """
    m = len(weights.tasks)
    points = weights.pixel.reshape(-1, m)  # (T'H'W', M)
    mean, x = points.mean(axis=0), np.arange(m)
    names = [t if p else f"{t}\n(missing)" for t, p in zip(weights.tasks, weights.present, strict=True)]
    fig = Figure(figsize=(10, 3.4))
    bars, over_time = fig.subplots(1, 2, gridspec_kw={"width_ratios": (1.4, 1)})
    bars.bar(x - 0.2, mean, 0.4, yerr=[mean - points.min(axis=0), points.max(axis=0) - mean], capsize=3,
             color="#4c72b0", label=f"pixel-wise attention, examination {weights.exam}")
    bars.bar(x + 0.2, weights.vector, 0.4, color="#dd8452", label="vector weighting (every examination)")
    bars.axhline(1.0 / m, color="grey", linestyle=":", linewidth=1, label=f"uniform 1/{m}")
    bars.set_xticks(x, names, fontsize=8)
    bars.set_ylabel("task weight α")
    bars.legend(fontsize=7)
    im = over_time.imshow(weights.pixel.mean(axis=(1, 2)).T, aspect="auto", cmap="viridis", vmin=0.0)  # (M, T')
    over_time.set_yticks(x, weights.tasks, fontsize=8)
    over_time.set_xticks(np.arange(weights.pixel.shape[0]))
    over_time.set_xlabel("time step t' of layer4")
    over_time.set_title("pixel-wise weights over time", fontsize=9)
    fig.colorbar(im, ax=over_time, fraction=0.046, pad=0.04)
    fig.suptitle(f"Task weights of fold {weights.fold}'s assembling heads", fontsize=10)
    return fig


class AttentionExplorer:
    """The ipywidgets 8 app over an ExplorerState: controls on the left, views of the chosen clip on the right.

    `widget` is the root to display. Controls: task, fold, video (the fold's test videos, labelled by
    examination and side), TSA layer, head (or their mean), position (h, w) on the layer's grid (or the mean);
    a button adds the task weights of the video's examination.
    """

    def __init__(self, state: ExplorerState):
        self.state = state
        self._quiet = 0
        self._weights_on = False
        style, wide = {"description_width": "90px"}, widgets.Layout(width="330px")
        self.task = widgets.Dropdown(description="Task", options=state.tasks, style=style, layout=wide)
        self.fold = widgets.Dropdown(description="Fold", style=style, layout=wide)
        self.video = widgets.Dropdown(description="Video", style=style, layout=wide)
        self.layer = widgets.Dropdown(description="TSA layer", style=style, layout=wide)
        self.head = widgets.Dropdown(description="Head", style=style, layout=wide)
        self.average = widgets.Checkbox(value=True, description="Average over positions", indent=False)
        self.row = widgets.IntSlider(description="Row (h)", style=style, layout=wide, disabled=True)
        self.col = widgets.IntSlider(description="Column (w)", style=style, layout=wide, disabled=True)
        self.status, self.info = widgets.HTML(), widgets.HTML()
        self.matrix, self.filmstrip = widgets.Image(format="png"), widgets.Image(format="png")
        self.weights_button = widgets.Button(description="Show task weights", icon="balance-scale")
        self.weights_note = widgets.HTML("The task weights of this examination under the pixel-wise attention head, "
                                         "and the global weights of vector weighting (Sec. III-C).")
        self.weights_image = widgets.Image(format="png")
        for control, name in ((self.head, "head"), (self.matrix, "attention-matrix"), (self.filmstrip, "filmstrip")):
            control.add_class(f"pdlib-{name}")
        controls = widgets.VBox([widgets.HTML("<b>Choose a clip</b>"), self.task, self.fold, self.video,
                                 widgets.HTML("<b>Choose the attention</b>"), self.layer, self.head, self.average,
                                 self.row, self.col, self.status], layout=widgets.Layout(width="350px"))
        weights = widgets.Accordion([widgets.VBox([self.weights_button, self.weights_note, self.weights_image])],
                                    titles=("Task weights for assembling the examination",))
        explore = widgets.VBox([widgets.HBox([controls, widgets.VBox([self.info, self.matrix])]),
                                self.filmstrip, weights])
        self.score_path = widgets.Text(description="Video", placeholder="/path/to/a/new/video.mp4", style=style,
                                       layout=widgets.Layout(width="560px"))
        self.score_task = widgets.Dropdown(description="Task", options=state.tasks, style=style, layout=wide)
        self.score_button = widgets.Button(description="Score", icon="play")
        self.score_result, self.score_filmstrip = widgets.HTML(), widgets.Image(format="png")
        self.score_signal, self.score_signal_note = widgets.Image(format="png"), widgets.HTML()
        self.score_signal.layout.display = "none"  # shown only when the scored video has keypoints
        for control, name in ((self.score_path, "score-path"), (self.score_button, "score-button"),
                              (self.score_result, "score-result")):
            control.add_class(f"pdlib-{name}")
        score = widgets.VBox([widgets.HTML("Score a video of your own with this setting's fold models (as "
                                           "<code>pdlib score</code> does): the ensemble's probability, the call "
                                           "or <i>abstain</i> at 90% coverage, and where in time the first fold's "
                                           "model looks. Research outputs, not a diagnosis."),
                              self.score_path, widgets.HBox([self.score_task, self.score_button]),
                              self.score_result, self.score_filmstrip, self.score_signal_note, self.score_signal])
        self.widget = widgets.Tab([explore, score], titles=("Explore test videos", "Score a video"))
        self.widget.add_class("pdlib-explorer")
        self.task.observe(self._on_task, "value")
        self.fold.observe(self._on_fold, "value")
        self.video.observe(self._on_video, "value")
        self.layer.observe(self._on_layer, "value")
        for control in (self.head, self.average, self.row, self.col):
            control.observe(self._on_view, "value")
        self.weights_button.on_click(self._on_weights)
        self.score_button.on_click(self._on_score)
        self._on_task()

    def current_clip(self) -> ClipAttention:
        """The clip the controls select."""
        return self.state.clip(self.task.value, self.fold.value, self.video.value)

    def current_view(self) -> AttentionView:
        """The attention view the controls select."""
        head = None if self.head.value == -1 else self.head.value
        position = None if self.average.value else (self.row.value, self.col.value)
        return self.state.view(self.task.value, self.fold.value, self.video.value, self.layer.value, head,
                               position)

    @contextmanager
    def _silent(self):
        """Changes controls without firing the observers (the caller refreshes what depends on them)."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def _set_options(self, control: widgets.Dropdown, options: list) -> None:
        """New options; keeps the current value when it is still one of them, else takes the first."""
        with self._silent():
            keep = control.value
            control.options = options
            values = [o[1] if isinstance(o, tuple) else o for o in options]
            control.value = keep if keep in values else values[0]

    def _report(self, message: str, error: bool = False) -> None:
        self.status.value = f"<span style='color:{'#b00020' if error else '#555'}'>{message}</span>"

    def _on_task(self, change=None) -> None:
        if not self._quiet:
            self._set_options(self.fold, self.state.folds(self.task.value))
            self._on_fold()

    def _on_fold(self, change=None) -> None:
        if not self._quiet:
            rows = self.state.videos(self.task.value, self.fold.value)
            self._set_options(self.video, [(f"{r.exam} · {r.side or '-'} · {Path(r.video).name}", r.video)
                                           for r in rows.itertuples()])
            self._on_video()

    def _on_video(self, change=None) -> None:
        if self._quiet:
            return
        self._report("Computing attention…")
        try:
            clip = self.current_clip()
        except ExplorerError as err:
            self._report(str(err), error=True)
            self.matrix.value = self.filmstrip.value = b""
            return
        self.info.value = self._info_html(clip)
        self._set_options(self.layer, list(clip.attention))
        self._on_layer()
        if self._weights_on:
            self._show_weights()

    def _on_layer(self, change=None) -> None:
        if self._quiet:
            return
        heads, h_dim, w_dim = self.current_clip().attention[self.layer.value].shape[:3]
        self._set_options(self.head, [("mean of heads", -1)] + [(f"head {i}", i) for i in range(heads)])
        with self._silent():
            self.row.max, self.col.max = h_dim - 1, w_dim - 1
        self._on_view()

    def _on_view(self, change=None) -> None:
        if self._quiet:
            return
        self.row.disabled = self.col.disabled = self.average.value
        clip, view = self.current_clip(), self.current_view()
        self.matrix.value = _png(matrix_figure(view, len(clip.frames)))
        self.filmstrip.value = _png(filmstrip_figure(clip, view))
        self._report(f"Showing {describe(view)}. {one_step_note(view, len(clip.frames))}".strip())

    def _on_weights(self, button=None) -> None:
        self._weights_on = True
        self._show_weights()

    def _show_weights(self) -> None:
        clip = self.current_clip()
        self.weights_note.value = f"Loading the assembling heads notebook 04 saved for fold {clip.fold}…"
        try:
            weights = self.state.task_weights(clip.fold, clip.exam)
        except ExplorerError as err:
            self.weights_note.value = f"<span style='color:#b00020'>{err}</span>"
            self.weights_image.value = b""
            return
        self.weights_image.value = _png(weights_figure(weights))
        self.weights_note.value = f"Examination {weights.exam}; heads {weights.source}."

    def _on_score(self, button=None) -> None:
        self.score_result.value = "Scoring…"
        try:
            row, clip = self.state.score(self.score_path.value, self.score_task.value)
        except ExplorerError as err:
            self.score_result.value = f"<span style='color:#b00020'>{err}</span>"
            self.score_filmstrip.value = b""
            return
        call = "abstain: both classes stay possible at 90% coverage" if row["call"] == "abstain" else row["call"]
        self.score_result.value = (f"<b>{ITEMS.get(clip.task, clip.task)}</b>, {clip.video}<br>"
                                   f"P(severe) = <b>{row['prob_1']:.2f}</b> (mean of the fold models, spread "
                                   f"{row['spread']:.2f}); call: <b>{call}</b>")
        self.score_filmstrip.value = (_png(filmstrip_figure(clip, attention_view(clip, longest_layer(clip))))
                                      if clip.attention else b"")
        self._show_signal(self.score_path.value, clip.task)

    def _show_signal(self, path: str, task: str) -> None:
        """The scored video's kinematic signal (`plots.kinematics_signal`) when it has keypoints (beside it, or
        `pdlib track`'s in the run's cache), else a line saying how to get them."""
        from pdlib.kinematics import KinematicsError
        from pdlib.landmarks import load_keypoints
        from pdlib.plots import kinematics_signal
        from pdlib.tracking import keypoint_files

        file = keypoint_files(pd.DataFrame({"path": [path], "task": [task]}), self.state.layout.cache_dir)[0]
        self.score_signal.value, self.score_signal.layout.display = b"", "none"
        if file is None:
            self.score_signal_note.value = ("No keypoints for this video: <code>pdlib track</code> its dataset "
                                            "to see its movement.")
            return
        try:
            figure = kinematics_signal(load_keypoints(file, task, ""), task)
        except KinematicsError as err:
            self.score_signal_note.value = f"Its movement cannot be drawn: {html.escape(str(err))}"
            return
        self.score_signal_note.value = "The movement, from its keypoints:"
        self.score_signal.value, self.score_signal.layout.display = _png(figure), ""

    @staticmethod
    def _info_html(clip: ClipAttention) -> str:
        verdict = "correct" if clip.pred == clip.label else "wrong"
        side = f", side {clip.side}" if clip.side else ""
        return (f"<b>{ITEMS.get(clip.task, clip.task)}</b>, examination {clip.exam}{side}, patient {clip.patient}"
                f"<br>Label: <b>{TASK_CLASSES[clip.label]}</b><br>"
                f"Model of fold {clip.fold} (never trained on this patient): <b>{TASK_CLASSES[clip.pred]}</b>, "
                f"probability of severe {clip.prob:.2f} ({verdict})")


def url_parameters(**defaults: str) -> dict[str, str]:
    """The notebook's parameters, each replaced by the same-named key of a Voilà page's URL query, if given.

    Voilà hands the kernel the page's query string ($QUERY_STRING), so
    `http://localhost:8866/?profile=default&setting=i3d_synact` opens the explorer on another profile without
    editing the notebook; keys the notebook does not declare are ignored. Outside Voilà: the defaults.
    """
    query = parse_qs(os.environ.get("QUERY_STRING", ""))
    return {key: query[key][-1] if key in query else value for key, value in defaults.items()}


def build_explorer(profile: str, setting: str = "tsa_synact", root: str | Path | None = None,
                   dataset: str = "") -> widgets.Widget:
    """The attention explorer of `<root>/<profile>` for one model setting (notebooks/attention_explorer).

    root: the outputs folder (default `outputs/`, or $PDLIB_OUTPUTS); dataset: the dataset folder the models
    were trained on (empty: the profile's SynPD); the clips' shape and sampling come from the models' saved
    config. Returns the app's root widget, or a
    message widget that names the notebook to run when there are no trained TSA models.
    """
    state = ExplorerState(profile, setting, root, dataset)
    try:
        state.check()
    except ExplorerError as err:
        message = widgets.HTML(f"<div style='padding:1em;border:1px solid #d99;background:#fff4f4'>"
                               f"<b>Nothing to explore yet.</b><br>{err}</div>")
        message.add_class("pdlib-explorer-message")
        return message
    return AttentionExplorer(state).widget
