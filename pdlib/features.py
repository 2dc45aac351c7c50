"""Features of the trained task models for task assembling (Sec. III-C, Table I): `avgpool` and `layer4` per
examination, left and right videos averaged, cached per task and fold, and stacked over tasks with a mask."""

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn
from torch.utils.data import Dataset

from pdlib.train import TrainConfig, infer


def _batches(model: nn.Module, dataset: Dataset,
             config: TrainConfig) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(avgpool (n, d), layer4 (n, C, T', H', W')) float32 per batch of `dataset`, in order."""
    for feats in infer(model, dataset, config, lambda m, x: m.forward_features(x), desc="features"):
        yield feats["avgpool"].float().cpu().numpy(), feats["layer4"].float().cpu().numpy()


def clip_features(model: nn.Module, dataset: Dataset, config: TrainConfig | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """`avgpool` (N, d) and `layer4` (N, C, T', H', W') float32 features of every clip (Sec. III-C, Table I):
    the inputs of the vector-based and the attention-based assembling heads."""
    parts = list(_batches(model, dataset, config or TrainConfig()))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def exam_task_features(model: nn.Module, dataset: Dataset, config: TrainConfig | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An examination's features from its videos, for training (notebook 02) and scoring (`pdlib score`) alike:
    `exam` (E,) ids in order of first appearance in `dataset.meta["exam"]`, `avgpool` (E, d) and `layer4`
    (E, C, T', H', W') of one fold's task model, the left and right videos of an examination averaged."""
    exam_codes, exams = pd.factorize(dataset.meta["exam"].astype(str))
    counts = np.bincount(exam_codes, minlength=len(exams)).astype(np.float32)
    avgpool = layer4 = None
    start = 0
    for a, l4 in _batches(model, dataset, config or TrainConfig()):
        if avgpool is None:  # sums per examination, so the N per-video layer4 maps are never all in memory
            avgpool = np.zeros((len(exams), *a.shape[1:]), np.float32)
            layer4 = np.zeros((len(exams), *l4.shape[1:]), np.float32)
        codes = exam_codes[start:start + len(a)]
        np.add.at(avgpool, codes, a)
        np.add.at(layer4, codes, l4)
        start += len(a)
    avgpool /= counts[:, None]
    layer4 /= counts.reshape(-1, *[1] * (layer4.ndim - 1))
    return np.asarray(exams, dtype=str), avgpool, layer4


def extract_task_features(model: nn.Module, dataset: Dataset, path: str | Path,
                          config: TrainConfig | None = None) -> Path:
    """Write `path` (.npz) with `exam_task_features` (`exam`, `avgpool`, `layer4`) of one fold's task model for
    every examination in `dataset` (all videos of one task, both sides of the fold: the assembling heads train
    and test within the fold, Sec. III-C). Returns `path`; whether an existing file is current is the caller's
    rule."""
    tasks = dataset.meta["task"].unique()
    if len(tasks) != 1:
        raise ValueError(f"extract_task_features: expected the videos of one task, found tasks {list(tasks)}")
    path = Path(path)
    exams, avgpool, layer4 = exam_task_features(model, dataset, config)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, exam=exams, avgpool=avgpool, layer4=layer4)
    tmp.replace(path)
    return path


def load_exam_features(paths: dict[str, Path], fold: int, allow_missing: bool = False) -> dict[str, np.ndarray]:
    """Stack the tasks' features of fold `fold` per examination (the F_M of Sec. III-C); `paths`: task -> its
    feature file of that fold (Layout.feature_files), in the order of the tasks M. Returns `exam` (E,) over
    the union of examinations (sorted), `avgpool` (E, M, d), `layer4` (E, M, C, T', H', W') and `mask` (E, M);
    an examination without a task has zeros there and mask False.

    A task without a feature file for this fold is an error, or with `allow_missing` (a fold whose task
    model could not be trained, e.g. a single-class training side) masked everywhere, with a warning.
    """
    tasks = list(paths)
    files = {}
    for task, path in paths.items():
        if not Path(path).is_file():
            msg = f"load_exam_features: no features for task {task!r}, fold {fold}: {path}"
            if not allow_missing:
                raise FileNotFoundError(msg + " (run extract_task_features first)")
            warnings.warn(msg + "; the task is masked for every examination of this fold", stacklevel=2)
            continue
        with np.load(path) as f:
            files[task] = {k: f[k] for k in ("exam", "avgpool", "layer4")}
    if not files:
        raise FileNotFoundError(f"load_exam_features: no features of any of {tasks} for fold {fold}: "
                                f"{[str(p) for p in paths.values()]}")
    shapes = {t: (f["avgpool"].shape[1:], f["layer4"].shape[1:]) for t, f in files.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"load_exam_features: tasks of fold {fold} have different feature "
                         f"shapes (avgpool, layer4): {shapes}")
    exams = np.array(sorted(set().union(*(f["exam"] for f in files.values()))), dtype=str)
    d_shape, l4_shape = next(iter(shapes.values()))
    out = {"exam": exams,
           "avgpool": np.zeros((len(exams), len(tasks), *d_shape), np.float32),
           "layer4": np.zeros((len(exams), len(tasks), *l4_shape), np.float32),
           "mask": np.zeros((len(exams), len(tasks)), bool)}
    for m, task in enumerate(tasks):
        if task not in files:
            continue
        rows = np.searchsorted(exams, files[task]["exam"])
        out["avgpool"][rows, m] = files[task]["avgpool"]
        out["layer4"][rows, m] = files[task]["layer4"]
        out["mask"][rows, m] = True
    return out
