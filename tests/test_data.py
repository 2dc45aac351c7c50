"""pdlib.data on small videos made here with PyAV: decoding, sampling, validation, cache, Datasets."""

import fractions
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
import torch

from pdlib.cli import main as cli_main
from pdlib.data import (
    ClipDataset,
    ClipSpec,
    DatasetError,
    VideoDecodeError,
    VideoWarning,
    action_clips,
    check_dataset,
    check_main,
    dataset_format,
    decode_clip,
    load_manifest,
    parse_window,
    pd4t_clips,
    preprocess_actions,
    read_clip,
    report_path,
    sample_indices,
    task_clips,
    to_model_input,
)
from pdlib.data.transforms import KINETICS_MEAN, KINETICS_STD
from pdlib.data.video import window_indices
from pdlib.preprocessing import preprocess


def encode(path, codec="libx264", n=20, w=64, h=48, rate=25, pix_fmt="yuv420p", pts_ms=None, rotation=None,
           audio=False, video_streams=1, noise=0, options=None, picture=None) -> Path:
    """A small video whose frame i is uniformly gray 8*i (so a decoded frame tells its index)."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options=options or {}) as c:
        streams = []
        for _ in range(video_streams):
            s = c.add_stream(codec, rate=rate)
            s.width, s.height, s.pix_fmt = w, h, pix_fmt
            if pts_ms is not None:
                s.codec_context.time_base = fractions.Fraction(1, 1000)
            if rotation is not None:
                deg, hflip, vflip = rotation if isinstance(rotation, tuple) else (rotation, False, False)
                s.set_display_rotation(deg, hflip=hflip, vflip=vflip)
            streams.append(s)
        a = c.add_stream("aac", rate=8000, layout="mono") if audio else None
        for i in range(n):
            img = np.full((h, w, 3), 8 * i, np.int16) if picture is None else picture.astype(np.int16)
            img = img + (rng.integers(-noise, noise + 1, img.shape) if noise else 0)
            f = av.VideoFrame.from_ndarray(np.clip(img, 0, 255).astype(np.uint8), format="rgb24")
            if pts_ms is not None:
                f.pts, f.time_base = pts_ms[i], fractions.Fraction(1, 1000)
            for s in streams:
                c.mux(s.encode(f))
        for s in streams:
            c.mux(s.encode())
        if a is not None:
            for k in range(8):
                af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
                af.sample_rate, af.pts = 8000, k * 1024
                c.mux(a.encode(af))
            c.mux(a.encode())
    return Path(path)


def frame_ids(clip: np.ndarray) -> list[int]:
    """Which source frames a clip holds (frame i is gray 8*i)."""
    return [int(v) for v in np.round(clip.reshape(len(clip), -1).mean(axis=1) / 8)]


def test_sample_indices_are_slice_centres():
    assert sample_indices(10, 4).tolist() == [1, 3, 6, 8]
    assert sample_indices(20, 8).tolist() == [1, 3, 6, 8, 11, 13, 16, 18]
    assert sample_indices(3, 6).tolist() == [0, 0, 1, 1, 2, 2]  # repeats when shorter than T
    assert sample_indices(32, 32).tolist() == list(range(32))
    assert window_indices(20, 4).tolist() == [8, 9, 10, 11]
    assert window_indices(5, 4, start=3).tolist() == [3, 4, 4, 4]


@pytest.mark.parametrize("name,codec,pix_fmt", [
    ("h264.mp4", "libx264", "yuv420p"),
    ("mjpeg.avi", "mjpeg", "yuvj420p"),
    ("mpeg4.mov", "mpeg4", "yuv420p"),
    ("h264.mkv", "libx264", "yuv420p"),  # Matroska: no frame count in the header
    ("hevc.mp4", "libx265", "yuv420p"),
])
def test_read_clip_formats(tmp_path, name, codec, pix_fmt):
    path = encode(tmp_path / name, codec, pix_fmt=pix_fmt)
    clip, info = decode_clip(path, ClipSpec(8, 32))
    assert clip.shape == (8, 32, 32, 3) and clip.dtype == np.uint8
    assert info.frames == 20 and info.warnings == []
    assert frame_ids(clip) == sample_indices(20, 8).tolist()


def test_window_and_short_video(tmp_path):
    path = encode(tmp_path / "a.mp4", n=6)
    assert frame_ids(read_clip(path, ClipSpec(4, 16, window="middle"))) == [1, 2, 3, 4]
    assert frame_ids(read_clip(path, ClipSpec(4, 16, window=4))) == [4, 5, 5, 5]
    with pytest.warns(VideoWarning, match="a.mp4: 6 frames, fewer than the 12 asked: frames repeat"):
        assert frame_ids(read_clip(path, ClipSpec(12, 16))) == sample_indices(6, 12).tolist()


def test_windows_cover_the_whole_video_at_the_native_rate(tmp_path):
    """clip_window "windows<K>": K runs of T/K consecutive frames centred in K equal slices of the video."""
    assert window_indices(100, 8, "windows4").tolist() == [11, 12, 36, 37, 61, 62, 86, 87]
    assert window_indices(20, 4, "windows1").tolist() == window_indices(20, 4).tolist()  # one window: the middle
    assert window_indices(6, 8, "windows2").tolist() == [0, 1, 2, 3, 2, 3, 4, 5]  # kept inside a short video
    path = encode(tmp_path / "a.mp4", n=20)
    assert frame_ids(read_clip(path, ClipSpec(6, 16, window="windows3"))) == [2, 3, 9, 10, 15, 16]
    assert parse_window("windows03") == "windows3" and ClipSpec(8, 16, "windows4").windows == 4
    assert ClipSpec(8, 16, "windows4").tag == "T8_S16_Wwindows4" and ClipSpec(8, 16, "middle").windows == 1
    with pytest.raises(ValueError, match="4 windows need a number of frames divisible by 4, found 6"):
        ClipSpec(6, 16, "windows4")
    with pytest.raises(ValueError, match="found 'windows0'"):
        parse_window("windows0")


def test_variable_frame_rate_is_sampled_by_time(tmp_path):
    # 10 frames 40 ms apart, then 10 frames 100 ms apart; the last lasts 40 ms (1/rate): 1.34 s in all.
    pts = [40 * i for i in range(10)] + [400 + 100 * j for j in range(10)]
    path = encode(tmp_path / "vfr.mp4", pts_ms=pts)
    clip, info = decode_clip(path, ClipSpec(7, 32))
    assert info.by_time
    # centres of 7 slices of 1340 ms: 96, 287, 479, 670, 861, 1053, 1244 ms -> the frames then on screen
    assert frame_ids(clip) == [2, 7, 10, 12, 14, 16, 18]
    assert frame_ids(clip) != sample_indices(20, 7).tolist()


def test_rotation_metadata_gives_upright_frames(tmp_path):
    picture = np.zeros((48, 64, 3), np.uint8)
    picture[:8] = 255  # a white band along the top of the stored (landscape) picture
    path = encode(tmp_path / "portrait.mp4", n=4, rotation=90, picture=picture)
    with av.open(str(path)) as c:
        assert next(c.decode(video=0)).rotation == 90  # 90 degrees counter-clockwise to display
    clip, info = decode_clip(path, ClipSpec(2, 48))
    assert (info.width, info.height, info.rotation) == (48, 64, 90)  # portrait once upright
    gray = clip[0].mean(axis=2)
    assert gray[:, :6].mean() > 200 and gray[:, 10:].mean() < 30  # the top band turned to the left edge


@pytest.mark.parametrize("matrix, rotation, mirrored, upright", [
    ((0, True, False), 0, True, lambda p: p[:, ::-1]),
    ((0, False, True), 180, True, lambda p: p[::-1]),
    ((90, True, False), 90, True, lambda p: np.rot90(p)[:, ::-1]),
    ((270, False, False), 270, False, lambda p: np.rot90(p, 3)),
])
def test_mirrored_display_matrix_is_applied(tmp_path, matrix, rotation, mirrored, upright):
    picture = np.zeros((48, 64, 3), np.uint8)
    picture[:16, :16] = 255  # a white square in the top-left corner of the stored picture
    path = encode(tmp_path / "m.mp4", n=2, rotation=matrix, picture=picture)
    clip, info = decode_clip(path, ClipSpec(1, 48))
    assert (info.rotation, info.mirrored) == (rotation, mirrored)
    expected = upright(picture).mean(axis=2)  # the picture as a player displays it, 48 px short side
    h, w = expected.shape
    expected = expected[(h - 48) // 2:(h + 48) // 2, (w - 48) // 2:(w + 48) // 2]
    corner = np.unravel_index(np.argmax(expected[::47, ::47]), (2, 2))  # which corner holds the square
    gray = clip[0].mean(axis=2)
    assert gray[::47, ::47][corner] > 200 and (gray[::47, ::47] > 200).sum() == 1


def test_a_tag_that_is_not_utf8_does_not_stop_decoding(tmp_path):
    """A phone's Latin-1 title tag: PyAV 18 raises UnicodeDecodeError on it unless told to ignore it, PyAV 19
    decodes it with surrogateescape; either way the clip decodes, rotation included."""
    path = tmp_path / "tagged.mp4"
    with av.open(str(path), "w") as c:
        c.metadata["title"] = "TITLEXYZ"
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.set_display_rotation(90)
        for i in range(6):
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 8 * i, np.uint8), format="rgb24")))
        c.mux(s.encode())
    data = path.read_bytes()
    assert data.count(b"TITLEXYZ") == 1
    path.write_bytes(data.replace(b"TITLEXYZ", b"Ti\xe9\xff XYZ"))  # same length: the atoms stay valid
    clip, info = decode_clip(path, ClipSpec(3, 48))
    assert clip.shape == (3, 48, 48, 3) and (info.width, info.height, info.rotation) == (48, 64, 90)
    assert frame_ids(clip) == sample_indices(6, 3).tolist()


def test_audio_stream_ignored_and_second_video_stream_warned(tmp_path):
    clip = read_clip(encode(tmp_path / "a.mp4", audio=True), ClipSpec(4, 16))
    assert frame_ids(clip) == sample_indices(20, 4).tolist()
    with pytest.warns(VideoWarning, match="2 video streams; using the first"):
        clip = read_clip(encode(tmp_path / "two.mkv", video_streams=2), ClipSpec(4, 16))
    assert frame_ids(clip) == sample_indices(20, 4).tolist()


def test_crop_box_is_applied_before_resizing(tmp_path):
    picture = np.zeros((48, 64, 3), np.uint8)
    picture[:, 32:] = 200
    path = encode(tmp_path / "c.mp4", n=3, picture=picture)
    clip = read_clip(path, ClipSpec(2, 16), box=(40, 0, 64, 48))  # the bright right part only
    assert abs(float(clip.mean()) - 200) < 6


FASTSTART = {"movflags": "faststart"}  # the index first, so a truncated file still opens


@pytest.fixture(scope="module")
def truncated(tmp_path_factory) -> Path:
    path = encode(tmp_path_factory.mktemp("t") / "full.mp4", n=30, noise=20, options=FASTSTART)
    data = path.read_bytes()
    out = path.with_name("truncated.mp4")
    out.write_bytes(data[: int(len(data) * 0.6)])
    return out


def test_truncated_file_resampled_with_warning(truncated):
    with pytest.warns(VideoWarning) as caught:
        clip = read_clip(truncated, ClipSpec(8, 16))
    messages = " | ".join(str(w.message) for w in caught)
    assert "decoding stopped after" in messages and "header promises 30 frames, decoded" in messages, messages
    _, info = decode_clip(truncated, ClipSpec(8, 16))
    assert 0 < info.frames < 30 and info.header_frames == 30
    assert info.indices == sample_indices(info.frames, 8).tolist()
    assert np.abs(np.array(frame_ids(clip)) - np.array(info.indices)).max() <= 1


@pytest.mark.parametrize("content,reason", [
    (b"", "zero-length file"),
    (b"this is not a video\n" * 20, "cannot open as a video container"),
    (None, "missing file"),
])
def test_undecodable_files_raise(tmp_path, content, reason):
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(VideoDecodeError, match=reason) as e:
        read_clip(path, ClipSpec(4, 16))
    assert str(path) in str(e.value)


def test_corrupt_data_mid_stream_raises(tmp_path):
    data = bytearray(encode(tmp_path / "ok.mp4", n=30, noise=20, options=FASTSTART).read_bytes())
    for k in range(len(data) // 3, len(data) - 50, 29):
        data[k] ^= 0xFF
    (tmp_path / "corrupt.mp4").write_bytes(bytes(data))
    with pytest.raises(VideoDecodeError, match="corrupt.mp4"):
        read_clip(tmp_path / "corrupt.mp4", ClipSpec(4, 16))


# ---- a small PD dataset in the format of docs/DATASET.md "Dataset format" ----

VIDEOS = [  # video, patient, exam, task, side, score
    ("videos/p1_finger_L.mp4", "P1", "E1", "finger", "L", "0"),
    ("videos/p1_finger_R.mp4", "P1", "E1", "finger", "R", "3"),
    ("videos/p2_finger_L.mp4", "P2", "E2", "finger", "L", "2"),
    ("videos/p2_hand_L.avi", "P2", "E2", "hand", "L", "1"),
]


def write_dataset(root: Path, videos=VIDEOS, exams=None) -> Path:
    (root / "videos").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(videos, columns=["video", "patient", "exam", "task", "side", "score"]).to_csv(
        root / "videos.csv", index=False)
    exams = exams if exams is not None else pd.DataFrame(
        {"exam": ["E1", "E2"], "patient": ["P1", "P2"], "condition": ["OFF", "ON"], "total": [30, 12]})
    exams.to_csv(root / "exams.csv", index=False)
    return root


@pytest.fixture(scope="module")
def video_files(tmp_path_factory) -> Path:
    """Videos of distinct content (the cache is keyed by content): a<n>.mp4 has n frames."""
    d = tmp_path_factory.mktemp("v")
    for n in (10, 11, 12):
        encode(d / f"a{n}.mp4", n=n)
    encode(d / "b.avi", "mjpeg", n=12, pix_fmt="yuvj420p")
    return d


@pytest.fixture
def dataset(tmp_path, video_files) -> Path:
    root = write_dataset(tmp_path / "ds")
    for (video, *_), source in zip(VIDEOS, ("a12.mp4", "a11.mp4", "a10.mp4", "b.avi"), strict=True):
        shutil.copy(video_files / source, root / video)
    return root


def edit_csv(root: Path, name: str, fn) -> None:
    df = pd.read_csv(root / name, dtype=str, keep_default_na=False)
    fn(df).to_csv(root / name, index=False)


def test_check_ok_and_load_manifest(dataset, capsys):
    assert check_main(str(dataset)) == 0
    assert "OK: every row is usable (exit 0)" in capsys.readouterr().out
    videos, exams = load_manifest(dataset)
    assert videos["label"].tolist() == [0, 1, 1, 0]
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in videos["path"])
    assert exams["total"].tolist() == [30.0, 12.0] and not exams["total_from_items"].any()


def set_cell(name, row, col, value):
    def fn(df):
        df.loc[row, col] = value
        return df
    return name, fn


FAULTS = {
    "misspelled column": ("videos.csv", lambda df: df.rename(columns={"score": "scroe"}), 2,
                          "videos.csv, row 1 (header): expected column 'score', not found"),
    "bad score": (*set_cell("videos.csv", 1, "score", "5"), 2,
                  "videos.csv, row 3, column 'score': expected an integer 0..4, found '5'"),
    "duplicate row": ("videos.csv", lambda df: pd.concat([df, df.iloc[[0]]]), 2,
                      "videos.csv, row 6, column 'video': duplicate video 'videos/p1_finger_L.mp4' for side L "
                      "(first listed on row 2; "),
    "exam with two patients": ("exams.csv", lambda df: pd.concat([df, df.iloc[[0]].assign(patient="P9")]), 2,
                               "exams.csv, row 4, column 'exam': exam 'E1' has two patients: 'P1' (row 2) "
                               "and 'P9'"),
    "path leaving the folder": (*set_cell("videos.csv", 0, "video", "../p1.mp4"), 2,
                                "videos.csv, row 2, column 'video': expected a path inside the dataset "
                                "folder"),
    "absolute path": (*set_cell("videos.csv", 0, "video", "/tmp/p1.mp4"), 2, "absolute or leaving"),
    "bad side": (*set_cell("videos.csv", 2, "side", "left"), 2,
                 "videos.csv, row 4, column 'side': expected L, R or empty, found 'left'"),
    "exam not in exams.csv": (*set_cell("videos.csv", 3, "exam", "E7"), 2,
                              "videos.csv, row 5, column 'exam': exam 'E7' is not in exams.csv"),
    "missing file": (*set_cell("videos.csv", 3, "video", "videos/nope.mp4"), 1,
                     "videos/nope.mp4 (videos.csv row 5): missing file"),
    "unknown task": (*set_cell("videos.csv", 3, "task", "gait"), 0,
                     "videos.csv, row 5, column 'task': unknown task 'gait'"),
    "no total column": ("exams.csv", lambda df: df.drop(columns="total"), 0,
                        "no 'total' column; using the sum"),
    "a directory as the video": (*set_cell("videos.csv", 3, "video", "videos"), 1,
                                 "videos (videos.csv row 5): a directory, not a video file"),
    "header and no rows": ("videos.csv", lambda df: df.iloc[:0], 2,
                           "videos.csv: a header and no rows (expected one row per video)"),
    "no usable video": ("videos.csv", lambda df: df.assign(video=[f"videos/gone{i}.mp4" for i in range(len(df))]),
                        2, "videos.csv: none of its 4 videos is usable"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_check_exit_codes_name_the_fault(dataset, fault, capsys):
    name, fn, code, message = FAULTS[fault]
    edit_csv(dataset, name, fn)
    assert check_main(str(dataset)) == code
    assert message in capsys.readouterr().out
    if code == 2 and fault != "no usable video":  # load_manifest reads the CSVs; the videos are preprocess's
        with pytest.raises(DatasetError, match="malformed dataset"):
            load_manifest(dataset)


def test_semicolon_delimited_csv_is_one_fault_with_the_hint(dataset, capsys):
    df = pd.read_csv(dataset / "videos.csv", dtype=str, keep_default_na=False)
    df.to_csv(dataset / "videos.csv", index=False, sep=";")
    assert check_main(str(dataset)) == 2
    out = capsys.readouterr().out
    assert "videos.csv, row 1 (header): expected comma-separated columns video, patient, exam, task, side, " \
           "score; found one column 'video;patient;exam;task;side;score': the file looks ';'-delimited" in out
    assert out.count("videos.csv") == 1  # one fault, not one per column


def _still_png(path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (64, 48), (90, 90, 90)).save(path, format="PNG")


def _audio_only(path: Path) -> None:
    encode(path, video_streams=0, audio=True)


# The file gauntlet: what `pdlib check` says about a file (exit code, its words), and what `preprocess`
# does with it (skipped with the same reason, or cached with a warning). docs/DATASET.md: "What `pdlib check` says".
FILE_FAULTS = {
    "a PNG renamed .mp4": (_still_png, 1, "a still image (piped png sequence), not a video", "skipped"),
    "a one-frame video": (lambda p: encode(p, n=1), 1, "the video stream holds 1 frame, a still picture", "skipped"),
    "an audio-only file": (_audio_only, 1, "no video stream (streams: ['audio'])", "skipped"),
    "a text file": (lambda p: p.write_text("not a video\n" * 20), 1,
                    "cannot open as a video container (Invalid data found when processing input)", "skipped"),
    "a 0.2 s video": (lambda p: encode(p, n=5), 0, "lasts 0.20 s (5 frames), under 0.5 s",
                      "warning: 5 frames, fewer than the 8 asked"),
}


@pytest.mark.parametrize("fault", list(FILE_FAULTS))
def test_check_and_preprocess_say_what_a_bad_file_is(dataset, fault, capsys, tmp_path):
    make, code, message, outcome = FILE_FAULTS[fault]
    make(dataset / VIDEOS[0][0])
    assert check_main(str(dataset)) == code
    out = capsys.readouterr().out
    assert f"videos/p1_finger_L.mp4 (videos.csv row 2): {message}" in out, out
    assert "Errno" not in out
    status = preprocess(dataset, ClipSpec(8, 16), tmp_path / "cache", workers=1, progress=False)
    row = status.iloc[0]
    if outcome == "skipped":
        assert not row["ok"] and row["reason"] == message.split(" (streams")[0] or row["reason"].startswith(message)
        assert status["ok"].tolist()[1:] == [True, True, True]  # the others are cached
    else:
        assert row["ok"] and row["warning"].startswith(outcome.removeprefix("warning: ")), row["warning"]


def test_a_directory_is_reported_the_same_by_check_and_preprocess(dataset, tmp_path):
    edit_csv(dataset, "videos.csv", lambda df: df.assign(video=["videos", *df["video"][1:]]))
    assert check_dataset(dataset).unusable[0] == ("videos (videos.csv row 2)", "a directory, not a video file")
    status = preprocess(dataset, ClipSpec(4, 16), tmp_path / "cache", workers=1, progress=False)
    assert status.loc[0, "reason"] == "a directory, not a video file" and status["ok"].sum() == 3


def test_windowed_preprocess_skips_a_video_too_short_for_the_window(dataset, tmp_path, capsys):
    """A start frame beyond one video's end skips that video, named, and caches the others (exit 1)."""
    cache = tmp_path / "cache"
    assert cli_main(["preprocess", str(dataset), "--frames", "2", "--size", "16", "--window", "10",
                     "--workers", "1", "--cache", str(cache)]) == 1
    out = capsys.readouterr().out
    assert "4 videos: 3 cached" in out and "1 skipped" in out
    assert "skipped videos/p2_finger_L.mp4: the video has 10 frames, too few for the clip window" in out
    assert len(list((cache / "clips").glob("T2_S16_W10_*/*.npy"))) == 3
    report = pd.read_csv(report_path(cache, "ds", ClipSpec(2, 16, 10)))
    assert report["video"].tolist() == ["videos/p2_finger_L.mp4"]


