"""Keypoint crops (`clip_crop: keypoints`, issue 38): a square box around the landmarks the task's signal needs,
with a margin, inside the picture; a video without keypoints keeps its whole picture and says so; the box is part
of the clip cache's key; a SynPD finger clip cropped this way holds the hand; old `crop: true` recipes load."""

import json

import av
import numpy as np
import pandas as pd
import pytest

from pdlib.boxes import MIN_SIDE, keypoint_box, keypoint_boxes, track_missing
from pdlib.data import ClipSpec, cache_clips, read_clip
from pdlib.kinematics import HAND_LANDMARKS, NEEDS, POSE_LANDMARKS, Keypoints, keypoints_path
from pdlib.layout import recipe_text
from pdlib.preprocessing import preprocess
from pdlib.synth import make_synpd
from pdlib.synth.render import write_video
from pdlib.synth.synpd import render_task


def _hand(points: dict, frames: int = 3) -> Keypoints:
    """Hand keypoints: every landmark NaN but `points` ({name: (T, 2) or (2,)})."""
    xy = np.full((frames, len(HAND_LANDMARKS), 2), np.nan)
    for name, p in points.items():
        xy[:, HAND_LANDMARKS.index(name)] = p
    return Keypoints(xy, np.arange(frames) / 25.0, "hand")


def test_a_box_is_the_landmarks_square_with_its_margin_inside_the_picture():
    finger = {"wrist": (100, 100), "middle_finger_mcp": (100, 80), "thumb_tip": (120, 90),
              "index_finger_tip": (140, 70)}  # a 40 x 30 box centred on (120, 85)
    assert keypoint_box(_hand(finger), "finger", 320, 240, 0.0) == (100, 65, 140, 105)
    x0, y0, x1, y1 = keypoint_box(_hand(finger), "finger", 320, 240, 0.25)  # 40 * 1.5 = 60 on a side
    assert (x1 - x0, y1 - y0) == (60, 60) and (x0 + x1) / 2 == 120 and (y0 + y1) / 2 == 85
    # near the picture's corner: shifted inside, still square
    corner = {k: np.subtract(v, (95, 60)) for k, v in finger.items()}
    assert keypoint_box(_hand(corner), "finger", 320, 240, 0.25) == (0, 0, 60, 60)
    # taller than the picture: shifted inside in x, clipped to the picture in y
    assert keypoint_box(_hand(finger), "finger", 160, 80, 1.0) == (40, 0, 160, 80)
    # one landmark alone does not move: at least MIN_SIDE wide
    still = {k: (50, 50) for k in NEEDS["finger"]}
    x0, y0, x1, y1 = keypoint_box(_hand(still), "finger", 320, 240, 0.0)
    assert x1 - x0 == y1 - y0 == MIN_SIDE


def test_frames_missing_a_landmark_do_not_count_and_none_found_gives_no_box():
    t = 4
    tip = np.array([[140, 70], [300, 200], [np.nan, np.nan], [140, 70]], float)  # frame 1 lacks the thumb
    thumb = np.array([[120, 90], [np.nan, np.nan], [120, 90], [120, 90]], float)
    kp = _hand({"wrist": (100, 100), "middle_finger_mcp": (100, 80), "thumb_tip": thumb, "index_finger_tip": tip}, t)
    assert keypoint_box(kp, "finger", 320, 240, 0.0) == (100, 65, 140, 105)  # frames 0 and 3 only
    assert keypoint_box(_hand({"wrist": (100, 100)}), "finger", 320, 240, 0.25) is None


def test_the_rows_side_picks_its_own_leg():
    xy = np.full((2, len(POSE_LANDMARKS), 2), np.nan)
    for side, x in (("left", 40), ("right", 250)):
        xy[:, POSE_LANDMARKS.index(f"{side}_heel")] = (x, 200)
        xy[:, POSE_LANDMARKS.index(f"{side}_foot_index")] = (x + 30, 210)
    boxes = {s: keypoint_box(Keypoints(xy, np.arange(2.0), "pose", s), "toe", 320, 240, 0.0) for s in "LR"}
    assert boxes["L"] == (40, 190, 70, 220) and boxes["R"] == (250, 190, 280, 220)


def _finger_video(tmp_path, name="finger_R.mp4", width=160, height=120):
    frames, kp = render_task("finger", 2.0, seconds=1.0, size=(width, height), side="R", seed=3, keypoints=True)
    path = tmp_path / name
    write_video(path, frames, "libx264")
    kp.save(keypoints_path(path))
    return path, frames, kp


