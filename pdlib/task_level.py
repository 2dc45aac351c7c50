"""Task-level experiments (notebook 02): patient-level cross-validation of the task models in several settings
(Tables III and V, Sec. IV-B, V-B, V-C) and the examination features for assembling; pretraining on action
datasets (notebook 01, Table II) is `pdlib.pretraining`'s. Paths and staleness are `pdlib.layout`'s; tables are
`pdlib.tables`'."""

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from pdlib.baselines import item_score_summary, motion_features, ordinal_scores, probe
from pdlib.boxes import boxes_identity
from pdlib.data import (
    ClipDataset,
    content_hash,
    load_manifest,
    task_clips,
)
from pdlib.features import extract_task_features
from pdlib.folds import assert_patient_disjoint, folds_identity, held_out, load_or_make_folds
from pdlib.kinematics import feature_names
from pdlib.layout import ClipSpec, Layout
from pdlib.models import build_model, load_model, load_pretrained, save_model
from pdlib.paths import resolve
from pdlib.preprocessing import preprocess
from pdlib.pretraining import (
    arch_name,
    pretrained_checkpoint,
    training_recipe,
    videos_identity,
)
from pdlib.tasks import PREDICTION_COLUMNS, SETTINGS, UNUSABLE
from pdlib.tracking import video_features
from pdlib.train import CHECKPOINT, TrainConfig, distributed, fit, predict, resolve_device, seed_everything

# ---- Tables III and V: task-level cross-validation ----

def _fold_done(pred_path: Path, model_path: Path, fold: int, expected: int) -> pd.DataFrame | None:
    """The saved predictions of `fold` in a current unit (its recipe names the videos and folds) when the
    fold's model and its `expected` prediction rows were written: a killed run resumes after the folds it
    finished."""
    if not (pred_path.is_file() and Layout.saved(model_path)):
        return None
    saved = pd.read_csv(pred_path, dtype={"video": str, "patient": str, "exam": str, "note": str})
    saved = saved[(saved["fold"] == fold) & ~saved["note"].fillna("").str.startswith(UNUSABLE)]
    return saved if len(saved) == expected else None


def _write_predictions(results: list[pd.DataFrame], path: Path) -> pd.DataFrame:
    preds = pd.concat(results, ignore_index=True)
    preds = preds[PREDICTION_COLUMNS + [c for c in preds.columns if c not in PREDICTION_COLUMNS]]
    preds["pred"] = preds["pred"].astype("Int64")
    preds["note"] = preds["note"].astype(object).fillna("")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")  # whole or not at all: a killed run resumes from it
    preds.to_csv(tmp, index=False)
    tmp.replace(path)
    return preds


def _unusable_rows(dataset, folds: pd.Series) -> list[pd.DataFrame]:
    """Prediction rows without prediction for the unusable videos of `dataset.skipped`, so the tables count them."""
    skipped = getattr(dataset, "skipped", None)
    if skipped is None or not len(skipped):
        return []
    return [skipped[["video", "patient", "exam", "task", "side", "label"]].assign(
        score=skipped["score"] if "score" in skipped else np.nan, fold=skipped["patient"].astype(str).map(folds),
        prob=np.nan, pred=pd.NA, note=UNUSABLE + skipped["reason"])]


def _meta_with_folds(dataset, folds: pd.Series, name: str) -> pd.DataFrame:
    meta = dataset.meta.reset_index(drop=True).copy()
    meta["patient"] = meta["patient"].astype(str)
    missing = sorted(set(meta["patient"]) - set(folds.index))
    if missing:
        raise KeyError(f"cross_validate({name}): patients {missing} have no fold in the folds given")
    meta["fold"] = meta["patient"].map(folds).astype(int)
    return meta


def fine_tuned(model_fn: Callable[[], nn.Module], pretrained: str | Path | None) -> Callable[[], nn.Module]:
    """`model_fn` whose model starts from the `pretrained` checkpoint when one is given (its new classifier, like
    the whole model when none is, drawn from the fold's seed by `cross_validate`)."""
    return model_fn if pretrained is None else (lambda: load_pretrained(model_fn(), pretrained))


