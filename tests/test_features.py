"""Tests of pdlib.features: per-examination left/right averaging, the cache, stacking tasks with a mask."""

import numpy as np
import pandas as pd
import pytest
import torch

from pdlib.data import ClipDataset
from pdlib.features import clip_features, extract_task_features, load_exam_features
from pdlib.models import build_model
from pdlib.train import TrainConfig

CONFIG = TrainConfig(batch_size=3, progress=False)


def clips(task, exams_sides, seed=0):
    """One video per (exam, side); random uint8 clips of 8 x 32 x 32."""
    meta = pd.DataFrame([{"video": f"{task}_{e}_{s}.mp4", "patient": e[:2], "exam": e, "task": task,
                          "side": s, "score": 0, "label": 0} for e, s in exams_sides])
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (len(meta), 8, 32, 32, 3), generator=gen, dtype=torch.uint8)
    return ClipDataset(x, torch.zeros(len(meta), dtype=torch.long), meta)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("r3d10", 2, widen=0.125)


def test_exam_features_average_left_and_right(model, tmp_path):
    ds = clips("finger", [("p0_e0", "L"), ("p0_e0", "R"), ("p1_e1", "L"), ("p2_e2", "R"), ("p2_e2", "L")])
    avgpool, layer4 = clip_features(model, ds, CONFIG)
    assert avgpool.dtype == layer4.dtype == np.float32
    assert avgpool.shape[0] == layer4.shape[0] == 5 and layer4.ndim == 5
    assert avgpool.shape[1] == layer4.shape[1]  # d = C: avgpool pools layer4
    path = extract_task_features(model, ds, tmp_path / "finger" / "fold2.npz", CONFIG)
    assert path == tmp_path / "finger" / "fold2.npz"
    with np.load(path) as f:
        assert list(f["exam"]) == ["p0_e0", "p1_e1", "p2_e2"]
        np.testing.assert_allclose(f["avgpool"], [avgpool[:2].mean(0), avgpool[2], avgpool[3:].mean(0)],
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(f["layer4"][0], layer4[:2].mean(0), rtol=1e-5, atol=1e-6)
    mixed = ClipDataset(ds.clips, ds.labels, ds.meta.assign(task=["finger", "hand", "hand", "hand", "hand"]))
    with pytest.raises(ValueError, match="one task"):
        extract_task_features(model, mixed, tmp_path / "x.npz")


def test_load_exam_features_masks_missing_tasks(model, tmp_path):
    files = {t: tmp_path / t / "fold0.npz" for t in ("hand", "finger", "toe")}
    extract_task_features(model, clips("finger", [("p0_e0", "L"), ("p1_e1", "R"), ("p2_e2", "L")]),
                          files["finger"], CONFIG)
    extract_task_features(model, clips("hand", [("p0_e0", "L"), ("p3_e3", "L")], seed=1), files["hand"], CONFIG)
    out = load_exam_features({t: files[t] for t in ("hand", "finger")}, 0)
    assert list(out["exam"]) == ["p0_e0", "p1_e1", "p2_e2", "p3_e3"]
    assert out["mask"].tolist() == [[True, True], [False, True], [False, True], [True, False]]
    e, m = out["avgpool"].shape[:2], out["layer4"].shape[:2]
    assert e == m == (4, 2) and out["layer4"].ndim == 6  # (E, M, C, T', H', W')
    assert not out["avgpool"][~out["mask"]].any() and not out["layer4"][~out["mask"]].any()
    with np.load(tmp_path / "hand" / "fold0.npz") as f:
        np.testing.assert_array_equal(out["layer4"][3, 0], f["layer4"][1])
    with pytest.raises(FileNotFoundError, match="'toe', fold 0"):
        load_exam_features({t: files[t] for t in ("finger", "toe")}, 0)
