"""Tests of checkpoint loading (kenshohara, torchvision, suite files) and of save_model/load_model."""

import json

import pytest
import torch
import torchvision

from pdlib.models import build_model, load_model, load_pretrained, save_model

SMALL = {"widen": 0.25}


def randomised(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random BN statistics and affine parameters, so a mapping error changes the logits."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            for t in (m.weight, m.bias, m.running_mean):
                t.data.copy_(torch.randn(t.shape, generator=g) * 0.1 + (1 if t is m.weight else 0))
            m.running_var.data.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return model


def kenshohara_file(path, model, prefix=""):
    torch.save({"epoch": 200, "arch": "resnet-18", "optimizer": {},
                "state_dict": {prefix + k: v for k, v in model.state_dict().items()}}, path)
    return path


def assert_same(model, ref, skip=()):
    mine = model.state_dict()
    for key, value in ref.state_dict().items():
        if not key.startswith(skip):
            assert torch.equal(mine[key], value), key


def test_kenshohara_shortcut_a_400_classes_with_module_prefix(tmp_path):
    ref = randomised(build_model("r3d18", 400, shortcut="A", **SMALL))
    path = kenshohara_file(tmp_path / "resnet-18-kinetics.pth", ref, prefix="module.")
    model = load_pretrained(build_model("r3d18", 2, shortcut="A", **SMALL), path)
    assert_same(model, ref, skip=("fc.",))
    assert model.fc.weight.shape == (2, 128)
    report = model.pdlib_load_report
    assert report.source == "kenshohara" and report.reinitialised == ["fc.weight", "fc.bias"]
    assert "re-initialised fc.weight, fc.bias" in str(report)
    with pytest.raises(ValueError, match=r"missing from checkpoint: \['layer2.0.downsample.0.weight'"):
        load_pretrained(build_model("r3d18", 2, shortcut="B", **SMALL), path)


def test_kenshohara_shortcut_b_700_classes(tmp_path):
    ref = randomised(build_model("r3d18", 700, **SMALL))
    path = kenshohara_file(tmp_path / "r3d18_K_200ep.pth", ref)
    model = load_pretrained(build_model("r3d18", 700, **SMALL), path)
    assert_same(model, ref)
    assert model.pdlib_load_report.reinitialised == [] and model.pdlib_load_report.skipped == []


def test_torchvision_r3d18_gives_the_same_logits(tmp_path):
    torch.manual_seed(0)
    tv = randomised(torchvision.models.video.r3d_18(weights=None)).eval()
    path = tmp_path / "r3d_18.pth"
    torch.save(tv.state_dict(), path)
    model = load_pretrained(build_model("r3d18", 400, conv1_t_size=3, no_max_pool=True), path).eval()
    assert model.pdlib_load_report.source == "torchvision"
    clip = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(clip), tv(clip), atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="max-pool after its stem.*conv1_t_size=3, no_max_pool=True"):
        load_pretrained(build_model("r3d18", 400), path)
    with pytest.raises(ValueError, match=r"conv1.weight: checkpoint \(64, 3, 3, 7, 7\), model \(64, 3, 7,"):
        load_pretrained(build_model("r3d18", 400, no_max_pool=True), path)


def test_mismatch_lists_keys(tmp_path):
    path = kenshohara_file(tmp_path / "r18.pth", build_model("r3d18", 400, **SMALL))
    with pytest.raises(ValueError, match=r"missing from checkpoint: \['layer1.2.conv1.weight'"):
        load_pretrained(build_model("r3d34", 400, **SMALL), path)
    with pytest.raises(ValueError, match=r"layer1.0.conv1.weight: checkpoint \(16, 16, 3, 3, 3\), model"):
        load_pretrained(build_model("r3d18", 400, widen=0.5), path)
    with pytest.raises(ValueError, match=r"unexpected in checkpoint: \['layer1.1.bn1.bias'"):
        load_pretrained(build_model("r3d10", 400, **SMALL), path)


def test_tsa_loads_the_i3d_checkpoint_of_its_depth(tmp_path):
    i3d = randomised(build_model("r3d18", 400, **SMALL))
    path = kenshohara_file(tmp_path / "r18.pth", i3d)
    tsa = load_pretrained(build_model("r3d18_tsa", 2, **SMALL), path)
    report = tsa.pdlib_load_report
    assert_same(tsa, i3d, skip=("fc.", "layer3.0.conv", "layer3.1.conv", "layer4.0.conv", "layer4.1.conv"))
    sliced = tsa.layer3[0].conv1.weight  # conv branch: first C_out - d_v = 64 - 16 channels of I3D's conv1
    assert sliced.shape == (48, 32, 3, 3, 3) and torch.equal(sliced, i3d.layer3[0].conv1.weight[:48])
    assert len(report.sliced) == 8 and len(report.skipped) == 8 * 3  # qkv, proj, rel of 8 TSA convs
    assert all(".attn." in k for k in report.skipped)
    assert torch.equal(tsa.layer4[1].bn2.running_var, i3d.layer4[1].bn2.running_var)


def test_suite_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    options = {"widen": 0.25, "temporal_strides": (1, 2, 2), "attention": {"heads": 4, "replace": ["conv2"]}}
    model = randomised(build_model("r3d18_tsa", 3, **options)).eval()
    weights = save_model(model, tmp_path / "models" / "fold0")
    assert weights.name == "fold0.safetensors"
    config = json.loads((tmp_path / "models" / "fold0.json").read_text())
    assert config["name"] == "r3d18_tsa" and config["options"]["temporal_strides"] == [1, 2, 2]
    loaded = load_model(tmp_path / "models" / "fold0").eval()
    assert_same(loaded, model)
    clip = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(clip), model(clip))
    other = load_pretrained(build_model("r3d18_tsa", 5, **options), tmp_path / "models" / "fold0.safetensors")
    assert other.pdlib_load_report.source == "pdlib" and other.fc.out_features == 5
    assert_same(other, model, skip=("fc.",))
    with pytest.raises(ValueError, match="has no pdlib_config"):
        save_model(torch.nn.Linear(2, 2), tmp_path / "x")