# One fold of a setting (`cross_validate_setting`): (k, training rows, test rows) -> the test rows' prediction
# columns (prob, pred, any other) or None, and a note (the loop prefixes "fold k").
FoldFit = Callable[[int, np.ndarray, np.ndarray], tuple[pd.DataFrame | None, str]]


def cross_validate_setting(dataset, folds: pd.Series, layout: Layout, setting: str, task: str, fit_fold: FoldFit,
                           *, notes: np.ndarray | None = None, resume: bool = False) -> pd.DataFrame:
    """The one patient-level cross-validation loop of every task-level setting (Sec. IV-B; Tables III, V): for
    each held-out fold k, `fit_fold(k, train, test)` is fitted on the rows of patients outside fold k and
    predicts the rows of fold k, so every prediction comes from a model that never saw its patient.

    Rows (PREDICTION_COLUMNS and the fold's columns) are written to `layout.predictions(setting, task)` after
    every fold (a killed run resumes from them) and returned. `notes`: per row, why it cannot be fitted nor
    predicted ("": it can); with `resume`, a fold whose model and predictions were
    written (`_fold_done`) is not fitted again. The unusable videos of `dataset.skipped` get rows with their
    reason and no prediction. Under DistributedDataParallel only rank 0 writes."""
    name = f"{setting}/{task}"
    pred_path = layout.predictions(setting, task)
    folds = pd.Series(folds).rename(index=str)
    meta = _meta_with_folds(dataset, folds, name)
    labels = np.asarray(torch.as_tensor(dataset.labels).cpu())
    scores = meta["score"].to_numpy() if "score" in meta else np.full(len(meta), np.nan)  # as the dataset says
    notes = np.full(len(meta), "", object) if notes is None else np.asarray(notes, object)
    usable = notes == ""
    rank = distributed()[0]
    results = []
    for k in held_out(folds):
        test, train = np.flatnonzero(meta["fold"] == k), np.flatnonzero((meta["fold"] != k) & usable)
        assert_patient_disjoint(meta.iloc[train], meta.iloc[test])
        done = _fold_done(pred_path, layout.fold_model(setting, task, k), k, len(test)) if resume else None
        if done is not None:
            results.append(done)
            continue
        rows = meta.iloc[test][["video", "patient", "exam", "task", "side", "fold"]].assign(
            label=labels[test], score=scores[test], note=notes[test], prob=np.nan, pred=pd.NA)
        scored = usable[test]
        cols, note = fit_fold(k, train, test[scored])
        if note:
            rows.loc[scored, "note"] = f"fold {k} {note}"
        for column, values in (cols.items() if cols is not None else ()):  # every row scored: the values' dtype
            rows[column] = values.to_numpy() if scored.all() else rows.get(column, np.nan)
            rows.loc[scored, column] = values.to_numpy()
        if len(test):
            results.append(rows)
        if rank == 0 and results:
            _write_predictions(results, pred_path)
    results += _unusable_rows(dataset, folds)
    preds = _write_predictions(results, pred_path) if rank == 0 else pd.concat(results, ignore_index=True)
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
    return preds


def _probability_columns(prob: np.ndarray) -> pd.DataFrame:
    """prob (n, K) -> prob (the positive class's for K = 2, else the predicted class's), pred, and prob_<c> per
    class when K > 2."""
    cols = pd.DataFrame({"prob": prob[:, 1] if prob.shape[1] == 2 else prob.max(1), "pred": prob.argmax(1)})
    if prob.shape[1] > 2:
        cols[[f"prob_{c}" for c in range(prob.shape[1])]] = prob
    return cols


