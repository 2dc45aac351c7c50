"""The experiments of notebooks 01 and 02: pretraining on action datasets (Table II), task-level
cross-validation in several model settings (Tables III and V) and the features for assembling."""

import dataclasses
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pdlib import metrics
from pdlib.baselines import action_probe_top1
from pdlib.data import action_clips, task_clips
from pdlib.features import extract_task_features
from pdlib.models import build_model, load_model, save_model
from pdlib.paths import out_dir, resolve
from pdlib.train import RESUME_KEYS, TrainConfig, cross_validate, fit, predict, resolve_device, seed_everything

# setting -> (label in the tables, backbone kind, pretraining source); the study's Tables III and V.
SETTINGS: dict[str, tuple[str, str, str | None]] = {
    "i3d_scratch": ("I3D (scratch)", "i3d", None),
    "i3d_synact": ("I3D (SynAct)", "i3d", "synact"),
    "i3d_kinetics": ("I3D (Kinetics)", "i3d", "kinetics"),
    "tsa_synact": ("TSA (SynAct)", "tsa", "synact"),
}


PROBE_LABEL = "Probe (motion + appearance, logistic)"


def arch_name(base: str, kind: str) -> str:
    """Registered model name of a backbone kind at a depth: ("r3d34", "tsa") -> "r3d34_tsa"."""
    if kind not in ("i3d", "tsa"):
        raise ValueError(f"unknown backbone kind {kind!r}; expected 'i3d' or 'tsa'")
    return base if kind == "i3d" else f"{base}_tsa"


def method_label(arch: str) -> str:
    """Table II's row label of a registered model: "r3d18_tsa" -> "TSA ResNet-18"."""
    depth = arch.removeprefix("r3d").removesuffix("_tsa")
    return f"{'TSA' if arch.endswith('_tsa') else 'I3D'} ResNet-{depth}"


def dataset_root(profile: str, dataset: str = "") -> Path:
    """The configured dataset folder: `dataset` from params, or the profile's SynPD made by 00_dataset."""
    root = resolve(dataset) if dataset else out_dir(profile, "data") / "synpd"
    if not (root / "videos.csv").is_file():
        hint = "run notebook 00_dataset first" if not dataset else "check the `dataset` parameter"
        raise FileNotFoundError(f"no dataset at {root} (videos.csv missing): {hint}")
    return root


def _recipe_matches(folder: Path, recipe: dict) -> bool:
    """True when `folder` was produced by the same recipe; otherwise clears it and records the new one."""
    path = folder / "recipe.json"
    text = json.dumps(recipe, sort_keys=True, default=str)
    if path.is_file() and path.read_text() == text:
        return True
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return False


def _recipe(config: TrainConfig, **extra) -> dict:
    return {**{k: getattr(config, k) for k in ("epochs", *RESUME_KEYS)}, **extra}


def pretrain_on_actions(root: str | Path, layout: str, label: str, archs: Sequence[str], splits: Sequence[int],
                        frames: int, size: int, options: dict, config: TrainConfig, profile: str) -> pd.DataFrame:
    """Train each model from scratch on each split of an action dataset; top-1 test accuracy (Table II).

    Models are saved as `models/pretrained/<layout>/<arch>_split<k>` with their per-epoch `history.csv`, and
    reused when the recipe is unchanged. Returns one row per (dataset label, arch, split) with top1 in
    percent, and per split a row of the motion-and-appearance logistic probe on the same clips (arch
    "probe"), the yardstick the networks must beat.
    """
    base = out_dir(profile, "models") / "pretrained" / layout
    rows = []
    for split in splits:
        train, test, classes = action_clips(root, split, frames, size, out_dir(profile, "cache"), layout=layout)
        rows.append({"dataset": label, "method": PROBE_LABEL, "arch": "probe", "split": split,
                     "classes": len(classes), "train": len(train), "test": len(test),
                     "top1": action_probe_top1(train, test, seed=config.seed)})
        for arch in archs:
            path = base / f"{arch}_split{split}"
            fresh = not _recipe_matches(path, _recipe(config, arch=arch, frames=frames, size=size, **options))
            if fresh or not Path(f"{path}/model.safetensors").is_file():
                seed_everything(config.seed, resolve_device(config.device))  # the initial weights too
                result = fit(build_model(arch, len(classes), **options), train, None, config)
                model = result.model
                save_model(model, path / "model")
                result.history.to_csv(path / "history.csv", index=False)
            else:
                model = load_model(path / "model")
            prob = predict(model, test, config)
            top1 = 100.0 * float(np.mean(prob.argmax(1) == test.labels.cpu().numpy()))
            rows.append({"dataset": label, "method": method_label(arch), "arch": arch, "split": split,
                         "classes": len(classes), "train": len(train), "test": len(test), "top1": top1})
    return pd.DataFrame(rows)


