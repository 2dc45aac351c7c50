"""Cohorts as they come (issue 36): a dataset whose rows name landmark files, one recording listed for both
sides, frame rates, unscored folders and cohorts smaller than the folds, as `pdlib check` and the pipeline
read them. The landmark file format itself is tested in test_landmarks.py."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pdlib.cli import main as cli_main
from pdlib.data import check_dataset, load_manifest, video_durations
from pdlib.layout import ClipSpec
from pdlib.preprocessing import preprocess
from pdlib.synth.recordings import make_synpd_landmarks

ROOT = Path(__file__).resolve().parents[1]


def hand(cx: float, cy: float, size: float, aperture: float) -> np.ndarray:
    """(21, 2) a crude hand: wrist at (cx, cy + size), middle MCP at (cx, cy) (hand size = `size`), the thumb and
    index tips `aperture` hand sizes apart; the other landmarks along the palm."""
    pts = np.zeros((21, 2))
    pts[:, 0] = cx + np.linspace(-0.3, 0.3, 21) * size
    pts[:, 1] = cy - np.linspace(-1.0, 1.0, 21) * 0.5 * size
    pts[0] = (cx, cy + size)
    pts[9] = (cx, cy)
    pts[4] = (cx - 0.5 * aperture * size, cy - 0.5 * size)
    pts[8] = (cx + 0.5 * aperture * size, cy - 0.5 * size)
    return pts


def landmarks_csv(path, seconds=4.0, fps=30.0, hands=("R", "L"), normalised=True, tapping="R") -> str:
    """A two-handed recording in the long format: the patient's right hand on the left of a 1920x1080 picture
    (not mirrored), the tapping hand opening and closing at 3 Hz, the other still."""
    rows = []
    for i, t in enumerate(np.arange(0.0, seconds, 1.0 / fps)):
        for track, side in enumerate(hands):
            aperture = 0.6 + 0.5 * np.sin(2 * np.pi * 3.0 * t) if side == tapping else 0.2
            pts = hand(600.0 if side == "R" else 1300.0, 500.0, 120.0, aperture)
            track = track if i % 40 < 20 else 1 - track  # the tracker's ids swap now and then
            for k, (x, y) in enumerate(pts):
                rows.append((round(t, 4), track, k, x / 1920 if normalised else x, y / 1080 if normalised else y))
    pd.DataFrame(rows, columns=["t", "track", "landmark", "x", "y"]).to_csv(path, index=False)
    return path


def keypoint_cohort(root, n_patients=6, **kwargs):
    """A dataset of landmark files only: one finger-tapping recording per patient, listed for L and R."""
    (root / "recordings").mkdir(parents=True)
    videos, exams = [], []
    for p in range(n_patients):
        file = f"recordings/P{p}.landmarks.csv"
        landmarks_csv(root / file, tapping="RL", **kwargs)
        videos += [(file, f"P{p}", f"E{p}", "finger", side, str((p + (side == "L")) % 5)) for side in "LR"]
        exams.append((f"E{p}", f"P{p}", "OFF"))
    pd.DataFrame(videos, columns=["video", "patient", "exam", "task", "side", "score"]).to_csv(
        root / "videos.csv", index=False)
    pd.DataFrame(exams, columns=["exam", "patient", "condition"]).to_csv(root / "exams.csv", index=False)
    return root


def edit(root, fn):
    df = pd.read_csv(root / "videos.csv", dtype=str, keep_default_na=False)
    fn(df).to_csv(root / "videos.csv", index=False)


def test_a_keypoint_cohort_is_checked_and_loaded(tmp_path, capsys):
    root = keypoint_cohort(tmp_path / "kp")
    assert cli_main(["check", str(root)]) == 0
    out = capsys.readouterr().out
    assert "OK: every row is usable (exit 0)" in out
    assert "read as a square frame" in out  # fractions without a frame size: said, per file
    videos, _ = load_manifest(root)
    assert (videos["kind"] == "keypoints").all() and len(videos) == 12
    assert videos.groupby("video")["side"].apply(sorted).map(tuple).tolist() == [("L", "R")] * 6
    durations = video_durations(root, videos)
    assert len(durations) == 6 and np.allclose(durations, 4.0 - 1 / 30, atol=1e-3)


def test_preprocess_decodes_no_landmark_file(tmp_path, capsys):
    root = keypoint_cohort(tmp_path / "kp", n_patients=2)
    result = preprocess(root, ClipSpec(4, 16), tmp_path / "cache", workers=1, progress=False)
    assert len(result) == 0
    assert cli_main(["preprocess", str(root), "--profile", "smoke", "--cache", str(tmp_path / "cache")]) == 0
    assert "no videos to decode" in capsys.readouterr().out


def test_a_file_listed_twice_for_one_side_is_refused(tmp_path):
    root = keypoint_cohort(tmp_path / "kp", n_patients=2)
    edit(root, lambda df: pd.concat([df, df.iloc[[0]]]))
    report = check_dataset(root)
    assert report.exit_code == 2
    assert any("videos.csv, row 6, column 'video': duplicate video 'recordings/P0.landmarks.csv' for side L "
               "(first listed on row 2" in e for e in report.errors)


@pytest.mark.parametrize("column, value, fault", [
    ("width", "wide", "column 'width': expected the frame's width in pixels (a number > 0), found 'wide'"),
    ("height", "-3", "column 'height': expected the frame's height in pixels (a number > 0), found '-3'"),
    ("mirrored", "maybe", "column 'mirrored': expected yes or no (or empty: no), found 'maybe'"),
])
def test_frame_cells_are_checked(tmp_path, column, value, fault):
    root = keypoint_cohort(tmp_path / "kp", n_patients=2)
    edit(root, lambda df: df.assign(width="1920", height="1080", mirrored="no").assign(**{column: value}))
    report = check_dataset(root)
    assert report.exit_code == 2 and any(e.startswith("videos.csv, row 2, ") and fault in e for e in report.errors)


def test_width_without_height_is_refused_and_a_frame_size_silences_the_square_warning(tmp_path):
    root = keypoint_cohort(tmp_path / "kp", n_patients=2)
    edit(root, lambda df: df.assign(width="1920", height=""))
    assert any("expected both or neither" in e for e in check_dataset(root).errors)
    edit(root, lambda df: df.assign(width="1920", height="1080"))
    report = check_dataset(root)
    assert report.exit_code == 0 and not any("square" in w for w in report.warnings)


def test_a_faulty_landmark_file_is_named_with_its_row_and_the_rest_checked(tmp_path):
    root = keypoint_cohort(tmp_path / "kp", n_patients=3)
    bad = pd.read_csv(root / "recordings/P1.landmarks.csv", dtype=str)
    bad.loc[4, "t"] = "soon"
    bad.to_csv(root / "recordings/P1.landmarks.csv", index=False)
    report = check_dataset(root)
    assert report.exit_code == 1
    assert [v for v, _ in report.unusable] == ["recordings/P1.landmarks.csv (videos.csv row 4)",
                                               "recordings/P1.landmarks.csv (videos.csv row 5)"]
    assert all(reason == "row 6: t is not a number ('soon')" for _, reason in report.unusable)


def test_a_side_whose_hand_is_never_seen_is_unusable_for_that_side_only(tmp_path):
    root = keypoint_cohort(tmp_path / "kp", n_patients=2)
    landmarks_csv(root / "recordings/P0.landmarks.csv", hands=("R",), tapping="R")
    report = check_dataset(root)
    assert report.exit_code == 1
    (video, reason), = report.unusable
    assert video == "recordings/P0.landmarks.csv (videos.csv row 2)" and "left hand" in reason


def test_a_slow_frame_rate_is_named_with_its_rate(tmp_path):
    root = keypoint_cohort(tmp_path / "kp", n_patients=2)
    landmarks_csv(root / "recordings/P1.landmarks.csv", fps=12.0, tapping="RL")
    report = check_dataset(root)
    assert report.exit_code == 0
    slow = [w for w in report.warnings if "frames per second" in w]
    assert len(slow) == 2 and all(w.startswith("recordings/P1.landmarks.csv (videos.csv row") for w in slow)
    assert "12.0 frames per second, under 15" in slow[0]


def test_an_unscored_folder_is_accepted_with_unscored(tmp_path, capsys):
    root = keypoint_cohort(tmp_path / "kp", n_patients=2)
    edit(root, lambda df: df.assign(score=""))
    assert cli_main(["check", str(root)]) == 2
    assert "column 'score': expected an integer 0..4, found ''" in capsys.readouterr().out
    assert cli_main(["check", str(root), "--unscored"]) == 0


def test_a_cohort_smaller_than_the_folds_is_said(tmp_path):
    report = check_dataset(keypoint_cohort(tmp_path / "kp", n_patients=3))
    assert report.exit_code == 0
    assert any(w.startswith("3 patients: fewer than the 5 folds") and "leaves one patient out" in w
               for w in report.warnings)


def test_the_independent_check_runs_on_a_keypoint_cohort(tmp_path):
    """The run an independent check makes on real patients' landmarks, on SynPD's noisy two-handed
    equivalent (normalised coordinates, no frame size, each recording listed for L and R): `pdlib check`, then
    notebooks 00 and 02 with a profile holding just extends/dataset/tasks/transfer_tasks. The kinematics row is
    computed (with agreement and a signal figure per score); every deep setting and the probe say why not."""
    data = make_synpd_landmarks(tmp_path / "cohort", "smoke", seed=0)
    assert cli_main(["check", str(data)]) == 0
    root = tmp_path / "suite"
    (root / "params").mkdir(parents=True)
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    shutil.copy(ROOT / "params" / "default.yaml", root / "params")
    (root / "params" / "real.yaml").write_text(yaml.safe_dump(
        {"extends": "default", "dataset": str(data), "tasks": ["finger"], "transfer_tasks": ["finger"]}))
    env = {**os.environ, "PDLIB_OUTPUTS": str(tmp_path / "out"), "PDLIB_ROOT": str(root)}
    res = subprocess.run([sys.executable, "-m", "pdlib.cli", "reproduce", "--profile", "real", "--only",
                          "00_dataset", "02_task_level"], cwd=root, env=env, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    tables = tmp_path / "out" / "real" / "tables"
    counts = pd.read_csv(tables / "table_iv_class_counts.csv")
    assert counts.set_index("task").loc["finger", "total"] == len(load_manifest(data)[0])
    numbers = pd.read_csv(tables / "table_v_task_level.csv").set_index(["setting", "task"])
    kinematics = numbers.loc[("Kinematics (keypoints, ordinal)", "finger")]
    assert kinematics["n"] >= 12 and -1 <= kinematics["spearman"] <= 1 and 0 <= kinematics["mae"] <= 4
    caption = (tables / "table_v_task_level.md").read_text()
    for setting in ("I3D (SynAct)", "TSA (SynAct)", "Probe (motion energy, logistic)"):
        assert f"Not run: {setting}: no videos (the dataset lists landmark files only)" in caption
    figures = list((tmp_path / "out" / "real" / "figures" / "kinematics").glob("finger_score*.png"))
    assert len(figures) == load_manifest(data)[0]["score"].nunique()


def test_the_frame_aspect_of_fractions_without_a_frame_size_is_estimated_from_the_palms(tmp_path):
    """MediaPipe's fractions of a 16:9 frame, no width or height given: the palms' rigid proportions tell the
    aspect (1.78), so x and y share a unit; a recording that cannot tell (one still, unturned hand) stays square."""
    from pdlib.hands import frame_aspect
    from pdlib.landmarks import read_landmarks

    data = make_synpd_landmarks(tmp_path / "cohort", "smoke", seed=0)
    files = sorted(data.glob("recordings/*/finger.landmarks.csv"))
    assert [frame_aspect(pd.read_csv(f)) for f in files] == [16 / 9] * len(files)
    det = read_landmarks(files[0], "hand")
    assert (det.width, det.height) == (1.0, 9 / 16) and not det.square and "estimated" in det.warnings[0]
    still = landmarks_csv(tmp_path / "still.landmarks.csv", tapping="")
    assert frame_aspect(pd.read_csv(still)) is None and read_landmarks(still, "hand").square
    # a tracker's glitch: in a tenth of the frames two palm landmarks on one point (a segment of no length)
    table = pd.read_csv(files[0])
    frames = table["t"].unique()[::10]
    glitch = table["t"].isin(frames) & (table["landmark"] == 5)
    table.loc[glitch, ["x", "y", "z"]] = table.loc[table["t"].isin(frames) & (table["landmark"] == 0),
                                                   ["x", "y", "z"]].to_numpy()
    assert frame_aspect(table) == 16 / 9
