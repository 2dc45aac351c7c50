"""Named models: `@register_model` entries and `build_model(name, num_classes, **options)` (timm style)."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from functools import partial

from torch import nn

from pdlib.data.spec import window_count
from pdlib.models.resnet3d import BasicBlock, Bottleneck, ResNet3D, build_resnet3d
from pdlib.models.tsa import TSABasicBlock, TSABottleneck

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register `fn(num_classes, **options) -> nn.Module` under its function name."""
    if fn.__name__ in _MODELS:
        raise ValueError(f"register_model: {fn.__name__!r} is already registered")
    _MODELS[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    """Names accepted by build_model, sorted."""
    return sorted(_MODELS)


def build_model(name: str, num_classes: int, clip=None, **options) -> nn.Module:
    """Build a registered model; `options` go to its builder (e.g. widen, shortcut, attention) and are kept in
    `model.pdlib_config` so save_model/load_model can rebuild it. `clip` (a `ClipSpec`, or its dict) is the
    clip sampling the model is trained on, kept in its config too (`ClipSpec.of_model` reads it back).
    """
    if name not in _MODELS:
        close = difflib.get_close_matches(name, _MODELS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"build_model: unknown model {name!r}; {hint}choices: {', '.join(list_models())}")
    model = _MODELS[name](num_classes, **options)
    model.pdlib_config = {"name": name, "num_classes": num_classes, "options": options}
    if clip is not None:
        model.pdlib_config["clip"] = clip if isinstance(clip, dict) else clip.as_dict()
        windows = window_count(model.pdlib_config["clip"].get("window"))
        if windows > 1 and isinstance(model, ResNet3D):  # a clip of K windows: no frame difference across them
            model.window_frames = model.pdlib_config["clip"]["frames"] // windows
    return model


@register_model
def r3d10(num_classes: int, **kw) -> ResNet3D:
    """3D ResNet-10 (Hara et al. 2018)."""
    return build_resnet3d(10, num_classes, **kw)


@register_model
def r3d18(num_classes: int, **kw) -> ResNet3D:
    """3D ResNet-18."""
    return build_resnet3d(18, num_classes, **kw)


@register_model
def r3d34(num_classes: int, **kw) -> ResNet3D:
    """3D ResNet-34, the study's I3D (Sec. III-A)."""
    return build_resnet3d(34, num_classes, **kw)


@register_model
def r3d50(num_classes: int, **kw) -> ResNet3D:
    """3D ResNet-50 (Bottleneck blocks)."""
    return build_resnet3d(50, num_classes, **kw)


@register_model
def r3d101(num_classes: int, **kw) -> ResNet3D:
    """3D ResNet-101."""
    return build_resnet3d(101, num_classes, **kw)


@register_model
def r3d152(num_classes: int, **kw) -> ResNet3D:
    """3D ResNet-152."""
    return build_resnet3d(152, num_classes, **kw)


@register_model
def r3d200(num_classes: int, **kw) -> ResNet3D:
    """3D ResNet-200."""
    return build_resnet3d(200, num_classes, **kw)


@register_model
def r3d18_tsa(num_classes: int, attention: dict | None = None, **kw) -> ResNet3D:
    """3D ResNet-18 with temporal relative self-attention in layer3 and layer4 (Table II's backbone)."""
    tsa = partial(TSABasicBlock, **(attention or {}))
    return build_resnet3d(18, num_classes, stage_blocks=(BasicBlock, BasicBlock, tsa, tsa), **kw)


@register_model
def r3d34_tsa(num_classes: int, attention: dict | None = None, **kw) -> ResNet3D:
    """3D ResNet-34 with temporal relative self-attention in layer3 and layer4 (the study's TSA)."""
    tsa = partial(TSABasicBlock, **(attention or {}))
    return build_resnet3d(34, num_classes, stage_blocks=(BasicBlock, BasicBlock, tsa, tsa), **kw)


@register_model
def r3d50_tsa(num_classes: int, attention: dict | None = None, **kw) -> ResNet3D:
    """3D ResNet-50 with temporal relative self-attention in the conv2 of layer3 and layer4's bottlenecks."""
    tsa = partial(TSABottleneck, **(attention or {}))
    return build_resnet3d(50, num_classes, stage_blocks=(Bottleneck, Bottleneck, tsa, tsa), **kw)
