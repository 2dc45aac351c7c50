"""Where every artefact of a run lives, and when it is still current: the one owner of the output layout.

A run is a profile and a dataset. `Layout(profile, dataset)` names every path under `outputs/<profile>/`
(dataset, folds, clip cache, models, predictions, features, heads, tables, figures); nothing else in
pdlib formats an artefact path. The staleness rule is `Layout.current`, the same for every artefact: a
unit folder holds a `recipe.json`; when the recipe asked for equals it the unit is reused (and a killed
run resumes inside it), otherwise the folder and what was derived from it are removed and rebuilt.

`ClipSpec` is the frozen clip sampling (frames, size, window, crop) a model is trained on: it is part of
every recipe and of the model's saved config, so whoever loads a model gets its clips from it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from pdlib.paths import outputs_root, resolve

RECIPE = "recipe.json"
SUBDIRS = ("notebooks", "tables", "figures", "models", "features", "heads", "predictions", "data", "cache")


@dataclass(frozen=True)
class ClipSpec:
    """How a video becomes a clip (read_clip): T frames of S x S pixels, spread over the video (window None,
    the study) or consecutive from a window ("middle" or a start frame), inside the manifest's crop box
    (crop True) or the whole frame."""

    frames: int
    size: int
    window: int | str | None = None
    crop: bool = True

    def __post_init__(self):
        if self.frames < 1 or self.size < 1:
            raise ValueError(f"ClipSpec: expected frames >= 1 and size >= 1, found {self.frames}, {self.size}")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def of_model(cls, model) -> ClipSpec:
        """The clip spec a saved task model was trained on (its config's `clip`, written by the experiments)."""
        clip = getattr(model, "pdlib_config", {}).get("clip")
        if clip is None:
            raise ValueError(f"model {getattr(model, 'pdlib_config', {}).get('name', '?')} has no clip spec in "
                             "its saved config: retrain it with the task-level experiments (notebook 02)")
        return cls(**clip)


def recipe_text(recipe: dict) -> str:
    return json.dumps(recipe, sort_keys=True, default=str)


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
        if not (root / "videos.csv").is_file():
            hint = "run notebook 00_dataset first" if not self.dataset else "check the `dataset` parameter"
            raise FileNotFoundError(f"no dataset at {root} (videos.csv missing): {hint}")
        return root

    @property
    def ceiling_csv(self) -> Path:
        """SynPD's oracle ceiling per task (a synthetic dataset's file; absent from real datasets)."""
        return self.dataset_root / "ceiling.csv"

    @property
    def folds_csv(self) -> Path:
        return self.dir("data") / "folds.csv"

    @property
    def cache_dir(self) -> Path:
        return self.dir("cache")

    # ---- models and what they make ----
    def pretrained(self, source: str, arch: str, split: int) -> Path:
        """Unit folder of `arch` trained from scratch on split `split` of an action dataset: model.*,
        history.csv, recipe.json."""
        return self.dir("models") / "pretrained" / source / f"{arch}_split{split}"

    def pretraining(self, source: str) -> Path:
        """Notebook 01's pretraining recipe on `source` (clip spec, training config, options), as JSON."""
        return self.dir("models") / "pretrained" / source / "pretraining.json"

    def task_unit(self, setting: str, task: str) -> Path:
        """Unit folder of one (setting, task): fold<k>.{json,safetensors}, fold<k>_history.csv, fold<k>/last.pt
        (the epoch checkpoint while fold k trains), recipe.json."""
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
        return sorted({p.parent.name for p in self.setting_models(setting).glob("*/fold*.json")})

    def trained_folds(self, setting: str, task: str) -> list[int]:
        """Folds of (setting, task) with a saved model."""
        return sorted(int(p.stem.removeprefix("fold")) for p in self.task_unit(setting, task).glob("fold*.json"))

    def fold_model(self, setting: str, task: str, fold: int) -> Path:
        return self.task_unit(setting, task) / f"fold{fold}"

    def fold_history(self, setting: str, task: str, fold: int) -> Path:
        return self.task_unit(setting, task) / f"fold{fold}_history.csv"

    def fold_checkpoint_dir(self, setting: str, task: str, fold: int) -> Path:
        return self.task_unit(setting, task) / f"fold{fold}"

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

    @property
    def baseline(self) -> Path:
        """The single-task baseline (task, input) chosen by notebook 03 from Table VII, as data."""
        return self.dir("heads") / "single_task_baseline.json"

    # ---- reports ----
    def table(self, name: str) -> Path:
        """Stem of a table: .csv (tidy numbers), .md and .tex (formatted), .json (provenance)."""
        return self.dir("tables") / name

    def figure(self, name: str) -> Path:
        return self.dir("figures") / name

    @property
    def runs_json(self) -> Path:
        return self.base / "runs.json"

    @property
    def index_md(self) -> Path:
        return self.base / "index.md"

    # ---- the staleness rule ----
    def current(self, unit: Path, recipe: dict, derived: Sequence[Path] = ()) -> bool:
        """True when `unit` was made by `recipe` (its recipe.json says so): reuse it, resume inside it.

        Otherwise the unit folder and the `derived` artefacts (files or folders made from it) are removed,
        the unit is recreated with the new recipe.json, and False is returned: rebuild it.
        """
        path = unit / RECIPE
        text = recipe_text(recipe)
        if path.is_file() and path.read_text() == text:
            return True
        for stale in (unit, *derived):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
        unit.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return False

    def recipe(self, unit: Path) -> dict:
        """The recipe a unit was made with (raises when it has none)."""
        path = unit / RECIPE
        if not path.is_file():
            raise FileNotFoundError(f"{unit} has no {RECIPE}: it was not made by the suite's experiments")
        return json.loads(path.read_text())
