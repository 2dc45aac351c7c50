"""Where every artefact of a run lives, and when it is still current: the one owner of the output layout.

A run is a profile and a dataset. `Layout(profile, dataset)` names every path under `outputs/<profile>/`
(dataset, folds, clip cache, models, predictions, features, heads, tables, figures); nothing else in
pdlib formats an artefact path. The staleness rule is `Layout.reuse_or_reset` (a read-only check, `is_current`,
then a `reset`), the same for every artefact: a unit folder holds a `recipe.json`; when the recipe asked for
equals it the unit is reused (and a killed run resumes inside it), otherwise the folder and what was derived
from it are removed and rebuilt.
A recipe names what it consumed by identity: an upstream unit by `Layout.digest` (the digest of its
recipe), so a changed upstream recipe makes every unit that consumed it stale, and nothing else.

`ClipSpec` (`pdlib.data.spec`) is the frozen clip sampling (frames, size, window, crop) a model is
trained on: it is part of every recipe and of the model's saved config.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pdlib.data.pd4t import is_pd4t
from pdlib.data.spec import ClipSpec
from pdlib.paths import WEIGHTS_SUFFIX, outputs_root, resolve

__all__ = ["RECIPE", "ClipSpec", "Layout", "digest", "recipe_text"]

RECIPE = "recipe.json"
SUBDIRS = ("notebooks", "tables", "figures", "models", "features", "heads", "predictions", "data", "cache", "scores",
           "reports")


def recipe_text(recipe: dict) -> str:
    return json.dumps(recipe, sort_keys=True, default=str)


def digest(text: str | bytes) -> str:
    """blake2b-128 hex digest: the identity of a recipe (its text) or of a file's content."""
    return hashlib.blake2b(text.encode() if isinstance(text, str) else text, digest_size=16).hexdigest()


