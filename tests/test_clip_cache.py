"""The clip cache and the torch Datasets on small videos made here: preprocess (skips, caching, windows), task and
action clips, PD4T layouts, the model input transform, worker processes."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from video_samples import VIDEOS, encode, frame_ids, write_dataset

from pdlib.cli import main as cli_main
from pdlib.data import (
    ClipDataset,
    ClipSpec,
    action_clips,
    parse_window,
    pd4t_clips,
    preprocess_actions,
    report_path,
    sample_indices,
    task_clips,
    to_model_input,
)
from pdlib.data.transforms import KINETICS_MEAN, KINETICS_STD
from pdlib.preprocessing import preprocess


def test_preprocess_skips_bad_videos_and_caches(dataset, truncated, tmp_path):
    bad = [("videos/zero.mp4", b""), ("videos/text.mp4", b"hello\n" * 50)]
    for rel, content in bad:
        (dataset / rel).write_bytes(content)
    shutil.copy(truncated, dataset / "videos/trunc.mp4")
    extra = [(rel, "P2", "E2", "toe", "R", "1") for rel in ("videos/zero.mp4", "videos/text.mp4",
                                                            "videos/trunc.mp4", "videos/gone.mp4")]
    write_dataset(dataset, VIDEOS + extra)
    cache = tmp_path / "cache"

    first = preprocess(dataset, ClipSpec(4, 16), cache, workers=2, progress=False)
    assert first["ok"].tolist() == [True] * 4 + [False, False, True, False]
    assert first["decoded"].sum() == 6  # all but the missing and the empty file (refused before decoding)
    reasons = dict(zip(first["video"], first["reason"], strict=True))
    assert reasons["videos/zero.mp4"] == "zero-length file" and reasons["videos/gone.mp4"] == "missing file"
    assert reasons["videos/text.mp4"].startswith("cannot open as a video container")
    report = pd.read_csv(report_path(cache, "ds", ClipSpec(4, 16)), keep_default_na=False)
    assert Path(first.attrs["report"]) == report_path(cache, "ds", ClipSpec(4, 16))
    assert sorted(report["status"]) == ["skipped"] * 3 + ["warning"]
    assert "header promises 30 frames" in report.loc[report["video"] == "videos/trunc.mp4", "reason"].item()
    clip = np.load(first.loc[0, "cache"], mmap_mode="r")
    assert clip.shape == (4, 16, 16, 3) and frame_ids(clip) == sample_indices(12, 4).tolist()

    second = preprocess(dataset, ClipSpec(4, 16), cache, workers=1, progress=False)
    assert not second["decoded"].any()
    assert second[["ok", "reason", "warning", "cache"]].equals(first[["ok", "reason", "warning", "cache"]])

    encode(dataset / VIDEOS[1][0], n=8)  # one video changed in place
    third = preprocess(dataset, ClipSpec(4, 16), cache, workers=1, progress=False)
    assert third["decoded"].tolist() == [False, True] + [False] * 6
    assert frame_ids(np.load(third.loc[1, "cache"])) == sample_indices(8, 4).tolist()

    other = preprocess(dataset, ClipSpec(2, 16), cache, workers=1, progress=False)  # new parameters
    assert other["decoded"].sum() == 6


def test_task_clips(dataset, tmp_path):
    ds = task_clips(preprocess(dataset, ClipSpec(4, 16), tmp_path / "cache", progress=False), "finger")
    assert isinstance(ds, ClipDataset) and len(ds) == 3
    assert ds.clips.shape == (3, 4, 16, 16, 3) and ds.clips.dtype == torch.uint8
    assert ds.labels.tolist() == [0, 1, 1]
    assert list(ds.meta.columns[:7]) == ["video", "patient", "exam", "task", "side", "score", "label"]
    sub = ds.subset([2, 0])
    assert sub.meta["video"].tolist() == ["videos/p2_finger_L.mp4", "videos/p1_finger_L.mp4"]
    assert sub.labels.tolist() == [1, 0] and torch.equal(sub[0][0], ds.clips[2])
    assert len(ds.subset(np.array([True, False, True]))) == 2
    assert ds.to("cpu").clips.device.type == "cpu"
    clips, labels = next(ds.batches(2))
    assert clips.shape == (2, 4, 16, 16, 3) and labels.tolist() == [0, 1]


def test_task_clips_window_and_the_preprocess_cli(dataset, tmp_path, capsys):
    """clip_window "middle": consecutive frames at the native rate, cached and reported apart from the
    study's spread-out sampling."""
    cache = tmp_path / "cache"
    spread = task_clips(preprocess(dataset, ClipSpec(4, 16), cache, progress=False), "finger")
    window = task_clips(preprocess(dataset, ClipSpec(4, 16, "middle"), cache, progress=False), "finger")
    assert frame_ids(spread.clips[0].numpy()) == sample_indices(12, 4).tolist() == [1, 4, 7, 10]
    assert frame_ids(window.clips[0].numpy()) == [4, 5, 6, 7]  # a12.mp4: 12 frames, 4 from (12 - 4) // 2
    assert report_path(cache, "ds", ClipSpec(4, 16, "middle")).name == "report_ds_T4_S16_Wmiddle.csv"
    assert report_path(cache, "ds", ClipSpec(4, 16, "middle")).is_file()
    assert report_path(cache, "ds", ClipSpec(4, 16)).is_file()
    assert cli_main(["preprocess", str(dataset), "--frames", "4", "--size", "16", "--cache", str(cache),
                     "--window", "2", "--workers", "1"]) == 0
    cached = sorted((cache / "clips").glob("T4_S16_W2_*/*.npy"))
    assert len(cached) == 4 and all(frame_ids(np.load(f)) == [2, 3, 4, 5] for f in cached)
    assert [parse_window(v) for v in ("", None, "middle", "3", 3)] == [None, None, "middle", 3, 3]
    with pytest.raises(ValueError, match="expected '' \\(spread over the video\\), 'middle', a start frame or "
                                         "'windows<K>'"):
        parse_window("end")


