"""The explorer's data: a run's trained task models, folds, test videos and clips, read lazily (no widgets).

`ExplorerState` finds a profile's trained models, reads their clips and computes attention (`pdlib.attention`),
reads notebook 04's task weights, and scores a new video as `pdlib score` does; `pdlib.widgets` wires it to
ipywidgets. It is tested in Python, without a browser.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pdlib.attention import (
    AttentionView,
    ClipAttention,
    ExplorerError,
    TaskWeights,
    attention_view,
    clip_attention,
)
from pdlib.layout import ClipSpec, Layout
from pdlib.tasks import DEFAULT_COVERAGE, DEFAULT_SETTING, PREDICTION_COLUMNS, TASKS, UNUSABLE

# Named in every "nothing to show" message: the notebook that writes what the explorer reads.
TRAIN_HINT = ("Run notebooks/02_task_level.ipynb first with a TSA setting (a `*_tsa` model, e.g. the "
              "`tsa_synact` setting) for this profile: it writes the fold models, predictions and features.")
# The assembling heads whose task weights are shown (Table I): per examination, and global; notebook 04's.
WEIGHT_METHODS = ("pixel_attention", "vector_weighting")
HEADS = "assembling"  # the examination-level experiment whose saved heads are shown (notebook 04)


class ExplorerState:
    """The data behind the explorer: models, clips and predictions of one profile and setting, read lazily.

    Reads what the notebooks write under `<root>/<profile>/` (root: `outputs/` or $PDLIB_OUTPUTS; paths by
    `pdlib.layout.Layout`): notebook 02's fold models, predictions, features, folds and clip cache, and
    notebook 04's assembling heads. The clips are the cached ones the models were trained on: their clip spec
    is read from each model's saved config. Attention is computed once per (task, fold, video).
    """

    def __init__(self, profile: str, setting: str = DEFAULT_SETTING, root: str | Path | None = None,
                 dataset: str | Path = ""):
        self.profile, self.setting = profile, setting
        self.layout = Layout(profile, dataset, outputs=root)
        self.base = self.layout.base
        self._models: dict[tuple[str, int], torch.nn.Module] = {}
        self._clips: dict[tuple[str, int, str], ClipAttention] = {}
        self._predictions: dict[str, pd.DataFrame] = {}
        self._cached: dict[ClipSpec, dict[str, tuple[str, str]]] = {}
        self._heads: dict[str, dict] = {}
        self._scorers: dict[str, object] = {}  # task -> scoring.TaskModels, loaded once
        self._assembling = None
        self._manifest: pd.DataFrame | None = None  # the dataset's videos.csv, read once (`crop`)

    @property
    def model_dir(self) -> Path:
        """The setting's models: one unit folder per task holding fold<k>.json/.safetensors."""
        return self.layout.setting_models(self.setting)

    @property
    def tasks(self) -> list[str]:
        """Tasks with at least one fold model, in the study's order (other tasks after them)."""
        found = self.layout.trained_tasks(self.setting)
        return sorted(found, key=lambda t: (TASKS.index(t) if t in TASKS else len(TASKS), t))

    def check(self) -> None:
        """Raises ExplorerError, naming what is missing and where, when there is nothing to explore."""
        from pdlib.models import TemporalRelativeAttention

        if not self.tasks:
            raise ExplorerError(f"No trained models of setting '{self.setting}' for profile '{self.profile}': "
                                f"{self.model_dir} holds no <task>/fold<k>.safetensors. {TRAIN_HINT}")
        for task in self.tasks:
            if not self.folds(task):
                raise ExplorerError(f"Task '{task}' has no fold with both a model in {self.model_dir / task} "
                                    f"and predictions. {TRAIN_HINT}")
        task = self.tasks[0]
        model = self.model(task, self.folds(task)[0])
        if not any(isinstance(m, TemporalRelativeAttention) for m in model.modules()):
            raise ExplorerError(f"The models of setting '{self.setting}' ({model.pdlib_config['name']}) have no "
                                f"TSA layer, so no temporal attention to show. {TRAIN_HINT}")

    def predictions(self, task: str) -> pd.DataFrame:
        """The task's out-of-fold predictions (video, patient, exam, task, side, label, fold, prob, pred)."""
        if task not in self._predictions:
            path = self.layout.predictions(self.setting, task)
            if not path.is_file():
                raise ExplorerError(f"Models of task '{task}' exist but not their predictions {path}. {TRAIN_HINT}")
            df = pd.read_csv(path, dtype={"video": str, "patient": str, "exam": str, "side": str})
            missing = sorted(set(PREDICTION_COLUMNS) - set(df.columns))
            if missing:
                raise ExplorerError(f"{path}: expected columns {', '.join(PREDICTION_COLUMNS)}; missing {missing}")
            self._predictions[task] = df.fillna({"side": ""})
        return self._predictions[task]

    def folds(self, task: str) -> list[int]:
        """Folds of `task` with both a model and out-of-fold predictions."""
        saved = set(self.layout.trained_folds(self.setting, task))
        predicted = self.predictions(task).dropna(subset=["prob"])["fold"].astype(int)
        return sorted(saved & set(predicted))

    def videos(self, task: str, fold: int) -> pd.DataFrame:
        """The predicted test videos of `fold` (its model never saw their patients), by examination and side."""
        df = self.predictions(task)
        df = df[(df["fold"] == fold) & df["prob"].notna()]
        return df.sort_values(["exam", "side", "video"]).reset_index(drop=True)

    def model(self, task: str, fold: int) -> torch.nn.Module:
        """The fold's task model in eval mode (loaded once)."""
        from pdlib.models import load_model

        if (task, fold) not in self._models:
            path = self.layout.fold_model(self.setting, task, fold)
            if not self.layout.saved(path):
                raise ExplorerError(f"No model for task '{task}', fold {fold}: expected {path}.safetensors. "
                                    f"{TRAIN_HINT}")
            self._models[task, fold] = load_model(path).eval()
        return self._models[task, fold]

    def clip(self, task: str, fold: int, video: str) -> ClipAttention:
        """The video's frames, recorded prediction and attention under the fold's model (cached)."""

        if (task, fold, video) in self._clips:
            return self._clips[task, fold, video]
        rows = self.videos(task, fold)
        rows = rows[rows["video"] == video]
        if rows.empty:
            raise ExplorerError(f"Video {video!r} is not a predicted test video of task '{task}', fold {fold} "
                                f"in {self.layout.predictions(self.setting, task)}")
        row = rows.iloc[0]
        frames = self._cached_clip(ClipSpec.of_model(self.model(task, fold)), video)  # (T, S, S, 3) uint8
        result = clip_attention(self.model(task, fold), frames, task=task, fold=fold, video=video,
                                patient=str(row["patient"]), exam=str(row["exam"]), side=str(row["side"]),
                                label=int(row["label"]), prob=float(row["prob"]), pred=int(row["pred"]))
        self._clips[task, fold, video] = result
        return result

    def crop(self, task: str, fold: int, video: str) -> tuple[np.ndarray, tuple | None, str] | None:
        """Where the video's clip was cut from: its first frame (upright, the longer side at most 480 px), the
        box its clip was cut from in that frame's pixels (None: the whole picture) and the box's note; None when
        the fold's model takes whole pictures (`clip_crop: none`, or a manifest without a `crop` column)."""
        from pdlib.boxes import clip_box
        from pdlib.data import load_manifest
        from pdlib.data.video import VideoDecodeError, iter_frames
        from pdlib.tracking import upright_size

        spec = ClipSpec.of_model(self.model(task, fold))
        if spec.crop == "none":
            return None
        if self._manifest is None:  # once; its warnings are `pdlib check`'s to say, not the explorer's
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._manifest = load_manifest(self.layout.dataset_root, scored=False)[0]
        manifest = self._manifest
        predicted = self.videos(task, fold)
        side = next(iter(predicted.loc[predicted["video"] == video, "side"]), "")  # the first row, as `clip`
        rows = manifest[(manifest["video"] == video) & (manifest["task"] == task)]
        if rows.empty:
            raise ExplorerError(f"Video {video!r} of task '{task}' is not in {self.layout.dataset_root}/videos.csv")
        row = rows[rows["side"] == side].iloc[0] if (rows["side"] == side).any() else rows.iloc[0]
        box, note = clip_box(row, spec, self.layout.cache_dir)
        if box is None and not note:
            return None
        try:
            _, frame = next(iter_frames(row["path"], max_side=480))
            scale = frame.shape[1] / upright_size(row["path"])[0]
        except (VideoDecodeError, StopIteration) as err:
            raise ExplorerError(f"{row['path']}: no frame to draw its box on ({err or 'no frame decoded'})") from None
        return frame, (None if box is None else tuple(v * scale for v in box)), note

    def view(self, task: str, fold: int, video: str, layer: str, head: int | None,
             position: tuple[int, int] | None) -> AttentionView:
        """Attention matrix, received-attention curve and per-frame maps for one choice of the controls."""
        return attention_view(self.clip(task, fold, video), layer, head, position)

    def task_weights(self, fold: int, exam: str) -> TaskWeights:
        """`exam`'s weights under fold `fold`'s pixel-wise attention head, and that fold's vector weights: the
        heads notebook 04 fitted and saved (repeat 0), on the features it read."""
        from pdlib.models.heads import task_weights

        data = self._assembling_data()
        fd = next((f for f in data.folds if f.fold == fold), None)
        if fd is None or exam not in set(fd.exam):
            raise ExplorerError(f"Examination {exam} has no features in fold {fold} of notebook 04's "
                                f"features. {TRAIN_HINT}")
        heads = {m: self._saved_heads(m) for m in WEIGHT_METHODS}
        if any((fold, 0) not in h for h in heads.values()):
            raise ExplorerError(f"Notebook 04 saved no heads of fold {fold} (its tasks were masked on one side)")
        i = int(np.flatnonzero(fd.exam == exam)[0])
        x, mask = torch.from_numpy(fd.layer4[i:i + 1]), torch.from_numpy(fd.mask[i:i + 1])
        recipe = self.layout.recipe(self.layout.heads(HEADS))
        return TaskWeights(exam, fold, data.tasks, fd.mask[i],
                           task_weights(heads["pixel_attention"][fold, 0], x, mask)[0].numpy(),
                           task_weights(heads["vector_weighting"][fold, 0], x, mask).numpy(),
                           f"notebook 04 fitted on the training examinations of fold {fold} (repeat 0 of "
                           f"{recipe['repeats']}, {recipe['head']['epochs']} epochs), saved in "
                           f"{self.layout.heads(HEADS)}")

    def _saved_heads(self, method: str) -> dict:
        from pdlib.exam_heads import load_heads

        if method not in self._heads:
            try:
                self._heads[method] = load_heads(self.layout.head_file(HEADS, method))[0]
            except FileNotFoundError as err:
                raise ExplorerError(str(err)) from None
        return self._heads[method]

    def score(self, path: str, task: str, coverage: float = DEFAULT_COVERAGE) -> tuple[pd.Series, ClipAttention]:
        """A new video scored as `pdlib score` does (the task's fold models as an ensemble, the conformal call),
        and its attention under the first fold's model. Mistakes come back as an ExplorerError in words."""
        from pdlib.boxes import clip_box
        from pdlib.data import read_clip
        from pdlib.scoring import ScoreError, TaskModels, score_videos

        path = str(path).strip()
        if not path:
            raise ExplorerError("Give the path of a video file to score.")
        try:
            if task not in self._scorers:
                self._scorers[task] = TaskModels.load(self.layout, self.setting, task)
            models = self._scorers[task]
            row = score_videos(pd.DataFrame({"path": [path]}), models, coverage, progress=False).iloc[0]
        except ScoreError as err:
            raise ExplorerError(str(err)) from None
        if row["call"] == "":
            raise ExplorerError(f"{path} cannot be scored: {row['note'].removeprefix(UNUSABLE)}")
        fold = min(models.models)
        box, _ = clip_box({"path": path, "task": task}, models.spec, self.layout.cache_dir)
        frames = read_clip(path, models.spec, box=box)
        clip = clip_attention(models.models[fold], frames, task=task, fold=fold, video=Path(path).name,
                              prob=float(row["prob_1"]), pred=int(row["pred"]))
        return row, clip

    def report_page(self, path: str) -> Path | None:
        """The `pdlib report` page (under the run's reports/) of the examination of the scored video, if written."""
        from pdlib.report_pages import page_of

        return page_of(str(path).strip(), self.layout.base / "reports")

    def _cached_clip(self, spec: ClipSpec, video: str) -> np.ndarray:
        """The video's clip from the clip cache the models were trained on (decoded now only if missing)."""
        from pdlib.preprocessing import preprocess

        if spec not in self._cached:
            status = preprocess(self.layout.dataset_root, spec, self.layout.cache_dir, progress=False)
            self._cached[spec] = dict(zip(status["video"], zip(status["cache"], status["reason"], strict=True),
                                          strict=True))
        if video not in self._cached[spec]:
            raise ExplorerError(f"Video {video!r} is not in {self.layout.dataset_root}: is it the dataset the "
                                f"models of '{self.setting}' were trained on?")
        cache, reason = self._cached[spec][video]
        if not cache:
            raise ExplorerError(f"Video {video!r} cannot be used: {reason}")
        return np.load(cache)

    def _assembling_data(self):
        """Examination features and classes as notebook 04 read them (its heads' recipe), loaded once."""
        from pdlib.exam_level import ExamExperiment

        if self._assembling is None:
            try:
                recipe = self.layout.recipe(self.layout.heads(HEADS))
                self._assembling = ExamExperiment(self.layout, recipe["features"], recipe["scheme"],
                                                  recipe["slight_vs_severe"]).data
            except FileNotFoundError as err:
                raise ExplorerError(f"{err}. Run notebooks/04_assembling.ipynb first.") from None
        return self._assembling