def learning_curves(profile: str, layout: str | None = None, setting: str | None = None) -> pd.DataFrame:
    """Per-epoch histories of the saved models, long format (group, run, epoch, loss, val_*): the pretrained
    models of `layout` (group = arch, run = split) or the fold models of a task-level `setting` (group =
    task, run = fold), so a reader sees convergence (Sec. V-B) instead of trusting it."""
    models = out_dir(profile, "models")
    if layout is not None:
        files = {(p.parent.name.rsplit("_split", 1)[0], f"split {p.parent.name.rsplit('_split', 1)[1]}"): p
                 for p in sorted((models / "pretrained" / layout).glob("*_split*/history.csv"))}
    else:
        files = {(p.parent.name, p.name.removesuffix("_history.csv")): p
                 for p in sorted((models / setting).glob("*/fold*_history.csv"))}
    frames = [pd.read_csv(p).assign(group=g, run=r) for (g, r), p in files.items()]
    columns = ["group", "run", "epoch", "loss"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def table_ii(results: pd.DataFrame) -> pd.DataFrame:
    """Table II: top-1 accuracy (%) per method and dataset, mean ± std over the splits."""
    def cell(g: pd.Series) -> str:
        std = g.std(ddof=1) if len(g) > 1 else 0.0
        return f"{g.mean():.1f} ± {std:.1f}"

    table = results.pivot_table(index="method", columns="dataset", values="top1", aggfunc=cell, sort=False)
    return table.reset_index().rename(columns={"method": "Method (scratch)"}).rename_axis(columns=None)


def pretrained_checkpoint(profile: str, arch: str, layout: str = "synact") -> Path:
    """The checkpoint notebook 02 fine-tunes: `arch` pretrained on split 1 of `layout` by notebook 01."""
    path = out_dir(profile, "models") / "pretrained" / layout / f"{arch}_split1" / "model"
    if not Path(f"{path}.safetensors").is_file():
        raise FileNotFoundError(f"no pretrained {arch} on {layout} at {path}.safetensors: run notebook "
                                "01_pretraining first (its task_model must match notebook 02's)")
    return path


def run_setting(setting: str, tasks: Sequence[str], root: Path, folds: pd.Series, task_model: str, frames: int,
                size: int, options: dict, config: TrainConfig, profile: str,
                kinetics_checkpoint: str = "", kinetics_options: dict | None = None,
                window: int | str | None = None) -> tuple[dict[str, pd.DataFrame], str]:
    """Cross-validate one model setting on each task: (out-of-fold predictions per task, note).

    A setting that cannot run (no Kinetics checkpoint named) returns no predictions and a note saying
    why, so the tables show the row with the reason instead of dropping it.
    """
    label, kind, source = SETTINGS[setting]
    if source == "kinetics" and not kinetics_checkpoint:
        return {}, "not run: no Kinetics checkpoint named in params (kinetics_checkpoint)"
    arch = arch_name(task_model, kind)
    if source == "kinetics":
        pretrained, opts = resolve(kinetics_checkpoint), dict(kinetics_options or {})
    else:
        pretrained = pretrained_checkpoint(profile, arch) if source else None
        opts = dict(options)
    base = out_dir(profile)
    # Fold checkpoints (models/<setting>/<task>/fold<k>/last.pt, every epoch) let a killed run resume
    # mid-training; a changed recipe clears them with the rest of the folder.
    config = dataclasses.replace(config, checkpoint_dir=config.checkpoint_dir or base / "models")
    preds = {}
    for task in tasks:
        clips = task_clips(root, task, frames, size, out_dir(profile, "cache"), window=window)
        name = f"{setting}/{task}"
        recipe = _recipe(config, arch=arch, frames=frames, size=size, pretrained=str(pretrained),
                         **({"window": window} if window is not None else {}),
                         folds=folds.sort_index().tolist(), videos=sorted(clips.meta["video"]), **opts)
        if not _recipe_matches(base / "models" / name, recipe):
            (base / "predictions" / f"{name}.csv").unlink(missing_ok=True)
        preds[task] = cross_validate(clips, folds, lambda: build_model(arch, 2, **opts), config, base, name,
                                     pretrained=pretrained)
    return preds, ""


def by_label(results: dict[str, tuple[dict[str, pd.DataFrame], str]]) -> dict[str, pd.DataFrame]:
    """The out-of-fold predictions of every setting that ran, all tasks together, keyed by table label."""
    return {SETTINGS[s][0]: pd.concat(p.values(), ignore_index=True) for s, (p, _) in results.items() if p}


def notes(results: dict[str, tuple[dict[str, pd.DataFrame], str]]) -> pd.DataFrame:
    """The settings that produced no rows, with the reason."""
    return pd.DataFrame([{"setting": SETTINGS[s][0], "note": n} for s, (p, n) in results.items() if not p],
                        columns=["setting", "note"])


def table_iii(results: dict[str, tuple[dict[str, pd.DataFrame], str]], **kw) -> pd.DataFrame:
    """Table III (long format: Method, Metric, one column per task); missing settings as a `note` row."""
    table = metrics.metric_rows(by_label(results), **kw)
    tasks = [c for c in table.columns if c not in ("Method", "Metric")]
    missing = [{"Method": r.setting, "Metric": "note", **{t: r.note for t in tasks}}
               for r in notes(results).itertuples()]
    return pd.concat([table, pd.DataFrame(missing)], ignore_index=True) if missing else table


def table_v(results: dict[str, tuple[dict[str, pd.DataFrame], str]], ceiling: pd.DataFrame | None = None,
            **kw) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table V (formatted, one column block per setting, `average` row) and its numeric long frame.

    Missing settings get a block whose cells hold the note; `ceiling` (SynPD's oracle MCC per task)
    adds a column beside each task.
    """
    numeric = metrics.task_metrics(by_label(results), **kw)
    table = metrics.format_task_table(numeric)
    for r in notes(results).itertuples():
        table[(r.setting, "note")] = r.note
    if ceiling is not None:
        table[("SynPD", "oracle MCC")] = table.index.map(
            ceiling.set_index("task")["oracle_mcc"].round(2).to_dict()).fillna("-")
    table = table.reset_index()
    table.columns = [" ".join(c).strip() if isinstance(c, tuple) else c for c in table.columns]
    return table, numeric


def best_settings(numeric: pd.DataFrame) -> dict[str, str]:
    """Per task, the setting with the highest mean MCC (the bold numbers of Table V, used by Fig. 6)."""
    return numeric.loc[numeric.groupby("task", sort=False)["mcc"].idxmax()].set_index("task")["setting"].to_dict()


def extract_setting_features(setting: str, tasks: Sequence[str], root: Path, folds: pd.Series, frames: int,
                             size: int, config: TrainConfig, profile: str,
                             window: int | str | None = None) -> tuple[Path, pd.DataFrame]:
    """Features of every examination from each fold's task model of `setting` (DESIGN.md), for 03–05.

    Writes `features/<setting>/<task>/fold<k>.npz`; files made from older models are replaced. Returns the
    folder and the (task, fold) pairs without a model (a fold that cross_validate could not train, e.g.
    a single-class training side), which the assembling notebooks mask.
    """
    feature_dir = out_dir(profile, "features") / setting
    skipped = []
    for task in tasks:
        clips = task_clips(root, task, frames, size, out_dir(profile, "cache"), window=window)
        for k in sorted(folds.unique()):
            model_path = out_dir(profile, "models") / setting / task / f"fold{k}"
            npz = feature_dir / task / f"fold{k}.npz"
            model_file = Path(f"{model_path}.safetensors")
            if not model_file.is_file():
                npz.unlink(missing_ok=True)
                skipped.append({"task": task, "fold": int(k), "reason": f"no trained model at {model_file}"})
                continue
            if npz.is_file() and npz.stat().st_mtime < model_file.stat().st_mtime:
                npz.unlink()
            extract_task_features(load_model(model_path), clips, int(k), feature_dir, config)
    return feature_dir, pd.DataFrame(skipped, columns=["task", "fold", "reason"])