def test_to_model_input_eval_train_and_determinism():
    torch.manual_seed(0)
    batch = torch.randint(0, 256, (3, 4, 16, 16, 3), dtype=torch.uint8)
    x = to_model_input(batch, train=False)
    assert x.shape == (3, 3, 4, 16, 16) and x.dtype == torch.float32
    mean, std = torch.tensor(KINETICS_MEAN), torch.tensor(KINETICS_STD)
    expected = (batch.permute(0, 4, 1, 2, 3).float() / 255 - mean.view(3, 1, 1, 1)) / std.view(3, 1, 1, 1)
    torch.testing.assert_close(x, expected)
    torch.manual_seed(1)
    a = to_model_input(batch, train=True, flip=True)
    torch.manual_seed(1)
    b = to_model_input(batch, train=True, flip=True)
    assert torch.equal(a, b) and not torch.equal(a, x)
    lo, hi = (0 - mean) / std, (1 - mean) / std
    for c in range(3):
        assert a[:, c].min() >= lo[c] - 1e-4 and a[:, c].max() <= hi[c] + 1e-4


def test_train_crop_same_for_all_frames_and_flip_both_ways():
    clip = torch.zeros(1, 4, 16, 16, 3, dtype=torch.uint8)
    clip[..., :8, :] = 255  # left half white
    torch.manual_seed(0)
    x = to_model_input(clip.expand(64, -1, -1, -1, -1), train=True, flip=True)
    assert torch.equal(x[:, :, :1].expand_as(x), x)  # every frame of a clip got the same crop
    left_brighter = x[..., :4].mean(dim=(1, 2, 3, 4)) > x[..., -4:].mean(dim=(1, 2, 3, 4))
    assert 10 < int(left_brighter.sum()) < 54  # flipped about half the time
    torch.manual_seed(0)
    y = to_model_input(clip.expand(64, -1, -1, -1, -1), train=True)
    assert bool((y[..., :4].mean(dim=(1, 2, 3, 4)) > y[..., -4:].mean(dim=(1, 2, 3, 4))).all())