def test_a_cropped_synpd_finger_clip_holds_the_hand(tmp_path):
    path, frames, kp = _finger_video(tmp_path)
    x0, y0, x1, y1 = box = keypoint_box(kp, "finger", 160, 120, 0.25)
    assert x1 - x0 == y1 - y0 and (x1 - x0) * (y1 - y0) < 0.6 * 160 * 120  # smaller than the frame
    hand = np.stack([kp.point(n) for n in NEEDS["finger"]], axis=1).reshape(-1, 2)  # SynPD's joints: pixels
    assert ((hand >= (x0, y0)) & (hand <= (x1, y1))).all()
    # the decoded clip is that part of the picture (the hand), resized; not the whole frame
    clip = read_clip(path, ClipSpec(4, 32), box=box).astype(float)
    idx = [3, 9, 15, 21]  # sample_indices(25, 4)
    part = [av.VideoFrame.from_ndarray(np.ascontiguousarray(f[y0:y1, x0:x1]), format="rgb24").to_ndarray(
        width=32, height=32, format="rgb24", interpolation="AREA") for f in frames[idx]]
    assert np.abs(clip - np.stack(part)).mean() < 8
    whole = read_clip(path, ClipSpec(4, 32)).astype(float)
    assert np.abs(clip - whole).mean() > 2 * np.abs(clip - np.stack(part)).mean()


def test_a_video_without_keypoints_keeps_its_whole_picture_and_says_so(tmp_path):
    root = make_synpd(tmp_path / "synpd", size="smoke", seed=0, progress=False, tasks=["finger"])
    lost = sorted(root.rglob("*.keypoints.npz"))[0]
    lost.unlink()
    result = preprocess(root, ClipSpec(2, 16, crop="keypoints"), tmp_path / "cache", workers=1, progress=False)
    bare = result[result["crop_note"] != ""]
    assert len(bare) == 1 and bare["ok"].all() and bare["box"].isna().all()
    assert "whole picture kept" in bare["crop_note"].iloc[0] and "pdlib track" in bare["crop_note"].iloc[0]
    assert "whole picture kept" in bare["warning"].iloc[0]  # so the report lists it
    assert result.attrs["whole"] == "1 video without keypoints kept its whole picture"
    others = result[result["crop_note"] == ""]
    assert others["box"].notna().all() and all("_crop" in c for c in others["cache"])
    assert "whole picture kept" in open(result.attrs["report"]).read()
    # manifest and none crops ignore keypoints: no notes
    plain = preprocess(root, ClipSpec(2, 16, crop="none"), tmp_path / "cache", workers=1, progress=False)
    assert plain.attrs["whole"] == "" and plain["box"].isna().all()


def test_the_cache_decodes_again_when_the_box_changes_and_not_otherwise(tmp_path):
    path, _, kp = _finger_video(tmp_path)
    spec, cache = ClipSpec(2, 16, crop="keypoints"), tmp_path / "cache"
    a, b = keypoint_box(kp, "finger", 160, 120, 0.25), keypoint_box(kp, "finger", 160, 120, 0.5)
    assert a != b
    first = cache_clips([str(path)], spec, cache, crops=[a], workers=1, progress=False)
    again = cache_clips([str(path)], spec, cache, crops=[a], workers=1, progress=False)
    other = cache_clips([str(path)], spec, cache, crops=[b], workers=1, progress=False)
    assert list(first["decoded"]) == [True] and list(again["decoded"]) == [False] and list(other["decoded"]) == [True]
    assert first["cache"][0] == again["cache"][0] != other["cache"][0]
    videos = pd.DataFrame({"path": [str(path)], "task": ["finger"], "side": ["R"]})
    boxes, notes = keypoint_boxes(videos, None, 0.25)  # the keypoints beside the video, its size read from it
    assert boxes == [a] and notes == [""]


def test_old_recipes_with_crop_true_or_false_still_load_and_keep_their_digest():
    saved = {"frames": 16, "size": 64, "window": "middle", "crop": True}
    spec = ClipSpec(**saved)
    assert spec.crop == "manifest" and spec == ClipSpec(16, 64, "middle") and spec.as_dict() == saved
    assert recipe_text({"clip": spec.as_dict()}) == recipe_text({"clip": saved})  # the recipes' digest
    assert ClipSpec(**{**saved, "crop": False}).crop == "none"
    assert ClipSpec(**{**saved, "crop": False}).as_dict()["crop"] is False
    keypoints = ClipSpec(16, 64, "middle", "keypoints", crop_margin=0.5)
    assert keypoints.as_dict() == {**saved, "crop": "keypoints", "crop_margin": 0.5}
    assert ClipSpec(**json.loads(json.dumps(keypoints.as_dict()))) == keypoints
    params = {"frames": 16, "size": 64, "clip_window": "middle", "clip_crop": "keypoints", "clip_crop_margin": 0.5}
    assert ClipSpec.from_params(params) == keypoints
    with pytest.raises(ValueError, match="manifest, keypoints, none"):
        ClipSpec(16, 64, crop="hands")


def test_scoring_without_keypoints_or_mediapipe_says_so_in_one_line(tmp_path, monkeypatch):
    from pdlib import tracking

    path, _, _ = _finger_video(tmp_path)
    keypoints_path(path).unlink()

    def missing():
        raise tracking.TrackingUnavailable("tracking needs MediaPipe 0.10.14")

    monkeypatch.setattr(tracking, "_solutions", missing)
    videos = pd.DataFrame({"path": [str(path)], "task": ["finger"], "side": ["R"]})
    line = track_missing(videos, tmp_path / "cache")
    assert "\n" not in line and line.startswith("keypoint crops need keypoints: 1 video without them")
    boxes, notes = keypoint_boxes(videos, tmp_path / "cache", 0.25)
    assert boxes == [None] and "whole picture kept" in notes[0]