@dataclass(frozen=True)
class Layout:
    """The artefact paths of one run: `profile` under `outputs` (default `outputs/`, or $PDLIB_OUTPUTS), and
    `dataset` (a folder in docs/DATASET.md's format; "" = the SynPD that notebook 00 generates)."""

    profile: str
    dataset: str | Path = ""
    outputs: str | Path | None = None

    @property
    def base(self) -> Path:
        return Path(self.outputs).resolve() / self.profile if self.outputs else outputs_root() / self.profile

    def dir(self, sub: str) -> Path:
        """`<base>/<sub>`, created on first use."""
        if sub not in SUBDIRS:
            raise ValueError(f"unknown output folder {sub!r}; expected one of {SUBDIRS}")
        d = self.base / sub
        d.mkdir(parents=True, exist_ok=True)
        return d

    # ---- data ----
    def synth_dir(self, name: str) -> Path:
        """Where a synthetic dataset ("synpd", "synact") of this profile is generated."""
        return self.dir("data") / name

    @property
    def dataset_root(self) -> Path:
        """The configured dataset folder (checked): `dataset`, or the profile's SynPD made by notebook 00."""
        root = resolve(self.dataset) if self.dataset else self.base / "data" / "synpd"
        if not (root / "videos.csv").is_file() and not is_pd4t(root):
            hint = "run notebook 00_dataset first" if not self.dataset else "check the `dataset` parameter"
            raise FileNotFoundError(f"no dataset at {root} (videos.csv missing, nor PD4T's Annotations/ and "
                                    f"Videos/): {hint}")
        return root

    @property
    def ceiling_csv(self) -> Path:
        """SynPD's oracle ceiling per task (a synthetic dataset's file; absent from real datasets)."""
        return self.dataset_root / "ceiling.csv"

    @property
    def folds(self) -> Path:
        """Unit folder of the patient folds: folds.csv, recipe.json (dataset, n_splits, seed)."""
        return self.dir("data") / "folds"

    @property
    def folds_csv(self) -> Path:
        return self.folds / "folds.csv"

    @property
    def cache_dir(self) -> Path:
        """The clip cache of this run, read by the notebooks and filled by `pdlib preprocess --profile`."""
        return self.dir("cache")

    # ---- models and what they make ----
    def pretrained(self, source: str, arch: str, split: int) -> Path:
        """Unit folder of `arch` trained from scratch on split `split` of an action dataset: model.*,
        history.csv, recipe.json."""
        return self.dir("models") / "pretrained" / source / f"{arch}_split{split}"

    def pretrained_model(self, source: str, arch: str, split: int) -> Path:
        """The pretrained model (`load_model`'s path: `.safetensors` and `.json`) in its unit."""
        return self.pretrained(source, arch, split) / "model"

    def pretrained_history(self, source: str, arch: str, split: int) -> Path:
        """The pretrained model's per-epoch history (loss, val_*) in its unit."""
        return self.pretrained(source, arch, split) / "history.csv"

    def pretraining(self, source: str) -> Path:
        """Notebook 01's pretraining recipe on `source` (clip spec, training config, options), as JSON."""
        return self.dir("models") / "pretrained" / source / "pretraining.json"

    def task_unit(self, setting: str, task: str) -> Path:
        """Unit folder of one (setting, task): fold<k>.{json,safetensors}, fold<k>_history.csv,
        fold<k>_checkpoint/last.pt (the epoch checkpoint while fold k trains), recipe.json."""
        return self.dir("models") / setting / task

    def setting_models(self, setting: str) -> Path:
        """The folder of a setting's task units."""
        return self.dir("models") / setting

    def histories(self, source: str | None = None, setting: str | None = None) -> dict[tuple[str, str], Path]:
        """Per-epoch histories: of the pretrained models of `source` {(arch, "split k"): path}, or of the fold
        models of a task-level `setting` {(task, "fold<k>"): path}."""
        if source is not None:
            units = sorted((self.dir("models") / "pretrained" / source).glob("*_split*/history.csv"))
            return {(p.parent.name.rsplit("_split", 1)[0], f"split {p.parent.name.rsplit('_split', 1)[1]}"): p
                    for p in units}
        return {(p.parent.name, p.name.removesuffix("_history.csv")): p
                for p in sorted(self.setting_models(setting).glob("*/fold*_history.csv"))}

    def trained_tasks(self, setting: str) -> list[str]:
        """Tasks of `setting` with at least one saved fold model."""
        return sorted({p.parent.name for p in self.setting_models(setting).glob("*/fold*.safetensors")})

    def trained_folds(self, setting: str, task: str) -> list[int]:
        """Folds of (setting, task) with a saved model."""
        return sorted(int(p.stem.removeprefix("fold"))
                      for p in self.task_unit(setting, task).glob("fold*.safetensors"))

    def fold_model(self, setting: str, task: str, fold: int) -> Path:
        """Fold k's model (`load_model`'s path: fold<k>.safetensors and fold<k>.json)."""
        return self.task_unit(setting, task) / f"fold{fold}"

    def fold_history(self, setting: str, task: str, fold: int) -> Path:
        return self.task_unit(setting, task) / f"fold{fold}_history.csv"

    def fold_checkpoint_dir(self, setting: str, task: str, fold: int) -> Path:
        """Where fold k's epoch checkpoint (last.pt) lives while it trains."""
        return self.task_unit(setting, task) / f"fold{fold}_checkpoint"

    @staticmethod
    def weights(model: Path) -> Path:
        """The weights file of a model saved at `model` (`save_model`, `exam_heads.save_heads`): `.safetensors`."""
        return Path(f"{model}{WEIGHTS_SUFFIX}")

    @staticmethod
    def saved(model: Path) -> bool:
        """Whether a model was saved at `model` (save_model writes the `.json`, then the `.safetensors`)."""
        return Layout.weights(model).is_file()

    def predictions(self, setting: str, task: str) -> Path:
        """Out-of-fold predictions of one (setting, task), derived from its unit."""
        return self.dir("predictions") / setting / f"{task}.csv"

    def feature_unit(self, setting: str, task: str) -> Path:
        return self.dir("features") / setting / task

    def features(self, setting: str, task: str, fold: int) -> Path:
        """Examination features of fold `fold`'s task model: exam, avgpool, layer4."""
        return self.feature_unit(setting, task) / f"fold{fold}.npz"

    def feature_folds(self, setting: str, task: str) -> list[int]:
        """The folds with a feature file of (setting, task)."""
        return sorted(int(p.stem.removeprefix("fold")) for p in self.feature_unit(setting, task).glob("fold*.npz"))

    def feature_files(self, setting: str, tasks: Sequence[str], fold: int) -> dict[str, Path]:
        return {t: self.features(setting, t, fold) for t in tasks}

    def heads(self, experiment: str) -> Path:
        """Unit folder of the assembling heads of an examination-level experiment: <method>.{safetensors,json}."""
        return self.dir("heads") / experiment

    def head_file(self, experiment: str, method: str) -> Path:
        return self.heads(experiment) / method

    def head_predictions(self, experiment: str, method: str) -> Path:
        """The out-of-fold examination predictions of one method's heads (repeat, fold, exam, label, pred,
        prob_<c>): what scoring calibrates its examination-level sets on."""
        return self.heads(experiment) / f"{method}_predictions.csv"

    def head_standardisation(self, experiment: str) -> Path:
        """Per fold, the feature statistics the heads were trained with, and the classes (`.npz`)."""
        return self.heads(experiment) / "standardise.npz"

    @property
    def baseline_unit(self) -> Path:
        """Unit folder of notebook 03's choice: baseline.json, recipe.json (the features and head recipe)."""
        return self.dir("heads") / "single_task_baseline"

    @property
    def baseline(self) -> Path:
        """The single-task baseline (task, input) chosen by notebook 03 from Table VII, as data."""
        return self.baseline_unit / "baseline.json"

    # ---- reports ----
    def table(self, name: str) -> Path:
        """Stem of a table: .csv (tidy numbers), .md and .tex (formatted), .json (provenance)."""
        return self.dir("tables") / name

    def figure(self, name: str) -> Path:
        return self.dir("figures") / name

    def kinematics_csv(self, dataset: str | Path) -> Path:
        """`pdlib kinematics DATASET`'s table: every row's kinematic features, tracked fraction, frame rate."""
        return self.dir("tables") / f"kinematics_{Path(dataset).resolve().name}.csv"

    @property
    def runs_json(self) -> Path:
        return self.base / "runs.json"

    @property
    def index_md(self) -> Path:
        return self.base / "index.md"

    # ---- the staleness rule ----
    def is_current(self, unit: Path, recipe: dict) -> bool:
        """True when `unit` was made by `recipe` (its recipe.json says so). Reads only."""
        path = unit / RECIPE
        return path.is_file() and path.read_text() == recipe_text(recipe)

    def reset(self, unit: Path, recipe: dict, derived: Sequence[Path] = ()) -> None:
        """Remove the unit folder and the `derived` artefacts (files or folders made from it), recreate the unit
        and stamp it with `recipe` (its recipe.json): it is to be rebuilt."""
        for stale in (unit, *derived):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
        unit.mkdir(parents=True, exist_ok=True)
        (unit / RECIPE).write_text(recipe_text(recipe))

    def reuse_or_reset(self, unit: Path, recipe: dict, derived: Sequence[Path] = ()) -> bool:
        """The staleness rule at a unit's start: True when it is current (reuse it, resume inside it); else
        `reset` it (and `derived`) and return False: rebuild it."""
        if self.is_current(unit, recipe):
            return True
        self.reset(unit, recipe, derived)
        return False

    def digest(self, unit: Path) -> str:
        """The identity of a unit: the digest of its recipe.json (raises when it has none). A recipe that
        consumed the unit names it by this."""
        path = unit / RECIPE
        if not path.is_file():
            raise FileNotFoundError(f"{unit} has no {RECIPE}: it was not made by the suite's experiments")
        return digest(path.read_text())

    def recipe(self, unit: Path) -> dict:
        """The recipe a unit was made with (raises when it has none)."""
        path = unit / RECIPE
        if not path.is_file():
            raise FileNotFoundError(f"{unit} has no {RECIPE}: it was not made by the suite's experiments")
        return json.loads(path.read_text())