def _deep_fold(dataset, model_fn: Callable[[], nn.Module], config: TrainConfig, layout: Layout, setting: str,
               task: str) -> FoldFit:
    """A fold of a deep setting: fold k's fresh `model_fn()` trained on the training side (seeded with
    config.seed + k; epoch checkpoints in the fold's checkpoint folder, removed once the fold is done), its
    model and history saved, its probabilities of the test side. A training side of one class is not trained.
    A fold without test videos of this task still gets its model: the assembling features of its training-side
    examinations come from it (ARCHITECTURE.md, features for assembling)."""
    labels = np.asarray(torch.as_tensor(dataset.labels).cpu())

    def fit_fold(k: int, train: np.ndarray, test: np.ndarray) -> tuple[pd.DataFrame | None, str]:
        if len(np.unique(labels[train])) < 2:
            note = (f"not trained: its training side has only class {np.unique(labels[train])}" if len(train)
                    else "not trained: its training side is empty")
            warnings.warn(f"cross_validate({setting}/{task}): fold {k} {note}", stacklevel=3)
            return None, note
        checkpoint_dir = layout.fold_checkpoint_dir(setting, task, k)
        fold_config = dataclasses.replace(config, seed=config.seed + int(k), checkpoint_dir=checkpoint_dir)
        # The initial weights (and a pretrained model's new classifier) come from the fold's seed too, so
        # a fold's model does not depend on the process's RNG state or on the folds trained before it.
        seed_everything(fold_config.seed, resolve_device(config.device), config.deterministic)
        val = dataset.subset(test) if len(test) else None
        result = fit(model_fn(), dataset.subset(train), val, fold_config)
        prob = predict(result.model, val, fold_config) if val is not None else None
        if distributed()[0] == 0:
            save_model(result.model, layout.fold_model(setting, task, k))
            result.history.to_csv(layout.fold_history(setting, task, k), index=False)
            (checkpoint_dir / CHECKPOINT).unlink(missing_ok=True)  # the fold is done: model and predictions stay
        return (_probability_columns(prob) if prob is not None else None), ""
    return fit_fold


def cross_validate(dataset, folds: pd.Series, model_fn: Callable[[], nn.Module], config: TrainConfig,
                   layout: Layout, setting: str, task: str, resume: bool = True) -> pd.DataFrame:
    """Patient-level cross-validation of one task and one deep setting: `cross_validate_setting` with
    `_deep_fold` (`model_fn`: a fresh model per fold; `fine_tuned` starts it from a pretrained checkpoint). Writes
    and returns `layout.predictions(setting, task)` (PREDICTION_COLUMNS; prob: the positive class's probability
    for two classes, else the predicted class's, with prob_<c> per class) and the fold models and histories at
    the layout's fold paths. `resume`: the unit is current, so folds already written are not trained again."""
    return cross_validate_setting(dataset, folds, layout, setting, task,
                                  _deep_fold(dataset, model_fn, config, layout, setting, task), resume=resume)


def probe_cross_validate(dataset, folds: pd.Series, layout: Layout, task: str, seed: int = 0,
                         windows: int = 1) -> pd.DataFrame:
    """Table V's non-deep baseline on the same clips and folds as the deep settings: per fold, a logistic
    regression (`pdlib.baselines.probe`) on the motion-energy maps (`motion_features`) of the training side
    predicts the held-out videos. Same prediction rows as `cross_validate`, written to
    `layout.predictions("probe", task)`; a fold whose training side has one class gets a note, no prediction."""
    x = motion_features(dataset.clips, windows=windows)  # (N, 2 (S/4)^2)
    labels = np.asarray(torch.as_tensor(dataset.labels).cpu())
    return cross_validate_setting(dataset, folds, layout, "probe", task, _logistic_fold(x, labels, 0.1, seed))


