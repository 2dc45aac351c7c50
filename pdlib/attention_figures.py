"""Figures of the TSA attention and task weights (matplotlib `Figure`s, no pyplot, no widgets): the attention
matrix, the filmstrip of where and when attention goes, the task weights of the assembling heads, and the box a
clip was cut from.

Drawn by the attention explorer (`pdlib.widgets`) and notebook 06, from `pdlib.attention`'s views.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from pdlib.attention import AttentionView, ClipAttention, TaskWeights, describe

# Frames drawn in the filmstrip; a longer clip shows evenly spaced frames (the curve keeps every frame).
MAX_FILMSTRIP = 16


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
    if len(view.received) == 1:  # a flat curve is not a finding: say why it is flat
        curve.text(0.5, 0.5, f"{view.layer.split('.')[0]} has one time step here: its attention cannot vary over "
                   "time\n(every frame gets the same weight; a layer with more steps shows when attention goes)",
                   transform=curve.transAxes, ha="center", va="center", fontsize=8,
                   bbox={"facecolor": "white", "edgecolor": "tab:grey", "boxstyle": "round"})
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


def crop_figure(frame: np.ndarray, box: tuple | None, note: str, title: str) -> Figure:
    """A video's frame with the box its clip was cut from (`ExplorerState.crop`): what the model saw of the
    picture; without a box, the whole frame and the note saying why."""
    height, width = frame.shape[:2]
    fig = Figure(figsize=(3.6, 3.6 * height / width + 0.5))
    ax = fig.add_subplot()
    ax.imshow(frame)
    if box is not None:
        x0, y0, x1, y1 = box
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="cyan", linewidth=2))
    ax.set_axis_off()
    ax.set_title(title if box is not None else f"{title}\n{note}", fontsize=8)
    fig.tight_layout()
    return fig
