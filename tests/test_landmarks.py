"""Landmark files (`pdlib.landmarks`): long-format CSVs read and validated (file, row and fault named), pixels or
fractions, and the patient's hand of a side chosen by position in a recording of both hands."""

import re

import numpy as np
import pandas as pd
import pytest

from pdlib.kinematics import HAND_LANDMARKS, POSE_LANDMARKS, Keypoints
from pdlib.landmarks import (
    LandmarksError,
    frame_timing,
    load_keypoints,
    own_keypoints,
    read_landmarks,
    side_keypoints,
)

W, H = 1920.0, 1080.0
# A hand in hand sizes (wrist to middle-finger MCP = 1), fingers up (y down in the picture).
HAND = np.array([(0, 0), (-.3, -.2), (-.5, -.4), (-.65, -.6), (-.75, -.8), (-.25, -.95), (-.3, -1.3), (-.32, -1.55),
                 (-.34, -1.75), (0, -1), (0, -1.4), (0, -1.65), (0, -1.9), (.22, -.95), (.25, -1.3), (.27, -1.55),
                 (.28, -1.75), (.42, -.85), (.48, -1.1), (.52, -1.3), (.55, -1.45)], float)


def hand(x: float, y: float, size: float = 100.0, tap: float = 0.0) -> np.ndarray:
    """(21, 2) pixels: a hand whose wrist is at (x, y); `tap` in 0-1 closes the thumb onto the index tip."""
    points = HAND * size + (x, y)
    points[4] += tap * (points[8] - points[4])
    return points


def write(path, frames, fractions=False, extra=None):
    """frames: [(t, [(track, (21, 2) pixels), ...]), ...] -> a .landmarks.csv (fractions of W x H if asked)."""
    rows = []
    for t, dets in frames:
        for track, pts in dets:
            for k, (x, y) in enumerate(pts):
                rows.append({"t": t, "track": track, "landmark": k, "x": x / W if fractions else x,
                             "y": y / H if fractions else y, "z": 0.0, **(extra or {})})
    pd.DataFrame(rows, columns=["t", "track", "landmark", "x", "y", "z", *(extra or {})]).to_csv(path, index=False)
    return path


