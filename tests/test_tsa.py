"""Tests of temporal relative self-attention (Sec. III-B, Eq. 3-6) and of attention_weights."""

import math

import pytest
import torch
from torch import nn

from pdlib.models import (
    AttentionAugmentedConv3d,
    TemporalRelativeAttention,
    TSABasicBlock,
    attention_weights,
    build_model,
)


def naive_attention(m: TemporalRelativeAttention, x: torch.Tensor) -> torch.Tensor:
    """Eq. (3)-(6) written out with loops over the relative offsets: (N, C, T, H, W) -> (N, d_v, T, H, W)."""
    n, c, t, h, w = x.shape
    seq = x.permute(0, 3, 4, 2, 1).reshape(n * h * w, t, c)
    q, k, v = m.qkv(seq).split([m.dk, m.dk, m.dv], dim=-1)
    dkh, dvh = m.dk // m.heads, m.dv // m.heads
    outs = []
    for head in range(m.heads):
        qh, kh = q[..., head * dkh:(head + 1) * dkh], k[..., head * dkh:(head + 1) * dkh]
        vh = v[..., head * dvh:(head + 1) * dvh]
        s_rel = torch.empty(n * h * w, t, t, dtype=x.dtype)
        for i in range(t):
            for j in range(t):
                r = m.rel[min(max(j - i, 1 - m.t_max), m.t_max - 1) + m.t_max - 1]
                s_rel[:, i, j] = qh[:, i] @ r  # S_rel[i, j] = q_i . r_{j-i}
        outs.append(torch.softmax((qh @ kh.transpose(1, 2) + s_rel) / math.sqrt(dkh), dim=-1) @ vh)  # Eq. (6)
    out = m.proj(torch.cat(outs, dim=-1))  # Eq. (4)-(5)
    return out.reshape(n, h, w, t, m.dv).permute(0, 4, 3, 1, 2)


def test_sdpa_equals_equation_6():
    torch.manual_seed(0)
    m = TemporalRelativeAttention(in_channels=12, dk=8, dv=6, heads=2, t_max=4)  # T=6 > t_max: offsets clamp
    x = torch.randn(2, 12, 6, 3, 2)
    assert torch.allclose(m(x), naive_attention(m, x), atol=1e-5, rtol=0)


def test_relative_logits_definition():
    torch.manual_seed(0)
    m = TemporalRelativeAttention(in_channels=4, dk=4, dv=4, heads=1, t_max=5)
    q = torch.randn(3, 1, 5, 4)
    s_rel = m.relative_logits(q)
    for i in range(5):
        for j in range(5):
            assert torch.allclose(s_rel[:, 0, i, j], q[:, 0, i] @ m.rel[j - i + 4], atol=1e-6)


@pytest.mark.parametrize("value_fraction", [0.25, 1.0])
def test_augmented_conv_shapes(value_fraction):
    conv = AttentionAugmentedConv3d(8, 16, (2, 2, 2), heads=2, value_fraction=value_fraction)
    ref = nn.Conv3d(8, 16, 3, stride=2, padding=1)
    x = torch.randn(2, 8, 5, 7, 6)  # odd sizes: the attention branch must match the strided conv's output
    assert conv(x).shape == ref(x).shape == (2, 16, 3, 4, 3)
    assert conv.attn.dv == 16 * value_fraction
    assert (conv.weight is None) == (value_fraction == 1.0)


def test_replace_option_and_errors():
    block = TSABasicBlock(8, 8, replace=["conv2"], heads=2)
    assert type(block.conv1) is nn.Conv3d and isinstance(block.conv2, AttentionAugmentedConv3d)
    with pytest.raises(ValueError, match=r"replace must name some of \['conv1', 'conv2'\]"):
        TSABasicBlock(8, 8, replace=["conv3"])
    with pytest.raises(ValueError, match="gives 24 channels, not <= 20"):
        AttentionAugmentedConv3d(8, 20, heads=12, value_fraction=0.9)
    with pytest.raises(ValueError, match=r"gives 15 channels, not <= 16 \(exactly 16 for 1.0\)"):
        AttentionAugmentedConv3d(8, 16, heads=3, value_fraction=1.0)
    r50 = build_model("r3d50_tsa", 2, widen=0.125)
    assert isinstance(r50.layer3[0].conv2, AttentionAugmentedConv3d)
    assert type(r50.layer3[0].conv1) is nn.Conv3d


def test_attention_weights():
    torch.manual_seed(0)
    model = build_model("r3d18_tsa", 2, widen=0.25, temporal_strides=(1, 1, 1), attention={"heads": 4})
    model.train()
    clip = torch.randn(2, 3, 16, 32, 32)  # layer3: T=8, 2x2; layer4: T=8, 1x1
    model.eval()
    with torch.no_grad():
        before = model(clip)
    model.train()
    weights = attention_weights(model, clip)
    assert model.training
    model.eval()
    with torch.no_grad():
        after = model(clip)
    assert torch.equal(before, after)
    assert sorted(weights) == [f"layer{s}.{b}.conv{c}.attn" for s in (3, 4) for b in (0, 1) for c in (1, 2)]
    assert weights["layer3.0.conv1.attn"].shape == (2, 4, 2, 2, 8, 8)
    assert weights["layer4.1.conv2.attn"].shape == (2, 4, 1, 1, 8, 8)
    for w in weights.values():
        assert torch.allclose(w.sum(-1), torch.ones(()), atol=1e-5) and (w >= 0).all()
    with pytest.raises(ValueError, match="has no TSA layer"):
        attention_weights(build_model("r3d10", 2, widen=0.125), clip)


def test_channels_last_input_gives_channels_last_output_with_the_same_values():
    """The GPU engine feeds channels_last_3d clips: a TSA block must keep that layout (an NCDHW output would make
    every later layer convert it) and compute the same numbers as on contiguous input."""
    torch.manual_seed(0)
    conv = AttentionAugmentedConv3d(16, 32, (1, 2, 2), heads=4).eval()
    x = torch.randn(2, 16, 4, 6, 6)
    with torch.no_grad():
        plain = conv(x)
        last = conv.to(memory_format=torch.channels_last_3d)(x.contiguous(memory_format=torch.channels_last_3d))
    assert last.is_contiguous(memory_format=torch.channels_last_3d) and plain.is_contiguous()
    assert torch.allclose(plain, last, atol=1e-5)
    model = build_model("r3d18_tsa", 2, widen=0.25).eval().to(memory_format=torch.channels_last_3d)
    clip = torch.randn(2, 3, 32, 64, 64).contiguous(memory_format=torch.channels_last_3d)  # T' = 4, 2 there
    layouts = {}
    for name in ("layer3", "layer4"):  # the TSA layers
        getattr(model, name).register_forward_hook(
            lambda m, i, o, name=name: layouts.update({name: o.is_contiguous(memory_format=torch.channels_last_3d)}))
    with torch.no_grad():
        model(clip)
    assert layouts == {"layer3": True, "layer4": True}
