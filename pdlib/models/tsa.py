"""Temporal relative self-attention (TSA, Sec. III-B): attention over time at every spatial position, with 1D
relative position logits, in the attention-augmented convolution form of Bello et al. 2019.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from pdlib.models.resnet3d import BasicBlock, Bottleneck, Triple, conv3x3x3


class TemporalRelativeAttention(nn.Module):
    """Multi-head self-attention over T, independently at each of the H*W positions (Eq. 3-6).

    Eq. (6) is softmax((QK^T + S_rel) / sqrt(d_k^h)) V: the paper scales the relative logits S_rel together
    with QK^T, which equals Bello et al.'s form (they scale q before computing both).
    S_rel[i, j] = q_i . r_{j-i}, one learned embedding r per offset in [-(t_max-1), t_max-1] shared by the
    heads; longer offsets are clamped (Shaw et al. 2018). A strided block attends on the strided positions (a
    strided 1x1x1 projection), so its output has the size of the strided 3x3x3 convolution it sits beside.
    """

    def __init__(self, in_channels: int, dk: int, dv: int, heads: int, t_max: int = 32,
                 stride: Triple = (1, 1, 1)):
        super().__init__()
        if dk % heads or dv % heads:
            raise ValueError(f"TemporalRelativeAttention: d_k={dk} and d_v={dv} must be multiples of "
                             f"heads={heads}")
        self.dk, self.dv, self.heads, self.t_max, self.stride = dk, dv, heads, t_max, tuple(stride)
        self.qkv = nn.Linear(in_channels, 2 * dk + dv, bias=False)  # W_q, W_k, W_v of Eq. (3), all heads
        self.proj = nn.Linear(dv, dv, bias=False)  # W^O of Eq. (5)
        dkh = dk // heads
        self.rel = nn.Parameter(torch.randn(2 * t_max - 1, dkh) * dkh**-0.5)  # r_{-(t_max-1)} .. r_{t_max-1}
        self.record = False  # set by attention_weights(): also keep the explicit softmax in `self.weights`
        self.weights: torch.Tensor | None = None

    def relative_logits(self, q: torch.Tensor) -> torch.Tensor:
        """S_rel of Eq. (6): (B, heads, T, d_k^h) queries -> (B, heads, T, T), S_rel[i, j] = q_i . r_{j-i}."""
        t = q.shape[-2]
        pos = torch.arange(t, device=q.device)
        offset = (pos[None, :] - pos[:, None]).clamp(1 - self.t_max, self.t_max - 1)  # (T, T): j - i
        offset = offset + self.t_max - 1  # row of r
        return torch.einsum("bhid,ijd->bhij", q, self.rel[offset].to(q.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, T, H, W) -> (N, d_v, T', H', W'), (T', H', W') the strided convolution's output size."""
        st, sh, sw = self.stride
        channels_last = x.is_contiguous(memory_format=torch.channels_last_3d) and not x.is_contiguous()
        x = x[:, :, ::st, ::sh, ::sw]  # (N, C_in, T', H', W'); followed by qkv: a strided 1x1x1 projection
        n, _, t, h, w = x.shape
        seq = x.permute(0, 3, 4, 2, 1).reshape(n * h * w, t, -1)  # (B=N*H*W, T, C_in): one per position
        q, k, v = self.qkv(seq).split([self.dk, self.dk, self.dv], dim=-1)
        q, k, v = (z.unflatten(-1, (self.heads, -1)).transpose(1, 2) for z in (q, k, v))  # (B, heads, T, d^h)
        # SDPA computes softmax(QK^T / sqrt(d_k^h) + mask) V, so mask = S_rel / sqrt(d_k^h) gives Eq. (6).
        mask = self.relative_logits(q) / math.sqrt(q.shape[-1])  # (B, heads, T, T)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, heads, T, d_v^h)
        if self.record:
            probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + mask, dim=-1)
            self.weights = probs.unflatten(0, (n, h, w)).permute(0, 3, 1, 2, 4, 5)  # (N, heads, H, W, T, T)
        out = self.proj(out.transpose(1, 2).flatten(2))  # Eq. (4)-(5): heads concatenated, (B, T, d_v)
        out = out.unflatten(0, (n, h, w))  # (N, H, W, T, d_v)
        if channels_last:
            # Laid out as the convolution beside it (N, T, H, W, C in memory), so their concatenation and the
            # layers after it stay channels-last instead of falling back to NCDHW copies (GPU training).
            return out.permute(0, 3, 1, 2, 4).contiguous().permute(0, 4, 1, 2, 3)  # (N, d_v, T, H, W)
        return out.permute(0, 4, 3, 1, 2)  # (N, d_v, T, H, W)


