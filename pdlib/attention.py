"""The TSA attention of one clip (Sec. III-B) as data: per-layer attention, the view of one (layer, head,
position) choice, the task weights of the assembling heads (Sec. III-C), and their descriptions in words.

Maths and data only (numpy, torch): no widgets, no figures. `pdlib.attention_figures` draws these views;
`pdlib.widgets` (the attention explorer) and notebook 06 use both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from pdlib.data.spec import clip_views


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