def test_action_clips_ucf_and_hmdb_layouts(tmp_path, video_files):
    ucf = tmp_path / "synact"
    classes = ["Walk", "Wave"]
    for c in classes:
        for g in (1, 2):
            (ucf / "videos" / c).mkdir(parents=True, exist_ok=True)
            shutil.copy(video_files / "b.avi", ucf / "videos" / c / f"v_{c}_g0{g}_c01.avi")
    (ucf / "splits").mkdir()
    (ucf / "splits/classInd.txt").write_text("1 Walk\n2 Wave\n")
    (ucf / "splits/trainlist01.txt").write_text("Walk/v_Walk_g01_c01.avi 1\nwave/v_Wave_g01_c01.avi 2\n")
    (ucf / "splits/testlist01.txt").write_text("Walk/v_Walk_g02_c01.avi\nWave/v_Wave_g02_c01.avi\n")
    clips = preprocess_actions(ucf, ClipSpec(4, 16), tmp_path / "cache", layout="synact", splits=(1,))
    train, test, names = action_clips(clips, 1)
    assert names == classes and len(train) == len(test) == 2
    assert train.labels.tolist() == [0, 1] and test.meta["class"].tolist() == classes

    hmdb = tmp_path / "hmdb"
    for c in ("jump", "run"):
        (hmdb / c).mkdir(parents=True)
        for k in (1, 2, 3):
            shutil.copy(video_files / "a12.mp4", hmdb / c / f"{c}{k}.avi")
        (hmdb / f"{c}_test_split1.txt").write_text(f"{c}1.avi 1\n{c}2.avi 2\n{c}3.avi 0\n")
    clips = preprocess_actions(hmdb, ClipSpec(4, 16), tmp_path / "cache", "hmdb51", (1,))
    train, test, names = action_clips(clips, 1)
    assert names == ["jump", "run"] and train.meta["video"].tolist() == ["jump/jump1.avi", "run/run1.avi"]
    assert test.labels.tolist() == [0, 1]


def test_pd4t_layout_headerless(tmp_path, video_files):
    root = tmp_path / "PD4T"
    ann, vids = root / "Annotations/Finger tapping", root / "Videos/Finger tapping"
    ann.mkdir(parents=True)
    for side in ("l", "r"):
        (vids / side).mkdir(parents=True)
    for vid in ("15-001139_017", "15-002000_018"):
        for side in ("l", "r"):
            shutil.copy(video_files / "a12.mp4", vids / side / f"{vid}.mp4")
    (ann / "train.csv").write_text("15-001139_l_017,300,2\n15-001139_r_017,310,0\n15-002000_l_018,280,1\n")
    (ann / "test.csv").write_text("15-002000_r_018,290,3\n15-002000_x_018,290,3\n")
    train, test = pd4t_clips(root, "finger", ClipSpec(4, 16), tmp_path / "cache")
    assert len(train) == 3 and len(test) == 1  # the unmatched video is skipped and reported
    assert train.meta["side"].tolist() == ["L", "R", "L"]
    assert train.meta["patient"].tolist() == ["017", "017", "018"]
    assert train.labels.tolist() == [1, 0, 0] and test.meta["score"].tolist() == [3]
    report = pd.read_csv(report_path(tmp_path / "cache", "PD4T_finger", ClipSpec(4, 16)))
    assert report["video"].tolist() == ["15-002000_x_018"] and report["reason"].tolist() == ["missing file"]



def test_from_files_reads_npy_and_batches_by_index(tmp_path):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8) for _ in range(4)]
    files = []
    for i, a in enumerate(arrays):
        files.append(str(tmp_path / f"{i}.npy"))
        np.save(files[-1], a)
    ds = ClipDataset.from_files(files, [0, 1, 0, 1], pd.DataFrame({"video": files}))
    assert all(np.array_equal(ds.clips[i].numpy(), a) for i, a in enumerate(arrays))
    clips, labels = ds[[3, 0]]  # what the engine's batch loader asks for
    assert clips.shape == (2, 3, 8, 8, 3) and labels.tolist() == [1, 0]
    assert torch.equal(clips[0], ds.clips[3]) and torch.equal(ds[np.int64(2)][0], ds.clips[2])
    np.save(files[1], arrays[1][:2])
    with pytest.raises(ValueError, match=r"1\.npy: cached clip is uint8 \(2, 8, 8, 3\), expected"):
        ClipDataset.from_files(files, [0, 1, 0, 1], pd.DataFrame({"video": files}))


def test_script_without_main_guard_gets_a_clear_error(tmp_path):
    """Worker processes are spawned, which re-runs a calling script's top level in each: the parent must say
    so instead of ending in a bare BrokenProcessPool."""
    videos = [str(encode(tmp_path / f"{k}.mp4", n=4)) for k in range(2)]
    script = tmp_path / "unguarded.py"
    script.write_text("from pdlib.data import ClipSpec, cache_clips\n"
                      f"cache_clips({videos!r}, ClipSpec(2, 8), {str(tmp_path / 'cache')!r}, workers=2, "
                      "progress=False)\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "a decoding worker process died" in proc.stderr and '__name__ == "__main__"' in proc.stderr