def two_hands(n=60, fps=30.0, swap_every=7):
    """The patient's right hand (picture left, x ~ 600) taps; the left (x ~ 1300) rests lower; the tracker's
    track ids swap every `swap_every` frames."""
    frames = []
    for i in range(n):
        right = hand(600 + 10 * np.sin(i / 5), 500, tap=0.5 + 0.5 * np.sin(2 * np.pi * 3 * i / fps))
        left = hand(1300, 800, size=90)
        a, b = (0, 1) if (i // swap_every) % 2 == 0 else (1, 0)
        frames.append((i / fps, sorted([(a, right), (b, left)], key=lambda d: d[0])))
    return frames


def wrist_x(kp: Keypoints) -> np.ndarray:
    return kp.xy[:, HAND_LANDMARKS.index("wrist"), 0]


def test_pixels_and_fractions_read_alike_and_fractions_without_a_size_are_said(tmp_path):
    frames = two_hands(10)
    pixels = read_landmarks(write(tmp_path / "px.landmarks.csv", frames), "hand")
    fractions = read_landmarks(write(tmp_path / "fr.landmarks.csv", frames, fractions=True), "hand", W, H)
    assert pixels.width is None and pixels.warnings == [] and not pixels.square
    assert (fractions.width, fractions.height) == (W, H) and fractions.warnings == []
    assert np.allclose(pixels.table[["x", "y"]], fractions.table[["x", "y"]])
    assert len(pixels.table) == 10 * 2 * 21

    path = write(tmp_path / "sq.landmarks.csv", frames, fractions=True)
    square = read_landmarks(path, "hand", width=np.nan, height=np.nan)  # videos.csv's empty cells
    assert square.square and square.width is None and len(square.warnings) == 1
    assert square.warnings[0].startswith(f"{path}: coordinates are fractions of the frame and its size is not given")
    assert np.allclose(square.table["x"], pixels.table["x"] / W) and square.table["x"].max() < 1
    kp = side_keypoints(square, "R")
    assert kp.notes == tuple(square.warnings) and kp.width is None
    assert np.allclose(wrist_x(kp), 600 / W, atol=0.01)  # the square frame's centre is 0.5: x still decides

    no_z = tmp_path / "noz.landmarks.csv"  # z left empty: 2-D keypoints, still tracked
    pd.read_csv(path).assign(z=np.nan).to_csv(no_z, index=False)
    flat = side_keypoints(read_landmarks(no_z, "hand", W, H), "L")
    assert flat.xy.shape == (10, 21, 2) and flat.tracked("finger") == 1.0

    sized = write(tmp_path / "own.landmarks.csv", frames, fractions=True, extra={"width": W, "height": H})
    own = read_landmarks(sized, "hand")  # the file's own width and height columns (as `pdlib track` writes)
    assert (own.width, own.height) == (W, H) and np.allclose(own.table["x"], pixels.table["x"])


def _lines(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


MALFORMED = {
    "binary": (b"\x00\xff\xfe\x00garbage\x89PNG", "cannot be read as a CSV table|missing column"),
    "empty": ([], "empty file \\(expected a header: t, track, landmark, x, y\\)"),
    "columns": (["t,track,x,y", "0,0,1,2"], "missing column landmark \\(found: t, track, x, y"),
    "t": (["t,track,landmark,x,y", "0,0,0,1,2", "0,0,1,1,2", "abc,0,2,1,2"], "row 4: t is not a number \\('abc'\\)"),
    "x": (["t,track,landmark,x,y", "0,0,0,1,2", "0,0,1,left,2"], "row 3: x is not a number \\('left'\\)"),
    "track": (["t,track,landmark,x,y", "0,0,0,1,2", "0,1.5,1,1,2"], "row 3: track is not an integer \\(1.5\\)"),
    "range": (["t,track,landmark,x,y", "0,0,0,1,2", "0,0,21,1,2"],
              "row 3: landmark 21 is out of range for hand landmarks \\(0-20\\) \\(pose landmarks for a hand "
              "task\\?\\)"),
    "twice": (["t,track,landmark,x,y", "0,0,0,1,2", "0,1,0,1,2", "0,0,0,3,4"],
              "row 4: landmark 0 of the detection at t 0 s, track 0 appears twice \\(first on row 2\\)"),
    "empty t": (["t,track,landmark,x,y", "0,0,0,1,2", "", "0.1,0,0,1,2"], "row 3: t is empty"),
    "cells": (["t,track,landmark,x,y", "0,0,0,1,2", "0,0,1,1,2,7"], "row 3: 6 cells where the header has 5"),
    "outside": (["t,track,landmark,x,y", "0,0,0,0.5,0.5", "0,0,1,0.5,0.6", "0,0,2,2.5,0.5"],
                "row 4: x = 2.5 lies outside the frame \\(fractions of the frame, -0.5 to 1.5"),
    "size": (["t,track,landmark,x,y,width,height", "0,0,0,1,2,640,480", "0,0,1,1,2,1280,480"],
             "row 3: width 1280 differs from row 2's 640 \\(one frame size per file\\)"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_file_is_named_with_its_row_and_fault(tmp_path, case):
    content, fault = MALFORMED[case]
    path = tmp_path / "bad.landmarks.csv"
    path.write_bytes(content) if isinstance(content, bytes) else _lines(path, content)
    if case == "empty":
        path.write_text("")
    with pytest.raises(LandmarksError, match=f"^{re.escape(str(path))}: ({fault})"):
        read_landmarks(path, "hand")


def test_a_missing_file_and_an_unknown_suffix_are_named(tmp_path):
    with pytest.raises(LandmarksError, match=f"^{re.escape(str(tmp_path / 'no.landmarks.csv'))}: no such file$"):
        load_keypoints(tmp_path / "no.landmarks.csv", "finger", "L")
    with pytest.raises(LandmarksError, match="a.csv: not a landmark file \\(expected a name ending .keypoints.npz"):
        load_keypoints(tmp_path / "a.csv", "finger", "L")


def test_each_sides_hand_is_chosen_by_position_whatever_the_track_ids(tmp_path):
    path = write(tmp_path / "rec.landmarks.csv", two_hands(60, swap_every=7))
    det = read_landmarks(path, "hand", W, H)
    right, left = side_keypoints(det, "R"), side_keypoints(det, "L")
    assert right.xy.shape == (60, 21, 3) and right.side == "R" and right.source == "rec.landmarks.csv"
    assert np.abs(wrist_x(right) - 600).max() <= 10 and np.all(wrist_x(left) == 1300)
    assert (right.width, right.height) == (W, H) and right.tracked("finger") == 1.0
    mirrored = side_keypoints(det, "R", mirrored=True)  # a selfie view: the right hand on the right
    assert np.all(wrist_x(mirrored) == 1300)
    same = load_keypoints(path, "finger", "L", width=W, height=H)
    assert np.array_equal(same.xy, left.xy, equal_nan=True)


def test_a_spurious_third_hand_is_never_taken(tmp_path):
    frames = two_hands(60)
    for i in range(3, 60, 6):  # a small ghost between the hands, and a full-size one far above the left hand
        ghost = hand(950, 650, size=35) if i % 12 == 3 else hand(1300, 100)
        frames[i][1].insert(0, (2, ghost))
    det = read_landmarks(write(tmp_path / "ghost.landmarks.csv", frames), "hand")
    right, left = side_keypoints(det, "R"), side_keypoints(det, "L")
    assert np.abs(wrist_x(right) - 600).max() <= 10 and np.all(wrist_x(left) == 1300)
    assert np.all(left.xy[:, 0, 1] == 800) and right.tracked("finger") == left.tracked("finger") == 1.0


def test_frames_with_one_hand_give_it_to_its_side_only(tmp_path):
    frames = two_hands(60)
    for i in range(20, 30):  # only the tapping (right) hand, as track 0 or 1
        frames[i] = (frames[i][0], [(i % 2, hand(600, 500))])
    for i in range(40, 45):  # only the resting (left) hand, as track 0
        frames[i] = (frames[i][0], [(0, hand(1300, 800, size=90))])
    det = read_landmarks(write(tmp_path / "one.landmarks.csv", frames), "hand")
    right, left = side_keypoints(det, "R"), side_keypoints(det, "L")
    lost_left = np.isnan(wrist_x(left))
    assert np.array_equal(np.nonzero(lost_left)[0], np.arange(20, 30))
    assert np.array_equal(np.nonzero(np.isnan(wrist_x(right)))[0], np.arange(40, 45))
    assert np.all(wrist_x(left)[~lost_left] == 1300) and np.nanmax(np.abs(wrist_x(right) - 600)) <= 10


def test_absent_frames_are_nan_rows_at_their_times(tmp_path):
    frames = two_hands(40)
    frames = [(-0.6, frames[0][1])] + frames[1:5] + frames[10:]  # a lone early first frame; frames 5-9 absent
    det = read_landmarks(write(tmp_path / "gaps.landmarks.csv", frames), "hand")
    kp = side_keypoints(det, "R")
    expect = np.concatenate([np.linspace(-0.6, 1 / 30, 20), np.arange(2, 40) / 30])
    assert np.allclose(kp.t, expect)  # the 0.63 s to the next frame is 19 frame intervals: 18 frames put back
    missing = np.isnan(wrist_x(kp))
    assert np.array_equal(np.nonzero(missing)[0], np.r_[1:19, 23:28])
    assert frame_timing(kp.t) == pytest.approx((30.0, False)) and frame_timing(det.frames[0])[1] is False
    path = write(tmp_path / "said.landmarks.csv", two_hands(40)[:5] + two_hands(40)[10:])
    with open(path, "a") as f:  # frames 5-9 recorded with nothing detected: t alone (as `pdlib track` writes)
        f.write("".join(f"{i / 30!r},,,,,\n" for i in range(5, 10)))
    said = side_keypoints(read_landmarks(path, "hand"), "L")
    assert np.allclose(said.t, np.arange(40) / 30) and np.array_equal(np.nonzero(np.isnan(wrist_x(said)))[0],
                                                                      np.arange(5, 10))


def test_a_side_never_seen_is_said_and_a_lone_hand_is_placed_by_position(tmp_path):
    lone = [(i / 30, [(0, hand(500, 600))]) for i in range(30)]  # one hand, on the left of the picture
    path = write(tmp_path / "lone.landmarks.csv", lone, fractions=True)
    det = read_landmarks(path, "hand", W, H)
    assert side_keypoints(det, "R").tracked("finger") == 1.0
    with pytest.raises(LandmarksError, match=re.escape(f"{path}: no detection of the patient's left hand (on the "
                                                       "right of the picture): the one hand in view is on the left")):
        side_keypoints(det, "L")
    assert side_keypoints(det, "L", mirrored=True).tracked("finger") == 1.0
    unknown = read_landmarks(write(tmp_path / "px.landmarks.csv", lone), "hand")  # pixels, no frame size
    kp = side_keypoints(unknown, "L")
    assert kp.tracked("finger") == 1.0 and len(kp.notes) == 1
    assert "position cannot tell its side (the frame width is unknown): taken as the patient's left" in kp.notes[0]
    empty = _lines(tmp_path / "none.landmarks.csv", ["t,track,landmark,x,y"])
    with pytest.raises(LandmarksError, match="none.landmarks.csv: no detection of the patient's right hand \\(on the "
                                             "left of the picture\\): no hand detected in any frame"):
        load_keypoints(empty, "finger", "R")
    with pytest.raises(LandmarksError, match="two hands in view: the row must name its side"):
        side_keypoints(read_landmarks(write(tmp_path / "two.landmarks.csv", two_hands(20)), "hand"), "")


def test_pose_files_take_the_most_complete_body(tmp_path):
    rows = []
    for i in range(5):
        for k in range(33):
            rows.append((i / 25, 0, k, 100 + k, 200.0, 0.9))
            if k < 10:
                rows.append((i / 25, 1, k, 900 + k, 200.0, 0.9))  # a partial second body
    table = pd.DataFrame(rows, columns=["t", "track", "landmark", "x", "y", "visibility"])
    table.loc[(table["landmark"] == POSE_LANDMARKS.index("left_knee")) & (table["t"] == 0), "visibility"] = 0.2
    path = tmp_path / "p.landmarks.csv"
    table.to_csv(path, index=False)
    kp = load_keypoints(path, "leg", "L")
    assert kp.xy.shape == (5, 33, 2) and np.all(kp.xy[:, 0, 0] == 100)
    assert np.isnan(kp.point("knee")[0]).all() and kp.tracked("leg") == 0.8  # unsure (visibility 0.2): not found
    flipped = load_keypoints(path, "leg", "L", mirrored=True)
    assert np.array_equal(flipped.point("left_knee")[1:], kp.point("right_knee")[1:])


def test_npz_keeps_the_frame_size_and_old_files_still_load(tmp_path):
    kp = Keypoints(np.ones((4, 21, 2)), np.arange(4.0), "hand", "L", "mine", 1280.0, 720.0)
    kp.save(tmp_path / "a.keypoints.npz")
    back = load_keypoints(tmp_path / "a.keypoints.npz", "finger", "L")
    assert (back.width, back.height, back.side, back.source) == (1280.0, 720.0, "L", "mine")
    np.savez(tmp_path / "old.keypoints.npz", xy=np.ones((3, 21, 2)), t=np.arange(3.0), convention="hand", side="R",
             source="old")
    old = load_keypoints(tmp_path / "old.keypoints.npz", "finger", "R")
    assert old.width is None and old.height is None and old.xy.shape == (3, 21, 2)
    assert load_keypoints(tmp_path / "old.keypoints.npz", "finger", "R", width=640, height=480).width == 640
    with pytest.raises(LandmarksError, match="old.keypoints.npz: hand keypoints, but task 'leg' needs pose"):
        load_keypoints(tmp_path / "old.keypoints.npz", "leg", "R")


def test_own_keypoints_of_a_row(tmp_path):
    video = tmp_path / "rec.mp4"
    assert own_keypoints(video) is None
    (tmp_path / "rec.landmarks.csv").write_text("t,track,landmark,x,y\n")
    assert own_keypoints(video) == tmp_path / "rec.landmarks.csv"
    (tmp_path / "rec.keypoints.npz").write_bytes(b"")
    assert own_keypoints(video) == tmp_path / "rec.keypoints.npz"
    assert own_keypoints(tmp_path / "x.Landmarks.csv") == tmp_path / "x.Landmarks.csv"  # itself, found or not


def test_frame_timing_names_slow_and_variable_rates():
    rng = np.random.default_rng(0)
    t30 = np.delete(np.arange(300) / 30, [5, 6, 7, 100])  # absent frames are not a variable rate
    assert frame_timing(np.concatenate([[-0.7], t30])) == pytest.approx((30.0, False))
    assert frame_timing(np.arange(160) / 16 + 0.001 * rng.standard_normal(160)) == pytest.approx((16.0, False),
                                                                                                  rel=0.01)
    vfr = np.cumsum(rng.uniform(0.045, 0.085, 200))  # a webcam's 16 fps, each frame 45-85 ms
    fps, variable = frame_timing(vfr)
    assert variable and 13 < fps < 18
    assert np.isnan(frame_timing(np.array([1.0]))[0])
