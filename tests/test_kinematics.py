"""Kinematic features from keypoints: known movements give their known frequency, amplitude and decrement,
whatever the hand, the frame rate's regularity or a dropped frame; SynPD's true keypoints follow severity."""

import numpy as np
import pandas as pd
import pytest

from pdlib.kinematics import (
    FEATURES,
    HAND_LANDMARKS,
    POSE_LANDMARKS,
    Keypoints,
    KinematicsError,
    describe_features,
    exam_features,
    feature_names,
    keypoints_path,
    task_features,
    video_features,
)
from pdlib.synth import render_task
from pdlib.tasks import TASKS


def tapping(freq=3.0, seconds=6.0, fps=30.0, decrement=0.5, mirror=False, drop=0.0, jitter=0.0, seed=0):
    """Hand keypoints of finger tapping: the index fingertip opens and closes at `freq` from a still thumb,
    its aperture (60 px when fully open) falling linearly to (1 - decrement) of the first."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, seconds, 1 / fps) + rng.uniform(-jitter, jitter, int(round(seconds * fps)))
    t = np.sort(t)
    open_ = (1 - decrement * t / seconds) * (0.5 - 0.5 * np.cos(2 * np.pi * freq * t))
    xy = np.full((len(t), 21, 2), np.nan)
    sign = -1 if mirror else 1
    xy[:, HAND_LANDMARKS.index("wrist")] = (100, 200)
    xy[:, HAND_LANDMARKS.index("middle_finger_mcp")] = (100 + sign * 30, 180)
    xy[:, HAND_LANDMARKS.index("thumb_tip")] = (100 + sign * 50, 170)
    xy[:, HAND_LANDMARKS.index("index_finger_tip")] = np.stack([100 + sign * (50 + 0 * t), 170 - 60 * open_], 1)
    xy[rng.random(len(t)) < drop] = np.nan
    return Keypoints(xy, t, "hand", "L" if mirror else "R", "test")


def test_tapping_features_are_its_frequency_amplitude_and_decrement():
    f = task_features(tapping(), "finger")
    assert f["tracked"] == 1.0
    assert f["frequency_hz"] == pytest.approx(3.0, abs=0.05)
    assert f["repetitions"] == pytest.approx(18, abs=1)
    hand = np.hypot(30, 20)  # wrist to middle-finger MCP, px
    assert f["amplitude_mean"] == pytest.approx(60 / hand * 0.75, rel=0.05)  # the mean aperture factor is 0.75
    assert f["decrement_ratio"] == pytest.approx((1 - 0.5 * 5 / 6) / (1 - 0.5 * 1 / 6), abs=0.05)
    assert f["decrement_slope"] < -0.3 and f["rhythm_cv"] < 0.05 and f["interruptions_per_10"] == 0
    steady = task_features(tapping(decrement=0.0), "finger")
    assert steady["decrement_ratio"] == pytest.approx(1.0, abs=0.02) and abs(steady["decrement_slope"]) < 0.02


def test_either_hand_dropped_frames_and_variable_frame_rate_give_the_same_features():
    ref = task_features(tapping(), "finger")
    for kp in (tapping(mirror=True), tapping(drop=0.2, seed=1), tapping(jitter=0.008, seed=2)):
        f = task_features(kp, "finger")
        for name in ("frequency_hz", "amplitude_mean", "decrement_ratio", "repetitions"):
            assert f[name] == pytest.approx(ref[name], rel=0.08, abs=0.5 if name == "repetitions" else 0), name


def test_a_hand_found_in_few_frames_is_reported_not_scored_as_still(tmp_path):
    kp = tapping(drop=0.7, seed=3)
    f = task_features(kp, "finger")
    assert 0.2 < f["tracked"] < 0.4 and np.isnan(f["amplitude_mean"])
    kp.save(keypoints_path(tmp_path / "finger_L.mp4"))
    (tmp_path / "hand_L.keypoints.npz").write_bytes(b"not an npz")
    videos = pd.DataFrame({"video": ["a", "b", "c"], "task": ["finger", "hand", "toe"],
                           "path": [str(tmp_path / n) for n in ("finger_L.mp4", "hand_L.mp4", "toe_L.mp4")]})
    table = video_features(videos)
    assert table.loc[0, "note"] == f"hand tracked in {100 * f['tracked']:.0f}% of frames (under 50%): left out"
    assert table.loc[1, "note"] == f"{tmp_path / 'hand_L.keypoints.npz'}: not a keypoints file (not an .npz archive)"
    assert table.loc[2, "note"] == f"no keypoints for {tmp_path / 'toe_L.mp4'}: run `pdlib track`"


def test_tremor_frequency_and_amplitude_under_a_slow_reach():
    t = np.arange(0, 5, 1 / 30.0)
    xy = np.full((len(t), 33, 2), np.nan)
    xy[:, POSE_LANDMARKS.index("right_shoulder")] = (0, 0)
    reach = np.stack([300 + 150 * np.sin(2 * np.pi * 0.5 * t), 0 * t], 1)  # 500 px arm, a 0.5 Hz reach
    xy[:, POSE_LANDMARKS.index("right_wrist")] = (500, 0)
    xy[:, POSE_LANDMARKS.index("right_index")] = reach + np.stack([0 * t, 25 * np.sin(2 * np.pi * 5.0 * t)], 1)
    f = task_features(Keypoints(xy, t, "pose", "R"), "kinetic")
    assert f["tremor_frequency_hz"] == pytest.approx(5.0, abs=0.3)
    assert f["tremor_amplitude"] == pytest.approx(50 / 500, rel=0.1)  # peak-to-peak 50 px over a 500 px arm
    assert f["tremor_power_ratio"] > 0.8


def test_synpd_true_keypoints_follow_severity_and_sit_in_the_frame():
    for task in TASKS:
        feats = []
        for s in (0.2, 2.0, 3.8):
            frames, kp = render_task(task, s, seconds=4.0, width=96, height=72, seed=5, keypoints=True)
            assert kp.xy.shape[0] == len(frames) and kp.tracked(task) == 1.0
            found = kp.xy[np.isfinite(kp.xy).all(-1)]
            assert ((found > -20) & (found < [116, 92])).mean() > 0.95, task  # in the picture, give or take
            feats.append(task_features(kp, task))
        key = "tremor_amplitude" if task in ("postural", "kinetic") else "speed_mean"
        values = [f[key] for f in feats]
        rising = values[0] < values[1] < values[2]
        falling = values[0] > values[1] > values[2]
        assert rising if key == "tremor_amplitude" else falling, (task, key, values)


def test_left_videos_name_the_left_side_and_bad_files_are_named(tmp_path):
    _, kp = render_task("leg", 1.0, seconds=1.0, width=64, height=48, side="L", seed=2, keypoints=True)
    assert np.isfinite(kp.point("left_knee")).all() and np.isnan(kp.point("right_knee")).all()
    assert np.array_equal(kp.point("knee"), kp.point("left_knee"))
    kp.save(tmp_path / "k.npz")
    back = Keypoints.load(tmp_path / "k.npz")
    assert back.side == "L" and back.convention == "pose" and np.allclose(back.xy, kp.xy, equal_nan=True)
    with pytest.raises(KinematicsError, match="expected \\(T, 21, 2 or 3\\)"):
        Keypoints(np.zeros((5, 33, 2)), np.arange(5.0), "hand")


def test_every_feature_says_how_it_is_computed():
    table = describe_features()
    assert list(table["feature"]) == list(FEATURES) and (table["how"].str.len() > 40).all()
    assert set(feature_names("finger")) | set(feature_names("postural")) == set(FEATURES)


def test_exam_features_average_the_sides_and_feed_the_assembling_heads(tmp_path):
    names = feature_names("finger")
    table = pd.DataFrame({"note": ["", "", "", "no keypoints"], **{n: [1.0, 3.0, 5.0, 7.0] for n in names}})
    videos = pd.DataFrame({"exam": ["E1", "E1", "E2", "E2"], "task": ["finger", "finger", "finger", "hand"]})
    x = exam_features(table, videos, np.array(["E1", "E2", "E3"]), ("finger", "hand"))
    assert x.shape == (3, 2, len(names)) and (x[0, 0] == 2.0).all() and (x[1, 0] == 5.0).all()
    assert (x[:, 1] == 0).all() and (x[2] == 0).all()  # no usable keypoints: 0, as for a missing task

    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent))
    from explorer_fixture import FEATURE_SHAPE, build_outputs

    from pdlib.exam_level import ExamExperiment, HeadConfig
    from pdlib.layout import Layout

    build_outputs(tmp_path / "outputs")
    layout = Layout("smoke", outputs=tmp_path / "outputs")
    plain = ExamExperiment(layout, head=HeadConfig(epochs=2), repeats=1).data
    with_kin = ExamExperiment(layout, head=HeadConfig(epochs=2), repeats=1, kinematics=True).data
    assert plain.folds[0].avgpool.shape[-1] == FEATURE_SHAPE[0]
    assert with_kin.folds[0].avgpool.shape[-1] == FEATURE_SHAPE[0] + len(names)  # the fixture has no keypoints
    assert np.allclose(with_kin.folds[0].avgpool[..., :FEATURE_SHAPE[0]], plain.folds[0].avgpool)