def kinematics_cross_validate(dataset, folds: pd.Series, layout: Layout, task: str, seed: int = 0) -> pd.DataFrame:
    """Table V's kinematics row: per fold, an ordinal model of the item score 0-4 on the task's kinematic
    features (`pdlib.kinematics`) of the training side predicts the held-out videos (`baselines.ordinal_scores`:
    statsmodels' cumulative logit with an L2 penalty on the 2-5 features most rank-correlated with the score on
    the training side, standardised there); the same videos, patients and folds as the deep settings. Rows add
    `ITEM_SCORE_COLUMNS` (prob_score_0..4, score_expected, score_pred: the predictive median) to the
    prediction columns; prob = P(score >= 2), pred = prob >= 0.5. Keypoints: a video's own beside it (SynPD's
    true ones), else `pdlib track`'s in the cache. A video without usable keypoints (none, unreadable, the hand
    or body tracked in under half the frames) gets its reason as note and no prediction. Written to
    `layout.predictions("kinematics", task)`. `seed`: unused (the fit is deterministic), kept for `run_setting`."""
    meta = dataset.meta.reset_index(drop=True)
    table = video_features(meta, layout.cache_dir)
    x = table.reindex(columns=feature_names(task)).to_numpy(float)
    scores = pd.to_numeric(meta["score"], errors="coerce").to_numpy(float) if "score" in meta else np.full(
        len(meta), np.nan)
    return cross_validate_setting(dataset, folds, layout, "kinematics", task, _ordinal_fold(x, scores),
                                  notes=feature_notes(table, x))


def feature_notes(table: pd.DataFrame, x: np.ndarray) -> np.ndarray:
    """Per row of a features table (`video_features`), why it cannot be fitted nor predicted: its own note, or
    that a feature is missing ("": usable)."""
    notes = table["note"].to_numpy(object).copy()
    notes[(notes == "") & ~np.isfinite(x).all(axis=1)] = "a kinematic feature could not be computed"
    return notes


def _logistic_fold(x: np.ndarray, labels: np.ndarray, c: float, seed: int) -> FoldFit:
    """A fold of the `probe` setting: standardised L2 logistic regression (C = c) on the rows of x."""
    def fit_fold(k: int, train: np.ndarray, test: np.ndarray) -> tuple[pd.DataFrame | None, str]:
        if not len(test):
            return None, ""
        if len(np.unique(labels[train])) < 2:
            return None, "not fitted: its training side has one class"
        return _probability_columns(probe(x[train], labels[train], c=c, seed=seed).predict_proba(x[test])), ""
    return fit_fold


def _ordinal_fold(x: np.ndarray, scores: np.ndarray) -> FoldFit:
    """A fold of the `kinematics` setting: `ordinal_scores` on the training rows with a score."""
    def fit_fold(k: int, train: np.ndarray, test: np.ndarray) -> tuple[pd.DataFrame | None, str]:
        if not len(test):
            return None, ""
        known = train[np.isfinite(scores[train])]
        prob, note = ordinal_scores(x[known], scores[known].astype(int), x[test])
        return (None if np.isnan(prob).all() else item_score_summary(prob)), note
    return fit_fold


@dataclass
class TaskRows:
    """One task's rows of a dataset for the settings that need no decoded clip (kinematics): meta (video,
    patient, exam, task, side, score, label, path, kind, mirrored, width, height), labels, and `skipped`
    (the videos that could not be decoded, with their reason, as `task_clips` lists them)."""

    meta: pd.DataFrame
    labels: np.ndarray
    skipped: pd.DataFrame | None = None


NO_VIDEOS = "not run: no videos (the dataset lists landmark files only)"


@dataclass
class SettingResult:
    """One setting's out-of-fold predictions per task, or, for a setting that could not run, why not."""

    setting: str
    predictions: dict[str, pd.DataFrame]
    note: str = ""

    @property
    def label(self) -> str:
        return SETTINGS[self.setting][0]


# Settings refitted in seconds on every run (no unit kept), each one small function registered by name in the style
# of timm's `@register_model`; `TaskExperiment.run_setting` trains the deep settings (their units kept) itself.
REFITTED: dict[str, Callable[["TaskExperiment", Sequence[str]], SettingResult]] = {}


def refitted_setting(name: str) -> Callable:
    """Register how a refitted setting (a Table V row named in `pdlib.tasks.SETTINGS`) is cross-validated: a
    function (experiment, tasks) -> SettingResult on the experiment's videos, folds and clips."""
    def register(fn: Callable[["TaskExperiment", Sequence[str]], SettingResult]) -> Callable:
        REFITTED[name] = fn
        return fn
    return register


