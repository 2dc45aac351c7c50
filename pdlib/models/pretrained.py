"""Checkpoints: load kenshohara / torchvision / suite weights into a built model (transfer learning)
and save/load the suite's own models as `<path>.safetensors` + `<path>.json`. Nothing is ever downloaded.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from pdlib.models.registry import build_model
from pdlib.models.tsa import AttentionAugmentedConv3d, TemporalRelativeAttention
from pdlib.paths import WEIGHTS_SUFFIX

log = logging.getLogger(__name__)

# torchvision's VideoResNet wraps conv+BN in Sequentials: stem.0/stem.1, layerX.Y.convZ.0/convZ.1.
_TORCHVISION_RENAMES = [(r"^stem\.0\.", "conv1."), (r"^stem\.1\.", "bn1."),
                        (r"\.conv(\d)\.0\.", r".conv\1."), (r"\.conv(\d)\.1\.", r".bn\1.")]
_TORCHVISION_STEM_HINT = ("torchvision's r3d_18 has a 3x7x7 stem without max-pool: build the model with "
                          "conv1_t_size=3, no_max_pool=True")


@dataclass
class LoadReport:
    """What load_pretrained did with each tensor of the model; `str()` is a one-paragraph summary."""

    source: str
    path: str
    loaded: list[str] = field(default_factory=list)
    sliced: list[str] = field(default_factory=list)  # TSA conv branches: first C_out - d_v channels of I3D's
    skipped: list[str] = field(default_factory=list)  # attention tensors the checkpoint lacks: left at init
    reinitialised: list[str] = field(default_factory=list)  # the classifier, when the class count differs

    def __str__(self) -> str:
        parts = [f"{self.source} checkpoint {self.path}: loaded {len(self.loaded)} tensors"]
        if self.sliced:
            parts.append(f"sliced {len(self.sliced)} TSA conv weights to their conv channels")
        if self.skipped:
            parts.append(f"left {len(self.skipped)} attention tensors at initialisation")
        if self.reinitialised:
            parts.append(f"re-initialised {', '.join(self.reinitialised)} (class count differs)")
        return "; ".join(parts)


def _base(path: str | Path) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix in (WEIGHTS_SUFFIX, ".json") else path


def _suite_files(path: str | Path) -> tuple[Path, Path]:
    base = str(_base(path))
    return Path(base + WEIGHTS_SUFFIX), Path(base + ".json")


def _read_checkpoint(path: Path) -> tuple[str, dict[str, torch.Tensor]]:
    """(format name, state dict with pdlib/kenshohara names) of a checkpoint file."""
    weights, _ = _suite_files(path)
    if weights.exists():
        return "pdlib", load_file(weights)
    if not path.exists():
        raise FileNotFoundError(f"load_pretrained: no checkpoint at {path} (nor {weights})")
    obj = torch.load(path, map_location="cpu", weights_only=True)
    source = "kenshohara" if isinstance(obj, dict) and "state_dict" in obj else "state-dict"
    state = obj["state_dict"] if source == "kenshohara" else obj
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"load_pretrained: {path} holds neither a state dict nor a dict with 'state_dict'")
    state = {k.removeprefix("module."): v for k, v in state.items()}  # saved from nn.DataParallel
    if any(k.startswith("stem.") for k in state):
        source = "torchvision"
        for pattern, repl in _TORCHVISION_RENAMES:
            state = {re.sub(pattern, repl, k): v for k, v in state.items()}
    return source, state


def _transfer(model: nn.Module, state: dict[str, torch.Tensor], report: LoadReport) -> None:
    target = model.state_dict()
    attention = {f"{n}.{p}" for n, m in model.named_modules() if isinstance(m, TemporalRelativeAttention)
                 for p in m.state_dict()}
    sliceable = {f"{n}.weight" for n, m in model.named_modules()
                 if isinstance(m, AttentionAugmentedConv3d) and m.weight is not None}
    fc = getattr(model, "fc", None)
    src_fc = state.get("fc.weight")
    new_fc = (isinstance(fc, nn.Linear) and src_fc is not None and src_fc.ndim == 2
              and src_fc.shape[1] == fc.in_features and src_fc.shape[0] != fc.out_features)
    new, missing, mismatched = {}, [], []
    for key, value in target.items():
        src = state.get(key)
        if new_fc and key in ("fc.weight", "fc.bias"):
            report.reinitialised.append(key)
        elif src is None:
            if key in attention:
                report.skipped.append(key)
            elif not key.endswith("num_batches_tracked"):  # absent from checkpoints of PyTorch < 0.4
                missing.append(key)
        elif src.shape == value.shape:
            new[key] = src
            report.loaded.append(key)
        elif key in sliceable and src.shape[1:] == value.shape[1:] and src.shape[0] > value.shape[0]:
            new[key] = src[: value.shape[0]]  # I3D conv weight -> conv branch of an attention-augmented conv
            report.sliced.append(key)
        else:
            mismatched.append(f"{key}: checkpoint {tuple(src.shape)}, model {tuple(value.shape)}")
    unexpected = sorted(set(state) - set(target))
    if missing or unexpected or mismatched:
        hint = f"\n  hint: {_TORCHVISION_STEM_HINT}" if report.source == "torchvision" else ""
        raise ValueError(f"load_pretrained: {report.path} ({report.source}) does not fit "
                         f"{getattr(model, 'pdlib_config', {}).get('name', type(model).__name__)}:"
                         f"\n  missing from checkpoint: {missing}\n  unexpected in checkpoint: {unexpected}"
                         f"\n  shape mismatch: {mismatched}{hint}")
    model.load_state_dict({**target, **new})
    if new_fc:
        fc.reset_parameters()


def load_pretrained(model: nn.Module, path: str | Path) -> nn.Module:
    """Load pretrained weights into `model` (in place) and return it; the report is `model.pdlib_load_report`.

    Accepts kenshohara/3D-ResNets-PyTorch files (dict with `state_dict`, `module.` prefixes; shortcut A with
    400 classes or B with 700: build the model with the matching `shortcut`), torchvision's `r3d_18` state
    dict (build with conv1_t_size=3, no_max_pool=True) and suite checkpoints (save_model). The classifier `fc`
    is re-initialised when the class count differs; a TSA model takes the I3D checkpoint of its depth except
    the attention tensors (left at init), its conv branches getting the first C_out - d_v channels of the I3D
    convolution. Any other missing, unexpected or mis-shaped tensor is an error that lists them.
    """
    path = Path(path)
    source, state = _read_checkpoint(path)
    report = LoadReport(source, str(path))
    if source == "torchvision" and not isinstance(getattr(model, "maxpool", None), nn.Identity):
        raise ValueError(f"load_pretrained: {path}: the model has a max-pool after its stem; "
                         f"{_TORCHVISION_STEM_HINT}")
    _transfer(model, state, report)
    model.pdlib_load_report = report
    log.info("%s", report)
    return model


def save_model(model: nn.Module, path: str | Path) -> Path:
    """Write `<path>.safetensors` (weights) and `<path>.json` (pdlib_config); returns the weights' path."""
    model = getattr(model, "_orig_mod", model)  # a torch.compile wrapper prefixes every key
    config = getattr(model, "pdlib_config", None)
    if config is None:
        raise ValueError(f"save_model: {type(model).__name__} has no pdlib_config; build it with "
                         "pdlib.models.build_model")
    weights, meta = _suite_files(path)
    try:
        text = json.dumps(config, indent=2)
    except TypeError as err:
        raise ValueError(f"save_model: options of {config['name']} are not JSON-serialisable: {err}") from err
    weights.parent.mkdir(parents=True, exist_ok=True)
    meta.write_text(text + "\n")
    tmp = weights.with_name(f".{weights.name}.tmp")  # the weights appear whole or not at all (a killed run)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, tmp)
    tmp.replace(weights)
    return weights


def load_model(path: str | Path) -> nn.Module:
    """Rebuild a model saved by save_model from `<path>.json` and load `<path>.safetensors` exactly."""
    weights, meta = _suite_files(path)
    if not meta.exists() or not weights.exists():
        raise FileNotFoundError(f"load_model: expected {meta} and {weights}")
    config = json.loads(meta.read_text())
    model = build_model(config["name"], config["num_classes"], clip=config.get("clip"), **config["options"])
    model.load_state_dict(load_file(weights))
    return model
