"""Speed of scoring new videos (`pdlib score`): one 6 s 1080p phone-like video, and a folder of 100 SynPD videos.

Targets (2-core CPU): one 1080p video <= 5 s including decoding; 100 SynPD videos <= 60 s; the fold models
loaded once per run. With --models (a setting's folder, outputs/<profile>/models/<setting>) the run's own
models score; without it, five fold models of the default profile's task model (params/default.yaml: depth,
width, frame differences, TSA or not as its `setting`, clip spec) with random weights and random out-of-fold
predictions stand in: the time of a forward pass does not depend on the weights.

    python benchmarks/bench_score.py [--models outputs/default/models/tsa_synact] [--videos 100]
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_data import make_1080p  # noqa: E402  (the benchmark beside this file)

from pdlib.data import ClipSpec  # noqa: E402
from pdlib.jobs import default_workers  # noqa: E402
from pdlib.layout import Layout  # noqa: E402
from pdlib.models import build_model, save_model  # noqa: E402
from pdlib.params import load_params  # noqa: E402
from pdlib.pretraining import arch_name  # noqa: E402
from pdlib.scoring import score_request  # noqa: E402
from pdlib.synth import make_synpd  # noqa: E402
from pdlib.task_level import SETTINGS  # noqa: E402


def stand_in_models(outputs: Path) -> Path:
    """Five fold models of the default profile's `setting` for finger, and 150 random out-of-fold predictions."""
    p = load_params("default")
    layout = Layout("bench", outputs=outputs)
    arch = arch_name(p["task_model"], SETTINGS[p["setting"]][1])
    spec = ClipSpec.from_params(p)
    for k in range(p["n_splits"]):
        torch.manual_seed(k)
        model = build_model(arch, 2, clip=spec, widen=p["widen"], frame_diff=p["frame_diff"])
        save_model(model, layout.fold_model(p["setting"], "finger", k))
    rng = np.random.default_rng(0)
    prob = rng.uniform(size=150)
    preds = pd.DataFrame({"video": [f"v{i}" for i in range(150)], "label": (rng.uniform(size=150) < prob).astype(int),
                          "fold": np.arange(150) % 5, "prob": prob, "pred": (prob > 0.5).astype(int), "note": ""})
    path = layout.predictions(p["setting"], "finger")
    path.parent.mkdir(parents=True, exist_ok=True)
    preds.to_csv(path, index=False)
    return layout.setting_models(p["setting"])


def copy_of(models: Path, outputs: Path) -> Path:
    """The finger models and out-of-fold predictions of a run's setting, copied under `outputs` (so the timed
    runs decode into a cache of their own, never the run's)."""
    unit = models.resolve()
    run, setting = Layout(unit.parents[1].name, outputs=unit.parents[2]), unit.name
    bench = Layout("bench", outputs=outputs)
    shutil.copytree(run.task_unit(setting, "finger"), bench.task_unit(setting, "finger"))
    bench.predictions(setting, "finger").parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(run.predictions(setting, "finger"), bench.predictions(setting, "finger"))
    return bench.setting_models(setting)


def timed_score(paths: list[str], models: Path) -> tuple[float, pd.DataFrame]:
    unit = models.resolve()
    layout = Layout(unit.parents[1].name, outputs=unit.parents[2])
    t = time.perf_counter()
    scores, _ = score_request(paths, layout, unit.name, "finger", "", 0.9, progress=False)
    return time.perf_counter() - t, scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, help="a setting's models folder (default: stand-ins, see above)")
    ap.add_argument("--videos", type=int, default=100, help="SynPD videos in the folder (default: %(default)s)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = copy_of(args.models, tmp / "outputs") if args.models else stand_in_models(tmp / "outputs")
        kind = "the run's" if args.models else "stand-in (random weights, default architecture)"
        print(f"models: {models} ({kind}); {default_workers()} cores, torch threads {torch.get_num_threads()}")
        hd = make_1080p(tmp / "phone_1080p.mp4")
        cache = Path(models).resolve().parents[1] / "cache"
        shutil.rmtree(cache, ignore_errors=True)  # decoding counted
        seconds, scores = timed_score([str(hd)], Path(models))
        print(f"one 6 s 1080p25 H.264 video, in process (models loaded, decoded, scored): {seconds:.2f} s "
              f"(target <= 5 s); P(severe) {scores['prob_1'].iloc[0]:.3f}, call {scores['call'].iloc[0]}")
        shutil.rmtree(cache, ignore_errors=True)
        t = time.perf_counter()
        cmd = [sys.executable, "-m", "pdlib.cli", "score", str(hd), "--task", "finger", "--models", str(models),
               "--out", str(tmp / "scores")]
        done = subprocess.run(cmd, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        print(f"the same as a command, `pdlib score` (Python start and imports included): "
              f"{time.perf_counter() - t:.2f} s")

        root = make_synpd(tmp / "synpd", size="default", seed=1, progress=False, tasks=["finger", "hand"])
        folder = tmp / "folder"
        folder.mkdir()
        for v in sorted((root / "videos").rglob("*.mp4"))[: args.videos]:
            shutil.copy(v, folder / f"{v.parent.name}_{v.name}")
        shutil.rmtree(cache, ignore_errors=True)
        seconds, scores = timed_score([str(folder)], Path(models))
        with av.open(str(next(folder.iterdir()))) as c:
            s = c.streams.video[0]
            what = f"{s.width}x{s.height}, {float(s.duration * s.time_base):.0f} s"
        print(f"a folder of {len(scores)} SynPD videos ({what}), in process: {seconds:.1f} s "
              f"(target <= 60 s; {len(scores) / seconds:.1f} videos/s)")


if __name__ == "__main__":
    main()
