"""A synthetic recording's hands filmed (issue 36): the true landmarks of `two_handed_recording` drawn as flat
skin-coloured hands (a palm polygon, fingers as thick round-capped strokes along MediaPipe's finger chains)
over a wall and a lap, written as a video that real MediaPipe finds hands in (about half the frames of a
640x360 film: enough to test which hand `pdlib track` follows; its landmark estimates on drawn hands are
coarse, so the film tests the hand chosen and the window measured, not the features' values)."""

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from pdlib.synth.render import write_video

FINGERS = ((0, 1, 2, 3, 4), (0, 5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (0, 17, 18, 19, 20))
PALM = (0, 1, 2, 5, 9, 13, 17)
SKIN, WALL, LAP = (225, 175, 145), (70, 80, 95), (50, 55, 70)


def _draw_hand(draw: ImageDraw.ImageDraw, p: np.ndarray) -> None:
    """One hand from its (21, 2) landmarks in pixels; strokes scale with the wrist to middle-MCP distance."""
    size = float(np.linalg.norm(p[9] - p[0]))
    draw.polygon([tuple(p[k]) for k in PALM], fill=SKIN)
    r = 0.11 * size
    for chain in FINGERS:
        points = [tuple(p[k]) for k in chain]
        draw.line(points, fill=SKIN, width=max(2, round(2 * r)), joint="curve")
        for x, y in points:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=SKIN)


def film_recording(detections: pd.DataFrame, path: str | Path, width: int, height: int, fps: int) -> Path:
    """Draw every frame's detections (long format: t, track, landmark 0-20, x, y in pixels of a
    `width`x`height` frame; one time per frame, `fps` apart) and write them as an H.264 video at `path`."""
    df = detections.sort_values(["t", "track", "landmark"], kind="stable")
    frames = []
    for _, rows in df.groupby("t", sort=True):
        image = Image.new("RGB", (width, height), WALL)
        draw = ImageDraw.Draw(image)
        draw.rectangle([0, int(0.72 * height), width, height], fill=LAP)
        for _, hand in rows.groupby("track", sort=True):
            _draw_hand(draw, hand[["x", "y"]].to_numpy(float))
        frames.append(np.asarray(image))
    write_video(Path(path), np.stack(frames), fps=fps)
    return Path(path)
