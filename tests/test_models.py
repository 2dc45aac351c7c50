"""Tests of the 3D ResNets (I3D) and the model registry: every registered model trains at small size."""

import pytest
import torch

from pdlib.models import BasicBlock, Bottleneck, ResNet3D, build_model, build_resnet3d, list_models

DEEP = {"r3d101", "r3d152", "r3d200"}


def small_options(name: str) -> dict:
    return {"widen": 0.125 if name in DEEP else 0.25}


@pytest.mark.parametrize("name", list_models())
def test_forward_backward(name):
    torch.manual_seed(0)
    model = build_model(name, num_classes=3, **small_options(name))
    clip = torch.randn(2, 3, 16 if "tsa" in name else 8, 32, 32)  # (N, C, T, H, W)
    feats = model.forward_features(clip)
    logits = model.forward_head(feats["avgpool"])
    logits.square().sum().backward()
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()
    assert feats["layer4"].shape[:2] == (2, model.num_features) and feats["layer4"].ndim == 5
    assert feats["avgpool"].shape == (2, model.num_features)
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert no_grad == []
    assert model.pdlib_config == {"name": name, "num_classes": 3, "options": small_options(name)}


def _stage_t(model: ResNet3D, clip: torch.Tensor) -> list[int]:
    sizes = []
    hooks = [getattr(model, f"layer{i}").register_forward_hook(lambda m, i, o: sizes.append(o.shape[2]))
             for i in range(1, 5)]
    model(clip)
    for h in hooks:
        h.remove()
    return sizes


def test_temporal_resolution_per_stage():
    clip = torch.randn(1, 3, 32, 32, 32)
    assert _stage_t(build_model("r3d10", 2, widen=0.125), clip) == [16, 8, 4, 2]
    tv_like = build_model("r3d10", 2, widen=0.125, conv1_t_size=3, no_max_pool=True)
    assert _stage_t(tv_like, clip) == [32, 16, 8, 4]
    assert _stage_t(build_model("r3d10", 2, widen=0.125, temporal_strides=(1, 1, 2)), clip) == [16, 16, 16, 8]


def test_widths_and_stem_options():
    model = build_model("r3d18", 2, widen=0.25, conv1_t_size=5, conv1_t_stride=2, dropout=0.3)
    assert [getattr(model, f"layer{i}")[0].conv1.out_channels for i in range(1, 5)] == [16, 32, 64, 128]
    assert model.conv1.kernel_size == (5, 7, 7) and model.conv1.stride == (2, 2, 2)
    assert model.dropout.p == 0.3 and model.fc.in_features == 128
    assert build_model("r3d50", 2, widen=0.25).fc.in_features == 512


def test_frame_differences_stop_at_the_edges_of_a_clips_windows(tmp_path):
    """ClipSpec "windows<K>": the stem's frame differences within each window, none across two windows (a jump
    in time, not motion); the saved model keeps it."""
    from pdlib.data import ClipSpec
    from pdlib.models import load_model, save_model

    torch.manual_seed(0)
    model = build_model("r3d18_tsa", 2, clip=ClipSpec(16, 32, "windows4"), widen=0.25, frame_diff=True).eval()
    assert model.window_frames == 4
    steps = torch.arange(4.0).repeat_interleave(4).view(1, 1, 16, 1, 1).expand(1, 3, 16, 32, 32)  # still windows
    with torch.no_grad():
        assert torch.equal(model(steps), model(torch.zeros(1, 3, 16, 32, 32)))  # the jumps between them: unseen
        moving = steps + torch.arange(16.0).view(1, 1, 16, 1, 1) * 0.1
        assert not torch.equal(model(moving), model(torch.zeros(1, 3, 16, 32, 32)))  # motion inside: seen
        plain = build_model("r3d18_tsa", 2, clip=ClipSpec(16, 32, "middle"), widen=0.25, frame_diff=True).eval()
        plain.load_state_dict(model.state_dict())
        assert plain.window_frames == 0 and not torch.equal(plain(steps), plain(torch.zeros(1, 3, 16, 32, 32)))
        save_model(model, tmp_path / "m.safetensors")
        assert load_model(tmp_path / "m.safetensors").eval().window_frames == 4


def test_shortcut_a_is_parameter_free():
    a = build_model("r3d18", 2, widen=0.25, shortcut="A")
    b = build_model("r3d18", 2, widen=0.25, shortcut="B")
    keys_a, keys_b = set(a.state_dict()), set(b.state_dict())
    assert keys_a < keys_b
    assert {k.split(".downsample")[0] for k in keys_b - keys_a} == {"layer2.0", "layer3.0", "layer4.0"}
    x = torch.randn(2, 16, 4, 8, 8)
    out = a.layer2[0].downsample(x)  # (2, 32, 2, 4, 4): strided identity, zero channels appended
    assert out.shape == (2, 32, 2, 4, 4)
    assert torch.equal(out[:, :16], x[:, :, ::2, ::2, ::2]) and not out[:, 16:].any()
    assert a(torch.randn(2, 3, 8, 32, 32)).shape == (2, 2)


def test_unknown_model_lists_choices():
    with pytest.raises(ValueError, match=r"did you mean 'r3d34'.*choices: r3d10, r3d101"):
        build_model("r3d43", 2)


def test_block_factory_must_match_depth():
    with pytest.raises(ValueError, match="layer1 block Bottleneck has expansion 4; ResNet-34 needs 1"):
        build_resnet3d(34, 2, stage_blocks=(Bottleneck, BasicBlock, BasicBlock, BasicBlock), widen=0.125)
    with pytest.raises(ValueError, match="depth must be one of"):
        build_resnet3d(20, 2)