def _channels(fraction: float, out_planes: int, heads: int, what: str) -> int:
    """`fraction` of `out_planes` rounded to a multiple of `heads` (at least one channel per head)."""
    c = heads * max(1, round(fraction * out_planes / heads))
    if c > out_planes or (fraction >= 1 and c != out_planes):  # pure attention needs all C_out channels
        raise ValueError(f"TSA: {what}={fraction} of {out_planes} channels with {heads} heads gives {c} "
                         f"channels, not <= {out_planes} (exactly {out_planes} for 1.0); "
                         "change heads or the fraction")
    return c


class AttentionAugmentedConv3d(nn.Module):
    """Replaces a 3x3x3 convolution: a convolution with C_out - d_v channels concatenated with d_v channels of
    temporal relative self-attention (Bello et al. 2019); `value_fraction=1.0` is pure attention (no conv).

    The convolution's weight is named `weight`, like the nn.Conv3d it replaces, so an I3D checkpoint's
    `...convX.weight` loads into it: pdlib.models.pretrained copies its first C_out - d_v output channels.
    The study does not report d_k, d_v or N_h; the defaults (C_out/4 each, 8 heads) are this suite's choice.
    """

    def __init__(self, in_planes: int, out_planes: int, stride: Triple = (1, 1, 1), *, heads: int = 8,
                 key_fraction: float = 0.25, value_fraction: float = 0.25, t_max: int = 32):
        super().__init__()
        dv = _channels(value_fraction, out_planes, heads, "value_fraction")
        dk = _channels(key_fraction, out_planes, heads, "key_fraction")
        self.stride = tuple(stride)
        if dv < out_planes:
            self.weight = nn.Parameter(torch.empty(out_planes - dv, in_planes, 3, 3, 3))
            nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")
        else:
            self.register_parameter("weight", None)
        self.attn = TemporalRelativeAttention(in_planes, dk, dv, heads, t_max, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, T, H, W) -> (N, C_out, T', H', W')
        a = self.attn(x)  # (N, d_v, T', H', W')
        if self.weight is None:
            return a
        return torch.cat([F.conv3d(x, self.weight, stride=self.stride, padding=1), a], dim=1)


def _tsa_conv(name: str, in_planes: int, out_planes: int, stride: Triple, *, replace: tuple[str, ...],
              **attention) -> nn.Module:
    if name in replace:
        return AttentionAugmentedConv3d(in_planes, out_planes, stride, **attention)
    return conv3x3x3(name, in_planes, out_planes, stride)


def _check_replace(block: str, replace: Sequence[str], allowed: set[str]) -> tuple[str, ...]:
    if not replace or set(replace) - allowed:
        raise ValueError(f"{block}: replace must name some of {sorted(allowed)}, got {list(replace)}")
    return tuple(replace)


class TSABasicBlock(BasicBlock):
    """BasicBlock whose 3x3x3 convolutions named in `replace` become TSA (Sec. III-B.4; default both)."""

    def __init__(self, in_planes: int, planes: int, stride: Triple = (1, 1, 1),
                 downsample: nn.Module | None = None, *, replace: Sequence[str] = ("conv1", "conv2"),
                 **attention):
        replace = _check_replace("TSABasicBlock", replace, {"conv1", "conv2"})
        conv = partial(_tsa_conv, replace=replace, **attention)
        super().__init__(in_planes, planes, stride, downsample, conv=conv)


class TSABottleneck(Bottleneck):
    """Bottleneck whose 3x3x3 convolution (`conv2`, its only one) becomes TSA."""

    def __init__(self, in_planes: int, planes: int, stride: Triple = (1, 1, 1),
                 downsample: nn.Module | None = None, *, replace: Sequence[str] = ("conv2",), **attention):
        replace = _check_replace("TSABottleneck", replace, {"conv2"})
        conv = partial(_tsa_conv, replace=replace, **attention)
        super().__init__(in_planes, planes, stride, downsample, conv=conv)


def attention_weights(model: nn.Module, clip: torch.Tensor) -> dict[str, torch.Tensor]:
    """Attention probabilities softmax((QK^T + S_rel)/sqrt(d_k^h)) of Eq. (6) of every TSA layer for `clip`,
    keyed by module name, each (N, heads, H', W', T', T'). Runs in eval mode without gradients; the model's
    output is the same as without recording (the probabilities are computed beside the fused attention).
    """
    model = getattr(model, "_orig_mod", model)  # a torch.compile wrapper would prefix the names and recompile
    layers = {name: m for name, m in model.named_modules() if isinstance(m, TemporalRelativeAttention)}
    if not layers:
        raise ValueError(f"attention_weights: {type(model).__name__} has no TSA layer (build an *_tsa model)")
    was_training = model.training
    model.eval()
    try:
        for m in layers.values():
            m.record = True
        with torch.no_grad():
            model(clip)
        return {name: m.weights for name, m in layers.items()}
    finally:
        for m in layers.values():
            m.record, m.weights = False, None
        model.train(was_training)