def test_invalid_frames_are_refused_before_any_work(dataset, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli_main(["preprocess", str(dataset), "--frames", "0", "--size", "16", "--cache", str(tmp_path / "c")])
    assert e.value.code == 2 and "argument --frames: expected an integer >= 1, found '0'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="expected frames >= 1"):
        preprocess(dataset, ClipSpec(0, 16), tmp_path / "c", workers=1, progress=False)
    assert not (tmp_path / "c").exists()


def test_misspelled_column_suggests_the_expected_name(dataset):
    edit_csv(dataset, "videos.csv", lambda df: df.rename(columns={"patient": "patinet"}))
    report = check_dataset(dataset)
    assert report.exit_code == 2 and "found 'patinet': misspelled? rename it to 'patient'" in report.errors[0]


def test_undecodable_video_is_unusable(dataset):
    (dataset / VIDEOS[0][0]).write_text("not a video")
    report = check_dataset(dataset)
    assert report.exit_code == 1
    assert report.unusable[0][0] == "videos/p1_finger_L.mp4 (videos.csv row 2)"
    assert "cannot open as a video container" in report.unusable[0][1]


def test_total_from_items_when_missing(dataset):
    edit_csv(dataset, "exams.csv", lambda df: df.assign(total=["", "12"]))
    with pytest.warns(UserWarning, match="column 'total': empty; using the sum"):
        _, exams = load_manifest(dataset)
    assert exams["total"].tolist() == [3.0, 12.0] and exams["total_from_items"].tolist() == [True, False]


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


def test_no_warning_for_a_clean_dataset(dataset):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_manifest(dataset)
        assert read_clip(Path(dataset) / VIDEOS[0][0], ClipSpec(4, 16)).shape == (4, 16, 16, 3)


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


def test_pdlib_check_reads_a_pd4t_folder_and_names_the_annotation_row(tmp_path, video_files, capsys):
    root = tmp_path / "PD4T"
    vids = root / "Videos/Finger tapping/l"
    vids.mkdir(parents=True)
    (root / "Annotations/Finger tapping").mkdir(parents=True)
    for vid in ("15-001139_017", "15-002000_018"):
        shutil.copy(video_files / "a12.mp4", vids / f"{vid}.mp4")
    (root / "Annotations/Finger tapping/train.csv").write_text("15-001139_l_017,300,2\n")
    (root / "Annotations/Finger tapping/test.csv").write_text("15-002000_l_018,290,3\n15-003000_l_019,290,1\n")
    assert cli_main(["check", str(root)]) == 1
    out = capsys.readouterr().out
    assert "videos per task: finger 3" in out
    assert ("Videos/Finger tapping/15-003000_l_019.mp4 (Annotations/Finger tapping/test.csv row 2): missing file"
            in out)
    videos, _ = load_manifest(root)
    assert videos["split"].tolist() == ["train", "test", "test"] and videos["label"].tolist() == [1, 1, 0]
    assert videos["patient"].tolist() == ["017@train", "018@test", "019@test"]
    (root / "Annotations/Finger tapping/test.csv").write_text("15-002000_l_018,290,7\n")
    assert cli_main(["check", str(root)]) == 2
    assert "test.csv, row 1, column 3 (score): expected an integer 0..4, found '7'" in capsys.readouterr().out
    with pytest.raises(DatasetError, match="the profile says dataset_format: manifest, but the folder is in PD4T"):
        dataset_format(root, "manifest")
