"""Speed of the kinematics: tracking a 6 s 1080p video with MediaPipe (`pdlib track`), and the features of a
whole dataset from its keypoints (what the kinematics row adds to notebook 02).

    python benchmarks/bench_track.py [--dataset outputs/default/data/synpd]

Tracking (needs the `.[pose]` extra): one 6 s 1080p25 H.264 video, the hand landmarker and the pose
landmarker, frames handed to MediaPipe at 640 px (the default) and at 1280 px on the longer side; two clips:
moving texture with no one in it (the palm or body detector runs on every frame: the slow case) and SynPD's
finger tapping drawn at 1080p. Decoding alone is timed apart. Features: `pdlib.kinematics.video_features` over
every video of --dataset from its keypoints beside each video (SynPD's), in one process.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_data import make_1080p  # noqa: E402  (the benchmark beside this file)

from pdlib.data import load_manifest  # noqa: E402
from pdlib.data.video import iter_frames  # noqa: E402
from pdlib.synth import render_task  # noqa: E402
from pdlib.synth.render import write_video  # noqa: E402
from pdlib.tracking import (
    track_video,  # noqa: E402
    video_features,  # noqa: E402
)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, help="a dataset whose videos have keypoints beside them (SynPD)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clips = {"texture, no one in it": make_1080p(Path(tmp) / "texture.mp4")}
        drawn = Path(tmp) / "finger_1080p.mp4"
        write_video(drawn, render_task("finger", 1.0, seconds=6.0, size=(1920, 1080), seed=3))
        clips["SynPD finger tapping, drawn at 1080p"] = drawn
        for name, path in clips.items():
            for side in (640, 1280):
                seconds, n = timed(lambda p=path, s=side: sum(1 for _ in iter_frames(p, s)))
                print(f"{name}: decoding {n} frames at {side} px: {seconds:.2f} s")
                for task in ("finger", "leg"):
                    seconds, kp = timed(lambda p=path, t=task, s=side: track_video(p, t, "R", max_side=s))
                    what = "hand" if task == "finger" else "pose"
                    print(f"  {what} landmarker at {side} px: {seconds:.2f} s ({len(kp.t) / seconds:.1f} frames/s), "
                          f"found in {kp.tracked(task):.0%} of frames")
    if a.dataset:
        videos, _ = load_manifest(a.dataset)
        seconds, table = timed(lambda: video_features(videos))
        print(f"kinematic features of {len(videos)} videos of {a.dataset}: {seconds:.1f} s "
              f"({(table['note'] != '').sum()} without usable keypoints)")


if __name__ == "__main__":
    main()
