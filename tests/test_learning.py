"""Can the networks learn at all? The standard checks of issue 14, on small rendered SynAct clips: the input
the stem gets, the loss at initialisation, gradients reaching conv1, overfitting 32 clips, and what the
frame-difference stem (ResNet3D.frame_diff) does and does not see."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from pdlib.data import ClipDataset, to_model_input
from pdlib.data.transforms import KINETICS_MEAN, KINETICS_STD
from pdlib.models import build_model, load_model, save_model
from pdlib.synth.synact import SMOKE_ACTIONS, render_action
from pdlib.train import TrainConfig, fit, predict

# Held-out accuracy the default profile's model must reach on 32 unseen SynAct clips of six actions (chance 1/6).
# Measured 2026-12-04 with the test's recipe and seed on each CPU kernel path of the development machine (AMD EPYC;
# ATEN_CPU_CAPABILITY, torch threads): 0.75 (avx2, 2), 0.81 (avx2, 1), 0.97 (default, 2), 0.91 (default, 1). The
# spread is the kernels' rounding; a floor of 0.5 (3x chance) leaves room for it and none for a model that stopped
# learning (trained on shuffled labels, the same recipe gives 0.03).
HELD_OUT_FLOOR = 0.5


def render_clips(n: int, first_seed: int) -> ClipDataset:
    """n SynAct clips of the six smoke actions in turn (actor and motion drawn per clip from first_seed + i), 8
    frames spread over 1.2 s, 32x32: (n, 8, 32, 32, 3) uint8 and their class indices."""
    clips, labels = [], []
    for i in range(n):
        c = i % len(SMOKE_ACTIONS)
        frames = render_action(SMOKE_ACTIONS[c], seconds=1.2, width=64, height=48, seed=first_seed + i)
        x = torch.from_numpy(frames[np.linspace(0, len(frames) - 1, 8).round().astype(int), :, 8:56])  # 48x48
        x = F.interpolate(x.permute(0, 3, 1, 2).float(), size=(32, 32), mode="area")  # (8, 3, 32, 32)
        clips.append(x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1))
        labels.append(c)
    meta = pd.DataFrame({"video": [f"v{first_seed + i}" for i in range(n)]})
    return ClipDataset(torch.stack(clips), torch.tensor(labels), meta)


@pytest.fixture(scope="module")
def synact_clips() -> ClipDataset:
    """32 SynAct clips (seeds 100-131)."""
    return render_clips(32, 100)


def test_the_stem_gets_normalised_input(synact_clips):
    x = to_model_input(synact_clips.clips, train=False)  # (N, 3, T, S, S)
    assert x.shape == (32, 3, 8, 32, 32) and x.dtype == torch.float32
    per_channel = x.transpose(0, 1).flatten(1)
    assert per_channel.mean(1).abs().max() < 1.0  # Kinetics-normalised, not [0, 255] or [0, 1]
    assert ((per_channel.std(1) > 0.2) & (per_channel.std(1) < 2.0)).all()


@pytest.mark.parametrize("frame_diff", [False, True])
def test_the_initial_loss_is_near_log_c_and_gradients_reach_conv1(synact_clips, frame_diff):
    torch.manual_seed(0)
    model = build_model("r3d18", 24, widen=0.25, frame_diff=frame_diff).train()  # the loss the optimiser sees
    logits = model(to_model_input(synact_clips.clips, train=True))
    loss = F.cross_entropy(logits, torch.arange(32) % 24)
    assert abs(loss.item() - math.log(24)) < 0.3  # about 3.18: the classifier starts undecided
    loss.backward()
    conv1, fc = model.conv1.weight.grad, model.fc.weight.grad
    assert torch.isfinite(conv1).all() and conv1.norm() > 1e-3 * fc.norm() > 0


def test_a_network_overfits_32_clips(synact_clips, tmp_path):
    """The default profile's model memorises 32 clips within 240 steps (training accuracy of the eval-mode model;
    100% after 240 steps for initial weights of seeds 0-3, 97-100% at lr 2e-3 and 160 steps, measured 2026-12-04;
    seed 0: 97% after 40 steps, 100% from 60 on, 2026-12-06). Trained 10 epochs (40 steps) at a time, each call
    resuming from the engine's checkpoint (the weights of one uninterrupted run: tests/test_train.py), and checked
    after each: the first check at 95% ends the test, as 60 epochs without one fail it."""
    config = TrainConfig(batch_size=8, optimizer="adamw", lr=1e-3, weight_decay=0.0, loss_form="softmax",
                         gamma=0.0, progress=False, checkpoint_dir=tmp_path)
    torch.manual_seed(0)  # the initial weights do not depend on the tests run before
    model = build_model("r3d18", 6, widen=0.25, frame_diff=True)
    for epochs in range(10, 61, 10):
        model = fit(model, synact_clips, None, dataclasses.replace(config, epochs=epochs)).model
        accuracy = np.mean(predict(model, synact_clips, config).argmax(1) == synact_clips.labels.numpy())
        if accuracy >= 0.95:
            break
    assert accuracy >= 0.95, f"training accuracy {accuracy:.2f} after {epochs} epochs"


def test_a_network_beats_chance_on_clips_it_never_saw(synact_clips, tmp_path):
    """The signal check that replaces pinned chance-level numbers (issue 29): trained on 96 clips with the
    engine's default recipe (SGD, the class-balanced focal loss), the default profile's model classifies 32
    clips of other actors and motions far above chance (1/6) on every CPU kernel path (HELD_OUT_FLOOR) within
    8 epochs. Checked every 2 epochs, each call resuming from the engine's checkpoint (the weights of one
    uninterrupted run), the first check at the floor ends the test (seed 0: 0.22, 0.72, 0.69, 0.75 after 2, 4, 6,
    8 epochs, 2026-12-06); a model that learns nothing stays near 0.17 at every check (P(16 of 32 right by
    chance) < 1e-4)."""
    train = render_clips(96, 1000)
    config = TrainConfig(batch_size=8, lr=0.01, progress=False, checkpoint_dir=tmp_path)
    torch.manual_seed(0)
    model = build_model("r3d18", 6, widen=0.25, frame_diff=True)
    for epochs in (2, 4, 6, 8):
        model = fit(model, train, None, dataclasses.replace(config, epochs=epochs)).model
        accuracy = np.mean(predict(model, synact_clips, config).argmax(1) == synact_clips.labels.numpy())
        if accuracy >= HELD_OUT_FLOOR:
            break
    assert accuracy >= HELD_OUT_FLOOR, f"held-out accuracy {accuracy:.2f} after {epochs} epochs (chance 0.17)"


def test_frame_diff_ignores_what_does_not_move(synact_clips):
    """A still picture added to every frame changes an RGB model's output, not a frame-difference one's."""
    x = to_model_input(synact_clips.clips[:4], train=False)
    still = torch.randn(4, 3, 1, 32, 32)
    outputs = {}
    for frame_diff in (False, True):
        torch.manual_seed(0)
        model = build_model("r3d18", 6, widen=0.25, frame_diff=frame_diff).eval()
        with torch.no_grad():
            outputs[frame_diff] = (model(x), model(x + still))
    assert torch.allclose(*outputs[True], atol=1e-5)
    assert not torch.allclose(*outputs[False], atol=1e-3)


def test_frame_diff_is_saved_with_the_model(tmp_path, synact_clips):
    model = build_model("r3d18", 6, widen=0.25, frame_diff=True).eval()
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m").eval()
    assert loaded.frame_diff and loaded.pdlib_config["options"] == {"widen": 0.25, "frame_diff": True}
    x = to_model_input(synact_clips.clips[:2], train=False)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_time_crop_takes_a_random_window_of_consecutive_frames_in_training_only():
    """Temporal jittering (TrainConfig.time_crop): every training clip is T' consecutive frames of its clip, the
    windows differ between clips and are drawn from torch's RNG; evaluation sees every frame."""
    n, t = 64, 12
    frame_ids = torch.arange(t, dtype=torch.uint8).view(1, t, 1, 1, 1).expand(n, t, 4, 4, 3).contiguous()
    torch.manual_seed(0)
    x = to_model_input(frame_ids, train=True, crop_scale=(1.0, 1.0), time_crop=5)  # (N, 3, 5, 4, 4)
    assert x.shape == (n, 3, 5, 4, 4)
    ids = torch.round((x[:, 0, :, 0, 0] * KINETICS_STD[0] + KINETICS_MEAN[0]) * 255).long()  # undo the normalisation
    starts = ids[:, 0]
    assert (ids == starts[:, None] + torch.arange(5)).all()  # consecutive frames
    assert starts.min() == 0 and starts.max() == t - 5 and len(starts.unique()) == t - 4  # every start drawn
    torch.manual_seed(0)
    assert torch.equal(to_model_input(frame_ids, train=True, crop_scale=(1.0, 1.0), time_crop=5), x)
    assert to_model_input(frame_ids, train=False, time_crop=5).shape == (n, 3, t, 4, 4)
    assert to_model_input(frame_ids, train=True, time_crop=t).shape == (n, 3, t, 4, 4)  # nothing to crop
