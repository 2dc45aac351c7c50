"""The assembling heads of an examination-level experiment, as saved and as used on examinations.

One owner for how a head turns examination features into class probabilities: the training folds' per-channel
standardisation (`channel_stats`, `standardise`) and the softmax (`head_probabilities`). Notebooks 03-05
(`pdlib.exam_level`) fit, evaluate and save heads with them; `pdlib score` (`pdlib.scoring.exams`) and the
explorer load them back (`SavedHeads`), so a new examination is seen exactly as fold k's test examinations were.

Files, under `Layout.heads(experiment)`: `<method>.safetensors` (keys `fold<k>.repeat<r>.<param>`) and
`<method>.json` (what `build_assembler` needs, the tasks in order, the (fold, repeat) runs) per method;
`standardise.npz` (per fold the training examinations' channel mean and std of each input, and the classes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from pdlib.layout import Layout
from pdlib.models.heads import AssemblingHead, build_assembler

Stats = tuple[np.ndarray, np.ndarray]  # per-channel (mean, std)


def channel_stats(x: np.ndarray, mask: np.ndarray, train: np.ndarray) -> Stats:
    """Per-channel (axis 2) mean and std (+1e-6) of the training examinations' present tasks."""
    ref = x[train][mask[train]]  # (P, C, ...)
    axes = (0, *range(2, ref.ndim))
    return ref.mean(axis=axes), ref.std(axis=axes) + 1e-6  # (C,)


def standardise(x: np.ndarray, mask: np.ndarray, stats: Stats) -> np.ndarray:
    """Features (E, M, C, ...) standardised per channel with `stats` (channel_stats); missing tasks = 0."""
    mu, sd = stats
    shape = (1, 1, -1) + (1,) * (x.ndim - 3)
    out = (x - mu.reshape(shape)) / sd.reshape(shape)
    out[~mask] = 0.0
    return out.astype(np.float32)


def head_probabilities(logits: torch.Tensor) -> np.ndarray:
    """(E, K) class probabilities of a head's logits: their softmax, in float32."""
    return torch.softmax(logits.detach().float(), dim=1).cpu().numpy()


def save_heads(path: Path, method: str, heads: dict[tuple[int, int], AssemblingHead], tasks: tuple[str, ...],
               options: dict) -> Path:
    """Write every fitted head of one method, {(fold, repeat): head}: `<path>.safetensors` and `<path>.json`
    (`options`: the `build_assembler` keywords they were built with)."""
    if not heads:
        raise ValueError(f"save_heads({method}): no heads to save (cross_validate_heads(keep_heads=True))")
    state = {f"fold{k}.repeat{r}.{name}": t.detach().contiguous()
             for (k, r), head in heads.items() for name, t in head.state_dict().items()}
    head = next(iter(heads.values()))
    meta = {"method": method, "in_shape": list(head.pdlib_in_shape), "num_classes": head.pdlib_num_classes,
            "options": options, "tasks": list(tasks), "runs": [[k, r] for k, r in heads]}
    path.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{path}.json").write_text(json.dumps(meta, indent=2))
    save_file(state, Layout.weights(path))
    return Layout.weights(path)


def save_standardisation(path: Path, class_names: tuple[str, ...], stats: dict[int, dict[str, Stats]]) -> Path:
    """What saved heads need to see new examinations as they saw theirs: per fold, the training examinations'
    channel mean and std of each input (`fold<k>.<input>.mean|std`), and the class names."""
    arrays = {f"fold{k}.{i}.{name}": v for k, per_input in stats.items() for i, s in per_input.items()
              for name, v in zip(("mean", "std"), s, strict=True)}
    np.savez(path, class_names=np.asarray(class_names, dtype=str), **arrays)
    return path


def load_standardisation(path: Path) -> tuple[tuple[str, ...], dict[int, dict[str, Stats]]]:
    """(class names, {fold: {input: (mean, std)}}) written by `save_standardisation`."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no standardisation statistics at {path}: run notebooks/04_assembling.ipynb "
                                "(and 05) again")
    with np.load(path) as f:
        stats: dict[int, dict[str, Stats]] = {}
        for key in f.files:
            if key.startswith("fold") and key.endswith(".mean"):
                fold, inp, _ = key.split(".")
                stats.setdefault(int(fold[4:]), {})[inp] = (f[key], f[key[:-5] + ".std"])
        return tuple(str(c) for c in f["class_names"]), stats


def load_heads(path: Path) -> tuple[dict[tuple[int, int], AssemblingHead], dict]:
    """The heads `save_heads` wrote, {(fold, repeat): head in eval mode}, and their metadata."""
    if not Path(f"{path}.json").is_file():
        raise FileNotFoundError(f"no assembling heads at {path}.json: run notebooks/04_assembling.ipynb first")
    meta = json.loads(Path(f"{path}.json").read_text())
    state = load_file(Layout.weights(path))
    heads = {}
    for k, r in meta["runs"]:
        head = build_assembler(meta["method"], tuple(meta["in_shape"]), meta["num_classes"], **meta["options"])
        prefix = f"fold{k}.repeat{r}."
        head.load_state_dict({n.removeprefix(prefix): t for n, t in state.items() if n.startswith(prefix)})
        heads[k, r] = head.eval()
    return heads, meta


@dataclass(eq=False)
class SavedHeads:
    """One method's saved heads of an experiment with the standardisation they were trained with."""

    method: str
    heads: dict[tuple[int, int], AssemblingHead]  # (fold, repeat) -> head in eval mode
    meta: dict  # save_heads' JSON: method, in_shape, num_classes, options, tasks, runs
    class_names: tuple[str, ...]
    stats: dict[int, dict[str, Stats]]  # fold -> input -> (mean, std)

    @classmethod
    def load(cls, layout: Layout, experiment: str, method: str) -> SavedHeads:
        heads, meta = load_heads(layout.head_file(experiment, method))
        classes, stats = load_standardisation(layout.head_standardisation(experiment))
        return cls(method, heads, meta, classes, stats)

    @property
    def tasks(self) -> list[str]:
        return list(self.meta["tasks"])

    @property
    def input(self) -> str:
        """The features the heads take: "layer4" (maps) or "avgpool" (vectors, kinematics appended if trained so)."""
        return "layer4" if len(self.meta["in_shape"]) > 2 else "avgpool"

    @property
    def folds(self) -> list[int]:
        return sorted(self.stats)

    def predict(self, features: np.ndarray, mask: np.ndarray, fold: int) -> np.ndarray:
        """(repeats, E, K) class probabilities of fold `fold`'s heads on raw features (E, M, ...) of that
        fold's task models, standardised with that fold's training statistics."""
        if list(features.shape[1:]) != list(self.meta["in_shape"]):
            raise ValueError(f"the {self.method} heads take features {tuple(self.meta['in_shape'])}, "
                             f"found {features.shape[1:]}")
        x = torch.from_numpy(standardise(features, mask, self.stats[fold][self.input]))
        m = torch.from_numpy(mask)
        with torch.no_grad():
            return np.stack([head_probabilities(head(x, m)) for (k, _), head in self.heads.items() if k == fold])
