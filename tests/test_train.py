"""Tests of pdlib.train: determinism, resume, divergence guard, patient-disjoint cross-validation."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from pdlib.data import ClipDataset
from pdlib.folds import LeakError
from pdlib.layout import Layout
from pdlib.models import build_model
from pdlib.task_level import cross_validate
from pdlib.train import TrainConfig, TrainingDiverged, _check_pending, configure_backends, fit, predict


class TinyNet(nn.Module):
    """A 3D conv, BN and linear head: enough to exercise the engine quickly."""

    def __init__(self, k=2):
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm3d(4)
        self.fc = nn.Linear(4, k)
        self.pdlib_config = {"name": "tiny", "num_classes": k, "options": {}}

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3, 4)))


def make_clips(n_patients=10, per_patient=4, seed=0, frames=4, size=8):
    """Videos whose brightness carries the label, so a model can learn it."""
    rng = np.random.default_rng(seed)
    rows, clips = [], []
    for p in range(n_patients):
        for v in range(per_patient):
            label = (p + v) % 2
            base = 60 + 120 * label
            clips.append(rng.integers(base - 50, base + 50, (frames, size, size, 3)))
            rows.append({"video": f"p{p}_v{v}.mp4", "patient": f"p{p}", "exam": f"p{p}_e{v // 2}",
                         "task": "finger", "side": "LR"[v % 2], "score": 3 * label, "label": label})
    meta = pd.DataFrame(rows)
    return ClipDataset(torch.as_tensor(np.stack(clips), dtype=torch.uint8), torch.tensor(meta["label"]), meta)


def config(**kw):
    return TrainConfig(**{"epochs": 2, "batch_size": 5, "lr": 0.05, "progress": False, **kw})


def test_fit_history_and_probabilities():
    ds = make_clips()
    train, val = ds.subset(np.arange(32)), ds.subset(np.arange(32, 40))
    res = fit(TinyNet(), train, val, config(epochs=3))
    assert list(res.history["epoch"]) == [1, 2, 3]
    assert {"loss", "time_s", "val_acc", "val_mcc"} <= set(res.history.columns)
    assert np.isfinite(res.history["loss"]).all()
    prob = predict(res.model, val, config())
    assert prob.shape == (8, 2) and prob.dtype == np.float32
    np.testing.assert_allclose(prob.sum(1), 1, rtol=1e-5)


class FrameCounter(nn.Module):
    """Logits (T, mean brightness) of its input: shows how many frames, and which, the engine gave it."""

    def __init__(self, clip):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.seen = []
        self.pdlib_config = {"name": "counter", "num_classes": 2, "options": {}, "clip": clip.as_dict()}

    def forward(self, x):  # (N, 3, T, S, S)
        self.seen.append(x.shape[2])
        return torch.stack([torch.full((len(x),), float(x.shape[2])), x.mean(dim=(1, 2, 3, 4))], 1) + self.w


def test_views_train_on_one_window_and_average_the_windows_in_evaluation():
    """ClipSpec views: fit gives the model one aligned window of each clip (T/K frames), inference every window
    and the mean of their K outputs; without views the model sees the whole clip."""
    from pdlib.data import ClipSpec
    from pdlib.train import all_views, infer, mean_of_views, one_view

    x = torch.arange(8).view(1, 8, 1, 1, 1).expand(50, 8, 2, 2, 3)  # frame t holds the value t
    picked = one_view(x, 4)[:, :, 0, 0, 0]
    assert picked.shape == (50, 2) and {tuple(r) for r in picked.tolist()} == {(0, 1), (2, 3), (4, 5), (6, 7)}
    assert torch.equal(all_views(x, 4)[:4, :, 0, 0, 0], torch.tensor([[0, 1], [2, 3], [4, 5], [6, 7]]))
    assert torch.equal(mean_of_views(torch.arange(8.0).view(8, 1), 4), torch.tensor([[1.5], [5.5]]))
    ds = make_clips(n_patients=4, per_patient=2, frames=8)
    views = FrameCounter(ClipSpec(8, 8, "windows4", views=True))
    fit(views, ds, None, config(epochs=1, batch_size=4))
    assert set(views.seen) == {2}
    views.seen, views.w.data[:] = [], 0.0
    logits = torch.cat(list(infer(views, ds, config())))
    assert set(views.seen) == {2} and logits.shape == (8, 2) and (logits[:, 0] == 2).all()  # N K windows in
    whole = FrameCounter(ClipSpec(8, 8, "windows4"))
    expected = torch.cat(list(infer(whole, ds, config())))  # one mean over all 8 frames = the windows' mean
    assert (expected[:, 0] == 8).all() and torch.allclose(logits[:, 1], expected[:, 1], atol=1e-5)
    assert ClipSpec(8, 8, "windows4", views=True).tag == ClipSpec(8, 8, "windows4").tag  # the same decoded clips
    with pytest.raises(ValueError, match="views need a clip of windows"):
        ClipSpec(8, 8, "middle", views=True)


def test_same_seed_same_predictions():
    ds = make_clips()
    probs = []
    for _ in range(2):
        torch.manual_seed(123)  # same initial weights
        probs.append(predict(fit(TinyNet(), ds, None, config(flip=True)).model, ds, config()))
    assert np.array_equal(probs[0], probs[1])


def test_resume_matches_uninterrupted_run(tmp_path):
    ds = make_clips(n_patients=5, frames=8, size=32)
    torch.manual_seed(1)
    init = build_model("r3d10", 2, widen=0.125).state_dict()

    def fresh():
        net = build_model("r3d10", 2, widen=0.125)
        net.load_state_dict(init)
        return net

    full = fit(fresh(), ds, None, config(epochs=3, flip=True)).model
    fit(fresh(), ds, None, config(epochs=1, flip=True, checkpoint_dir=tmp_path))  # "killed" after epoch 1
    resumed = fit(fresh(), ds, None, config(epochs=3, flip=True, checkpoint_dir=tmp_path))
    assert list(resumed.history["epoch"]) == [1, 2, 3]
    a, b = full.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="settings differ"):
        fit(fresh(), ds, None, config(epochs=4, lr=0.1, checkpoint_dir=tmp_path))


def test_nan_loss_raises_training_diverged():
    net = TinyNet()
    with torch.no_grad():
        net.fc.weight.fill_(float("inf"))
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 1: loss = (nan|inf).*lr.*clip_grad"):
        fit(net, make_clips(), None, config())


def test_a_deferred_loss_check_names_the_first_diverged_step():
    """On CUDA the losses are read every SYNC_STEPS steps (its CPU twin: the same check on a batch of steps)."""
    class Bar:
        def set_postfix(self, **kw):
            self.postfix = kw

    one = torch.tensor(1.0)
    pending = [(0, one, one), (1, torch.tensor(0.5), one), (2, one, torch.tensor(float("nan"))), (3, one, one)]
    with pytest.raises(TrainingDiverged, match=r"epoch 3, step 3: loss = 1.0, gradient norm = nan"):
        _check_pending(pending, 2, TrainConfig(), Bar())
    bar = Bar()
    assert _check_pending(pending[:2], 0, TrainConfig(), bar) == [1.0, 0.5] and bar.postfix == {"loss": "0.5000"}


def test_cuda_autotunes_unless_deterministic_and_cpu_is_always_deterministic():
    """The CUDA branch of configure_backends, run here on CPU (its flags are plain settings), and the CPU one;
    on CPU `deterministic` changes nothing: the same weights either way."""
    saved = (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic,
             torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    try:
        configure_backends(torch.device("cuda"), deterministic=False)
        assert torch.backends.cudnn.benchmark and not torch.backends.cudnn.deterministic
        assert not torch.are_deterministic_algorithms_enabled()
        configure_backends(torch.device("cuda"), deterministic=True)
        assert not torch.backends.cudnn.benchmark and torch.backends.cudnn.deterministic
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.is_deterministic_algorithms_warn_only_enabled()
        configure_backends(torch.device("cpu"), deterministic=False)
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[:2]
        torch.use_deterministic_algorithms(saved[2], warn_only=saved[3])
    weights = []
    for deterministic in (False, True):
        torch.manual_seed(0)
        model = fit(TinyNet(), make_clips(), None, config(deterministic=deterministic)).model
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_checkpoints_after_the_first_and_last_epoch_and_every_checkpoint_every_s(tmp_path, monkeypatch):
    """A GPU epoch is shorter than writing a ResNet-34 checkpoint: last.pt is written after the first epoch (a run
    killed later resumes from there), the last, and once checkpoint_every_s have passed (0: every epoch)."""
    import pdlib.train

    saved = []
    save = pdlib.train._save_checkpoint
    monkeypatch.setattr(pdlib.train, "_save_checkpoint", lambda path, state: saved.append(state["epoch"]) or
                        save(path, state))
    fit(TinyNet(), make_clips(), None, config(epochs=4, checkpoint_dir=tmp_path / "a", checkpoint_every_s=3600))
    assert saved == [1, 4]
    saved.clear()
    fit(TinyNet(), make_clips(), None, config(epochs=4, checkpoint_dir=tmp_path / "b", checkpoint_every_s=0))
    assert saved == [1, 2, 3, 4]
    saved.clear()
    fit(TinyNet(), make_clips(), None, config(epochs=6, checkpoint_dir=tmp_path / "a", checkpoint_every_s=3600))
    assert saved == [5, 6]  # resumed after epoch 4: its first epoch is checkpointed again


def test_a_last_batch_of_one_clip_is_dropped_not_fatal():
    """9 clips in batches of 4: a last batch of one clip would reach batch norm after ResNet3D's last pooling
    with one value per channel ("Expected more than 1 value per channel when training")."""
    ds = make_clips(n_patients=3, per_patient=3, frames=8, size=32)
    torch.manual_seed(0)
    result = fit(build_model("r3d18", 2, widen=0.25), ds, None, config(batch_size=4))
    assert len(result.history) == 2 and np.isfinite(result.history["loss"]).all()


def test_fit_refuses_leaky_validation():
    ds = make_clips()
    with pytest.raises(LeakError, match="p7"):
        fit(TinyNet(), ds.subset(np.arange(0, 32)), ds.subset(np.arange(28, 40)), config())


class Memoriser(TinyNet):
    """Predicts class 1 exactly for clips it was trained on (clip brightness = video id)."""

    def __init__(self):
        super().__init__()
        self.seen: set[float] = set()

    def forward(self, x):
        key = [round(float(v), 3) for v in x[:, 0].mean(dim=(1, 2, 3))]
        if self.training:
            self.seen.update(key)
        hit = torch.tensor([k in self.seen for k in key], dtype=torch.float32)
        return super().forward(x) * 0 + torch.stack([1 - hit, hit], 1) * 20


def test_cross_validate_out_of_fold(tmp_path):
    ds = make_clips()
    ids = torch.arange(len(ds), dtype=torch.uint8)[:, None, None, None, None] + 10
    ds.clips = ids.expand_as(ds.clips).contiguous()  # constant clips: brightness identifies the video
    folds = pd.Series(np.arange(10) % 5, index=[f"p{p}" for p in range(10)])
    built = []

    def model_fn():
        built.append(Memoriser())
        return built[-1]

    layout = Layout("t", outputs=tmp_path)
    preds = cross_validate(ds, folds, model_fn, config(epochs=1), layout, "tiny", "finger")
    assert len(built) == 5 and len(preds) == len(ds)
    assert (preds["pred"] == 0).all()  # no video was seen by the model that predicted it
    assert all(len(m.seen) == 32 for m in built)  # ...although each model memorised its 32 training videos
    assert (preds["fold"] == preds["patient"].map(folds)).all()
    saved = pd.read_csv(layout.predictions("tiny", "finger"))
    first = ["video", "patient", "exam", "task", "side", "label", "fold", "prob", "pred"]
    assert list(saved.columns[:9]) == first
    assert all(Path(f"{layout.fold_model('tiny', 'finger', k)}.safetensors").is_file() for k in range(5))
    assert not list(layout.task_unit("tiny", "finger").glob("fold*_checkpoint/last.pt"))  # checkpoints gone once done
    history = pd.read_csv(layout.fold_history("tiny", "finger", 3))
    assert list(history["epoch"]) == [1] and history.loc[0, "val_recall"] == 0  # fold 3: all "unseen"
    again = cross_validate(ds, folds, model_fn, config(epochs=1), layout, "tiny", "finger")
    assert len(built) == 5  # nothing retrained
    assert sorted(again["video"]) == sorted(preds["video"])


def test_cross_validate_skips_single_class_fold_loudly(tmp_path):
    ds = make_clips()
    folds = pd.Series(np.arange(10) % 5, index=[f"p{p}" for p in range(10)])
    labels = np.where(ds.meta["patient"].map(folds) == 0, ds.labels.numpy(), 0)
    ds = ClipDataset(ds.clips, torch.tensor(labels), ds.meta.assign(label=labels))
    # fold 0 holds every positive video: folds 1-4 train on both classes, fold 0 on class 0 only
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        preds = cross_validate(ds, folds, TinyNet, config(epochs=1), Layout("t", outputs=tmp_path), "skip", "finger")
    assert any("fold 0 not trained" in str(w.message) for w in caught)
    fold0 = preds[preds["fold"] == 0]
    assert fold0["pred"].isna().all() and fold0["note"].str.contains("only class").all()
    assert preds.loc[preds["fold"] != 0, "pred"].notna().all()


def moving_square(n: int, seed: int) -> ClipDataset:
    """Class 1: a bright square moving sideways over 8 frames; class 0: the same square standing still."""
    g = np.random.default_rng(seed)
    clips = g.integers(0, 60, (n, 8, 16, 16, 3)).astype(np.uint8)
    labels = np.arange(n) % 2
    for i in range(n):
        y0, x0 = g.integers(2, 10, 2)
        for t in range(8):
            x = int(np.clip(x0 + (t - 4) * labels[i], 0, 12))
            clips[i, t, y0:y0 + 4, x:x + 4] = 230
    meta = pd.DataFrame({"video": [f"v{i}" for i in range(n)], "patient": [f"P{seed}_{i}" for i in range(n)]})
    return ClipDataset(torch.from_numpy(clips), torch.from_numpy(labels), meta)


def test_engine_learns_motion_at_the_study_lr_with_normalised_weights():
    """fit + predict with the study's settings (lr 1e-3, weight decay 0.01, CB focal loss) learn a motion
    cue that no single frame shows; with Eq. 1's unnormalised weights the same 10 epochs do not."""
    train, test = moving_square(90, 0), moving_square(40, 1)
    accuracy = {}
    for normalise in (True, False):
        config = TrainConfig(epochs=10, batch_size=15, lr=1e-3, weight_decay=0.01, cb_normalize=normalise,
                             progress=False)
        torch.manual_seed(0)
        model = fit(build_model("r3d10", 2, widen=0.125), train, None, config).model
        accuracy[normalise] = float(np.mean(predict(model, test, config).argmax(1) == test.labels.numpy()))
    assert accuracy[True] >= 0.95
    assert accuracy[False] < 0.8


