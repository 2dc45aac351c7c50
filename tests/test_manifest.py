"""pdlib.data's manifests and `pdlib check` on a small dataset made here: the faults of a row or a file named with
the reason and exit code, PD4T folders, warnings."""

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest
from video_samples import VIDEOS, edit_csv, encode

from pdlib.cli import main as cli_main
from pdlib.data import (
    ClipSpec,
    DatasetError,
    check_dataset,
    check_main,
    dataset_format,
    load_manifest,
    read_clip,
    report_path,
)
from pdlib.preprocessing import preprocess


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




def test_no_warning_for_a_clean_dataset(dataset):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_manifest(dataset)
        assert read_clip(Path(dataset) / VIDEOS[0][0], ClipSpec(4, 16)).shape == (4, 16, 16, 3)




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
