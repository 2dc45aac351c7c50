"""Pretraining on action datasets (notebook 01, Table II, Sec. V-B) and what a trained artefact's recipe names:
the model names (`arch_name`, `method_label`), the recipe stamp (`training_recipe`), the videos' identity, and the
models' training histories. `pdlib.task_level` fine-tunes what this trains."""

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from pdlib.baselines import action_probe_top1
from pdlib.data import ClipDataset, action_clips, preprocess_actions
from pdlib.layout import ClipSpec, Layout, digest
from pdlib.models import build_model, load_model, save_model
from pdlib.tasks import PROBE_LABEL
from pdlib.train import RESUME_KEYS, TrainConfig, fit, predict, resolve_device, seed_everything


def arch_name(base: str, kind: str) -> str:
    """Registered model name of a backbone kind at a depth: ("r3d34", "tsa") -> "r3d34_tsa"."""
    if kind not in ("i3d", "tsa"):
        raise ValueError(f"unknown backbone kind {kind!r}; expected 'i3d' or 'tsa'")
    return base if kind == "i3d" else f"{base}_tsa"


def method_label(arch: str) -> str:
    """Table II's row label of a registered model: "r3d18_tsa" -> "TSA ResNet-18"."""
    depth = arch.removeprefix("r3d").removesuffix("_tsa")
    return f"{'TSA' if arch.endswith('_tsa') else 'I3D'} ResNet-{depth}"


def training_recipe(config: TrainConfig, clip: ClipSpec, **extra) -> dict:
    """The recipe stamp of a trained artefact: the training settings, the clip spec and what else made it."""
    return {**{k: getattr(config, k) for k in ("epochs", *RESUME_KEYS)}, "clip": clip.as_dict(), **extra}


def videos_identity(clips: pd.DataFrame) -> str:
    """What a recipe names its training videos by: the usable rows' names and content hashes (`preprocess`)."""
    ok = clips.loc[clips["ok"], ["video", "hash"]].astype(str).sort_values("video")
    return digest(ok.to_csv(index=False))


# ---- Table II: pretraining on action datasets ----

@dataclass(frozen=True)
class ActionData:
    """An action dataset of Table II: its column label, folder and list layout ("synact", "ucf101", "hmdb51")."""

    label: str
    root: Path
    kind: str


@dataclass
class Pretraining:
    """Notebook 01's recipe: models trained from scratch on action datasets (Sec. V-B). Saved as JSON so that
    notebook 02 can train a depth it needs with the same recipe (`pretrained_checkpoint`)."""

    layout: Layout
    clip: ClipSpec
    config: TrainConfig
    options: dict = field(default_factory=dict)

    def run(self, data: ActionData, archs: Sequence[str], splits: Sequence[int]) -> pd.DataFrame:
        """Train (or reuse) each arch on each split; top-1 test accuracy in percent per (dataset, arch, split),
        and per split a row of the motion-and-appearance logistic probe on the same clips (arch "probe")."""
        clips = self.clips(data, splits)
        rows = []
        for split in splits:
            train, test, classes = action_clips(clips, split)
            common = {"dataset": data.label, "split": split, "classes": len(classes), "train": len(train),
                      "test": len(test)}
            rows.append({**common, "method": PROBE_LABEL, "arch": "probe",
                         "top1": action_probe_top1(train, test, seed=self.config.seed)})
            for arch in archs:
                model = self._model(data.kind, arch, split, clips, train, len(classes))
                prob = predict(model, test, self.config)
                top1 = 100.0 * float(np.mean(prob.argmax(1) == test.labels.cpu().numpy()))
                rows.append({**common, "method": method_label(arch), "arch": arch, "top1": top1})
        self.save(data)
        columns = ["dataset", "method", "arch", "split", "classes", "train", "test", "top1"]
        return pd.DataFrame(rows)[columns]

    def clips(self, data: ActionData, splits: Sequence[int]) -> pd.DataFrame:
        """The action dataset's videos decoded once (`preprocess_actions`) with this recipe's clip spec."""
        return preprocess_actions(data.root, self.clip, self.layout.cache_dir, layout=data.kind, splits=splits)

    def stamp(self, arch: str, clips: pd.DataFrame, split: int) -> dict:
        """The recipe of `arch` pretrained on `split`: training settings, clip spec, options and the videos."""
        return training_recipe(self.config, self.clip, arch=arch, split=split,
                      videos=videos_identity(clips[clips[f"order{split}"].notna()]), **self.options)

    def trained(self, source: str, arch: str, split: int, clips: pd.DataFrame) -> bool:
        """Whether the unit of `arch` on `split` holds a model made by this recipe (the staleness rule)."""
        unit = self.layout.pretrained(source, arch, split)
        current = self.layout.reuse_or_reset(unit, self.stamp(arch, clips, split))
        return current and self.layout.saved(self.layout.pretrained_model(source, arch, split))

    def _model(self, source: str, arch: str, split: int, clips: pd.DataFrame, train: ClipDataset,
               num_classes: int) -> nn.Module:
        path = self.layout.pretrained_model(source, arch, split)
        if self.trained(source, arch, split, clips):
            return load_model(path)
        # the initial weights too
        seed_everything(self.config.seed, resolve_device(self.config.device), self.config.deterministic)
        result = fit(build_model(arch, num_classes, clip=self.clip, **self.options), train, None, self.config)
        save_model(result.model, path)
        result.history.to_csv(self.layout.pretrained_history(source, arch, split), index=False)
        return result.model

    def save(self, data: ActionData) -> Path:
        path = self.layout.pretraining(data.kind)
        path.write_text(json.dumps({"clip": self.clip.as_dict(), "config": dataclasses.asdict(self.config),
                                    "options": self.options, "label": data.label, "root": str(data.root)},
                                   indent=2, default=str))
        return path

    @classmethod
    def load(cls, layout: Layout, source: str = "synact") -> tuple["Pretraining", ActionData]:
        path = layout.pretraining(source)
        if not path.is_file():
            raise FileNotFoundError(f"no pretraining recipe at {path}: run notebook 01_pretraining first")
        saved = json.loads(path.read_text())
        config = TrainConfig(**{k: v for k, v in saved["config"].items() if k != "checkpoint_dir"})
        return (cls(layout, ClipSpec(**saved["clip"]), config, saved["options"]),
                ActionData(saved["label"], Path(saved["root"]), source))


def pretrained_checkpoint(layout: Layout, arch: str, source: str = "synact") -> Path:
    """The checkpoint a `*_synact` setting fine-tunes: `arch` trained on split 1 of `source` by notebook 01's
    recipe. A depth notebook 01 did not train (another task_model), or a model made by another recipe than
    01's current one, is trained here with that recipe."""
    pretraining, data = Pretraining.load(layout, source)
    if not pretraining.trained(source, arch, 1, pretraining.clips(data, [1])):
        pretraining.run(data, [arch], [1])
    return layout.pretrained_model(source, arch, 1)


def training_histories(layout: Layout, source: str | None = None, setting: str | None = None) -> pd.DataFrame:
    """Per-epoch histories of the saved models, long format (group, run, epoch, loss, val_*): the pretrained
    models of `source` (group = arch, run = split) or the fold models of a task-level `setting` (group =
    task, run = fold), so a reader sees convergence (Sec. V-B) instead of trusting it."""
    files = layout.histories(source=source, setting=setting)
    frames = [pd.read_csv(p).assign(group=g, run=r) for (g, r), p in files.items()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["group", "run", "epoch", "loss"])