def test_lr_schedule_and_optimizers():
    from pdlib.train import lr_factor, make_optimizer

    constant = TrainConfig(epochs=10)
    assert [lr_factor(constant, p) for p in (0, 5.5, 10)] == [1.0, 1.0, 1.0]  # the study: "without decay"
    cosine = TrainConfig(epochs=10, lr_schedule="cosine", warmup_epochs=2)
    assert lr_factor(cosine, 0) == pytest.approx(5e-4) and lr_factor(cosine, 1) == pytest.approx(0.5005)
    assert lr_factor(cosine, 2) == 1.0 and lr_factor(cosine, 6) == pytest.approx(0.5)
    assert lr_factor(cosine, 10) == pytest.approx(0.0, abs=1e-12)
    model = torch.nn.Linear(3, 2)
    assert isinstance(make_optimizer(model, TrainConfig()), torch.optim.SGD)
    adamw = make_optimizer(model, TrainConfig(optimizer="adamw", lr=3e-3, weight_decay=0.05))
    assert isinstance(adamw, torch.optim.AdamW) and adamw.param_groups[0]["weight_decay"] == 0.05
    with pytest.raises(ValueError, match="expected 'sgd' or 'adamw', found 'adam'"):
        make_optimizer(model, TrainConfig(optimizer="adam"))
    with pytest.raises(ValueError, match="expected 'constant' or 'cosine'"):
        lr_factor(TrainConfig(lr_schedule="step"), 1.0)


def test_action_probe_learns_motion_and_appearance():
    from pdlib.baselines import action_probe_top1, motion_features

    g = torch.Generator().manual_seed(0)
    clips = torch.randint(0, 30, (60, 4, 16, 16, 3), dtype=torch.uint8, generator=g)
    labels = torch.arange(60) % 3
    clips[labels == 1, ::2, 4:12, 4:12] = 250  # class 1 flickers in the middle; class 2 is bright and still
    clips[labels == 2, :, :, :, 0] = 200
    assert motion_features(clips[:2], pool=4, appearance=True).shape == (2, 5 * 16)
    still = torch.arange(4, dtype=torch.uint8).repeat_interleave(2).mul(60).view(1, 8, 1, 1, 1).expand(1, 8, 16, 16, 3)
    assert motion_features(still, windows=4)[0, 16:].tolist() == [0.0] * 16  # no difference across windows
    assert motion_features(still)[0, 16:].min() > 0  # as one run of frames: three jumps
    data = ClipDataset(clips, labels, pd.DataFrame({"video": range(60)}))
    assert action_probe_top1(data.subset(np.arange(0, 60, 2)), data.subset(np.arange(1, 60, 2)), pool=4) == 100.0