@refitted_setting("probe")
def _probe(experiment: "TaskExperiment", tasks: Sequence[str]) -> SettingResult:
    """The motion-energy probe on the same clips (`probe_cross_validate`), tasks with videos only."""
    tasks = [t for t in tasks if experiment.has_videos(t)]
    if not tasks:
        return SettingResult("probe", {}, NO_VIDEOS)
    return SettingResult("probe", {t: probe_cross_validate(experiment.task(t), experiment.folds, experiment.layout,
                                                           t, experiment.config.seed, experiment.clip.windows)
                                   for t in tasks})


@refitted_setting("kinematics")
def _kinematics(experiment: "TaskExperiment", tasks: Sequence[str]) -> SettingResult:
    """The ordinal model on each row's kinematic features (`kinematics_cross_validate`): landmark files too."""
    preds = {t: kinematics_cross_validate(experiment.task_rows(t), experiment.folds, experiment.layout, t,
                                          experiment.config.seed) for t in tasks}
    if all(p["pred"].isna().all() for p in preds.values()):
        return SettingResult("kinematics", {}, f"not run: no video has usable keypoints (run `pdlib track "
                                               f"{experiment.layout.dataset_root}`)")
    return SettingResult("kinematics", preds)


@dataclass
class TaskExperiment:
    """Notebook 02's experiment: one run (layout), one clip spec, one backbone depth and training recipe. The
    dataset is decoded once per clip spec (`clips`); the folds are the run's folds unit (`folds`)."""

    layout: Layout
    clip: ClipSpec
    config: TrainConfig
    task_model: str = "r3d18"
    options: dict = field(default_factory=dict)
    n_splits: int = 5
    kinetics_checkpoint: str = ""
    kinetics_options: dict = field(default_factory=dict)
    folds_seed: int | None = None  # the folds' seed (None: the training seed, as notebook 02 has one `seed`)
    _sources: dict = field(default_factory=dict, init=False, repr=False)  # setting -> `_source`, found once

    @cached_property
    def manifest(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(videos, exams) of the dataset."""
        return load_manifest(self.layout.dataset_root)

    @cached_property
    def folds(self) -> pd.Series:
        """Fold per patient (index: patient id as str): the run's folds unit (`load_or_make_folds`)."""
        return load_or_make_folds(self.layout, self.manifest[0], n_splits=self.n_splits,
                                  seed=self.config.seed if self.folds_seed is None else self.folds_seed)

    @cached_property
    def clips(self) -> pd.DataFrame:
        """Every video of the dataset decoded once into the clip cache (`preprocess`); tasks select from it."""
        return preprocess(self.layout.dataset_root, self.clip, self.layout.cache_dir)

    def task(self, task: str) -> ClipDataset:
        return task_clips(self.clips, task)

    def has_videos(self, task: str) -> bool:
        """Whether the task has rows naming a video (a keypoint cohort's rows name landmark files)."""
        videos = self.manifest[0]
        return bool(((videos["task"] == task) & (videos["kind"] == "video")).any())

    def task_rows(self, task: str) -> TaskRows:
        """The task's rows for the kinematics setting: its landmark files and its videos, the videos that
        could not be decoded left out with their reason, as every other setting leaves them out."""
        videos = self.manifest[0]
        rows = videos[videos["task"] == task].reset_index(drop=True)
        skipped = None
        if (rows["kind"] == "video").any():
            status = self.clips.loc[self.clips["task"] == task].set_index(["video", "side"])
            bad = status.loc[~status["ok"]]
            unusable = pd.MultiIndex.from_frame(rows[["video", "side"]]).isin(bad.index)
            skipped = rows.loc[unusable].assign(reason=bad["reason"].reindex(
                pd.MultiIndex.from_frame(rows.loc[unusable, ["video", "side"]])).to_numpy()).reset_index(drop=True)
            rows = rows.loc[~unusable].reset_index(drop=True)
        return TaskRows(rows, rows["label"].to_numpy(), skipped)

    def _source(self, setting: str) -> tuple[str, Path | None, dict, str | None]:
        """(arch, pretrained checkpoint or None, build options, the checkpoint's identity) of a setting: a
        pretrained unit's recipe digest, or a Kinetics file's content hash."""
        if setting not in self._sources:
            _, kind, source = SETTINGS[setting]
            arch = arch_name(self.task_model, kind)
            if source == "kinetics":
                path = resolve(self.kinetics_checkpoint)
                found = path.is_file()
                self._sources[setting] = (arch, path, dict(self.kinetics_options),
                                          content_hash(path) if found else f"missing: {path}")
            elif source:
                path = pretrained_checkpoint(self.layout, arch, source)
                self._sources[setting] = (arch, path, dict(self.options), self.layout.digest(path.parent))
            else:
                self._sources[setting] = (arch, None, dict(self.options), None)
        return self._sources[setting]

    def unit_recipe(self, setting: str, task: str) -> dict:
        """What made (setting, task)'s fold models: training settings, clip spec, arch, options, and by identity
        the pretrained checkpoint, the folds and the task's videos."""
        arch, _, options, pretrained = self._source(setting)
        _ = self.folds  # made (or found current) before the recipe names them
        rows = self.clips[self.clips["task"] == task]
        return training_recipe(self.config, self.clip, arch=arch, pretrained=pretrained,
                               folds=folds_identity(self.layout), videos=videos_identity(rows),
                               **boxes_identity(self.clip, rows), **options)

    def run_setting(self, setting: str, tasks: Sequence[str]) -> SettingResult:
        """Cross-validate one model setting on each task. A setting that cannot run (no Kinetics checkpoint
        named) returns no predictions and a note saying why, so the tables show the row with the reason."""
        if SETTINGS[setting][2] == "kinetics" and not self.kinetics_checkpoint:
            return SettingResult(setting, {}, "not run: no Kinetics checkpoint named in params (kinetics_checkpoint)")
        if setting in REFITTED:  # seconds: refitted every time, no unit to keep current
            return REFITTED[setting](self, tasks)
        tasks = [t for t in tasks if self.has_videos(t)]
        if not tasks:
            return SettingResult(setting, {}, NO_VIDEOS)
        arch, pretrained, options, _ = self._source(setting)
        preds = {}
        for task in tasks:  # a changed recipe clears the unit (models, checkpoints), its predictions and features
            resume = self.layout.reuse_or_reset(self.layout.task_unit(setting, task), self.unit_recipe(setting, task),
                                         derived=[self.layout.predictions(setting, task),
                                                  self.layout.feature_unit(setting, task)])
            model_fn = fine_tuned(lambda: build_model(arch, 2, clip=self.clip, **options), pretrained)
            preds[task] = cross_validate(self.task(task), self.folds, model_fn, self.config, self.layout, setting,
                                         task, resume=resume)
        return SettingResult(setting, preds)

    def extract_features(self, setting: str, tasks: Sequence[str]) -> pd.DataFrame:
        """Examination features of every fold's task model of `setting` (ARCHITECTURE.md), for notebooks 03-05.

        Writes `layout.features(setting, task, k)`, a unit per task whose recipe names its models' unit by
        digest (models retrained: features remade). Returns the (task, fold) pairs without a model (a fold
        that could not be trained, e.g. a single-class training side), which the assembling notebooks mask.
        """
        skipped = [{"task": t, "fold": -1, "reason": "no videos: the task's rows name landmark files"}
                   for t in tasks if not self.has_videos(t)]
        for task in [t for t in tasks if self.has_videos(t)]:
            unit = self.layout.feature_unit(setting, task)
            models = self.layout.digest(self.layout.task_unit(setting, task))
            resume = self.layout.reuse_or_reset(unit, {"models": models})
            clips = None  # the task's clips, loaded once when a fold's features are missing
            for k in held_out(self.folds):
                model_path, npz = self.layout.fold_model(setting, task, k), self.layout.features(setting, task, k)
                if not self.layout.saved(model_path):
                    npz.unlink(missing_ok=True)
                    skipped.append({"task": task, "fold": int(k),
                                    "reason": f"no trained model at {Layout.weights(model_path)}"})
                elif not (resume and npz.is_file()):
                    if clips is None:
                        clips = self.task(task)
                    extract_task_features(load_model(model_path), clips, npz, self.config)
        return pd.DataFrame(skipped, columns=["task", "fold", "reason"])
