"""How much task-level signal do the clips carry? A motion-energy baseline, per task and sampling.

    python benchmarks/probe_signal.py DATASET [--frames 16] [--size 64] [--window middle] [--tasks finger hand]

For every task: each clip (T, S, S, 3) -> gray -> two 16x16 maps (per-pixel temporal std and mean absolute
frame difference, 4x4 average-pooled) -> L2 logistic regression (scikit-learn, C chosen by inner CV,
balanced classes) in the dataset's patient-level 5 folds -> pooled out-of-fold MCC. It trains in seconds and
calibrates what the deep models of notebook 02 should at least reach with the same sampling; compare
`--window none` (T frames spread over the whole video, the study) with `--window middle` (T consecutive
frames at the native rate). Clips are cached under --cache (default: the default profile's, outputs/default/cache).
"""

import argparse
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import matthews_corrcoef

from pdlib.baselines import motion_features
from pdlib.data import ClipSpec, cache_clips
from pdlib.data.manifest import load_manifest
from pdlib.folds import patient_folds, read_folds
from pdlib.layout import Layout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--window", default="none",
                    help="'none' (spread over the video), 'middle', a start frame or windows<K> (K windows over it)")
    ap.add_argument("--tasks", nargs="+", default=["finger", "hand", "pronation", "toe", "leg", "postural",
                                                   "kinetic"])
    ap.add_argument("--folds", type=Path, help="fold CSV (default: made with seed 0, as the notebooks make them)")
    ap.add_argument("--cache", type=Path)
    args = ap.parse_args()
    spec = ClipSpec(args.frames, args.size, None if args.window == "none" else args.window)
    root = args.dataset.resolve()
    cache = args.cache or Layout("default").cache_dir
    videos, _ = load_manifest(root)
    videos["patient"] = videos["patient"].astype(str)
    folds = read_folds(args.folds) if args.folds else patient_folds(videos)
    folds.index = folds.index.astype(str)
    print(f"{root.name}: {args.frames}x{args.size}x{args.size}, window {args.window}")
    for task in args.tasks:
        rows = videos[videos["task"] == task].reset_index(drop=True)
        status = cache_clips(list(rows["path"]), spec, cache, progress=False)
        rows, status = rows[status["ok"].to_numpy()], status[status["ok"]]
        x = motion_features(np.stack([np.load(p) for p in status["cache"]]), windows=spec.windows)
        y, fold = rows["label"].to_numpy(), rows["patient"].astype(str).map(folds).to_numpy()
        pred = np.zeros_like(y)
        for k in np.unique(fold):
            test = fold == k
            if len(np.unique(y[~test])) < 2:
                pred[test] = y[~test][0]
                continue
            head = LogisticRegressionCV(Cs=8, max_iter=3000, class_weight="balanced").fit(x[~test], y[~test])
            pred[test] = head.predict(x[test])
        print(f"  {task:<10} {len(y):4d} clips  motion-energy logistic MCC {matthews_corrcoef(y, pred):+.3f}",
              flush=True)


if __name__ == "__main__":
    main()
