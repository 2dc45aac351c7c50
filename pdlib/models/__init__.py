"""The study's video networks: I3D (3D ResNet, Sec. III-A), TSA (Sec. III-B), a registry and checkpoints.

`pdlib.models.heads` (the task-assembling heads of Sec. III-C) is imported on its own, not from here.
"""

from pdlib.models.pretrained import LoadReport, load_model, load_pretrained, save_model
from pdlib.models.registry import build_model, list_models, register_model
from pdlib.models.resnet3d import BasicBlock, Bottleneck, ResNet3D, build_resnet3d
from pdlib.models.tsa import (
    AttentionAugmentedConv3d,
    TemporalRelativeAttention,
    TSABasicBlock,
    TSABottleneck,
    attention_weights,
)

__all__ = [
    "AttentionAugmentedConv3d",
    "BasicBlock",
    "Bottleneck",
    "LoadReport",
    "ResNet3D",
    "TSABasicBlock",
    "TSABottleneck",
    "TemporalRelativeAttention",
    "attention_weights",
    "build_model",
    "build_resnet3d",
    "list_models",
    "load_model",
    "load_pretrained",
    "register_model",
    "save_model",
]
