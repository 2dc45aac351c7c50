"""A fake `outputs/<profile>` tree for the attention-explorer tests: tiny TSA models, videos, predictions, features.

Four patients (one examination each, patients 0 and 2 in fold 0, 1 and 3 in fold 1), two tasks, a left and a
right video per task: what notebooks 02 and 04 write (paths by pdlib.layout, ARCHITECTURE.md), small enough for
seconds. The models record the clip spec they were "trained" on; notebook 04's heads are fitted on the fake
features by the library itself (`ExamExperiment.assemble`).
"""

import json
from pathlib import Path

import av
import numpy as np
import pandas as pd
import torch

from pdlib.exam_level import ExamExperiment, HeadConfig
from pdlib.layout import ClipSpec, Layout
from pdlib.models import build_model, save_model

FRAMES, SIZE = 16, 64  # clip shape the fixture models are "trained" on
TASKS = ("finger", "hand")
PATIENTS = ("P0", "P1", "P2", "P3")
TOTALS = (12, 30, 55, 20)  # MDS-UPDRS-III totals: examination classes 0, 1, 2, 0
FEATURE_SHAPE = (16, 2, 2, 2)  # layer4 (C, T', H', W') of the fake features; avgpool has d = C


def tiny_tsa(seed: int) -> torch.nn.Module:
    """A randomly initialised r3d18_tsa small enough for CPU tests (T' = 8 in every TSA layer for 16 frames)."""
    torch.manual_seed(seed)
    return build_model("r3d18_tsa", 2, clip=ClipSpec(FRAMES, SIZE), widen=0.125, temporal_strides=(1, 1, 1),
                       attention={"heads": 2})


def write_video(path: Path, seed: int, n_frames: int = 24, size: int = 80) -> None:
    """An mp4 of a bright square moving over noise (motion, so attention differs over time and positions)."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=12)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for t in range(n_frames):
            img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
            x = int((size - 20) * (0.5 + 0.5 * np.sin(2 * np.pi * t / (6 + seed % 5))))
            img[20:40, x:x + 20] = (240, 200, 40)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def build_outputs(outputs: Path, profile: str = "smoke", setting: str = "tsa_synact", models: bool = True) -> Path:
    """Writes `outputs/<profile>/` (data, folds, models, predictions, features, heads); returns that profile folder."""
    layout = Layout(profile, outputs=outputs)
    base = layout.base
    data = layout.synth_dir("synpd")
    rng = np.random.default_rng(0)
    folds = {p: i % 2 for i, p in enumerate(PATIENTS)}
    exams = pd.DataFrame({"exam": [f"E{i}" for i in range(len(PATIENTS))], "patient": PATIENTS,
                          "condition": "OFF", "total": TOTALS})
    rows = []
    for (i, exam), task, side in ((e, t, s) for e in enumerate(exams["exam"]) for t in TASKS for s in "LR"):
        video = f"videos/{task}_{exam}_{side}.mp4"
        write_video(data / video, seed=len(rows))
        rows.append({"video": video, "patient": PATIENTS[i], "exam": exam, "task": task, "side": side,
                     "score": int(rng.integers(0, 5))})
    videos = pd.DataFrame(rows)
    videos.to_csv(data / "videos.csv", index=False)
    exams.to_csv(data / "exams.csv", index=False)
    layout.reuse_or_reset(layout.folds, {"fixture": "folds"})
    pd.Series(folds, name="fold").rename_axis("patient").to_csv(layout.folds_csv)
    if not models:
        return base
    for t, task in enumerate(TASKS):
        preds = videos[videos["task"] == task].assign(
            label=lambda d: (d["score"] >= 2).astype(int), fold=lambda d: d["patient"].map(folds),
            prob=lambda d: rng.uniform(0, 1, len(d)).round(3), note="")
        preds["pred"] = (preds["prob"] >= 0.5).astype(int)
        out = layout.predictions(setting, task)
        out.parent.mkdir(parents=True, exist_ok=True)
        preds[["video", "patient", "exam", "task", "side", "label", "fold", "prob", "pred", "note"]].to_csv(
            out, index=False)
        layout.reuse_or_reset(layout.feature_unit(setting, task), {"fixture": task})
        for k in sorted(set(folds.values())):
            save_model(tiny_tsa(seed=10 * t + k), layout.fold_model(setting, task, k))
            feats = layout.features(setting, task, k)
            feats.parent.mkdir(parents=True, exist_ok=True)
            layer4 = rng.normal(size=(len(exams), *FEATURE_SHAPE)).astype(np.float32)
            np.savez(feats, exam=exams["exam"].to_numpy(str), layer4=layer4, avgpool=layer4.mean(axis=(2, 3, 4)))
    experiment = ExamExperiment(layout, setting, head=HeadConfig(epochs=5), repeats=1)
    layout.reuse_or_reset(layout.baseline_unit, experiment.baseline_recipe)  # what notebook 03 leaves
    layout.baseline.write_text(json.dumps({"task": TASKS[0], "input": "avgpool"}))
    experiment.assemble("assembling")
    return base
