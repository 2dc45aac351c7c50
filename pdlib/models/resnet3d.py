"""3D ResNets, the study's I3D backbone (Sec. III-A): one network assembled from a block factory per stage.

T per stage for a 32-frame clip (H=W for a 224x224 clip in brackets), with temporal_strides=(2, 2, 2):

| stem                               | conv1    | maxpool | layer1   | layer2  | layer3  | layer4 |
|------------------------------------|----------|---------|----------|---------|---------|--------|
| kenshohara (t=7, stride 1, pool)   | 32 (112) | 16 (56) | 16 (56)  | 8 (28)  | 4 (14)  | 2 (7)  |
| torchvision (t=3, no max-pool)     | 32 (112) | -       | 32 (112) | 16 (56) | 8 (28)  | 4 (14) |

`conv1_t_stride=s` divides every T by s; `temporal_strides=(1, 1, 1)` keeps layer1's T up to layer4.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

Triple = tuple[int, int, int]
# (name, in_planes, out_planes, stride) -> module: lets TSA blocks swap chosen 3x3x3 convolutions.
ConvFactory = Callable[[str, int, int, Triple], nn.Module]
# (in_planes, planes, stride, downsample) -> residual block with an `expansion` attribute.
BlockFactory = Callable[[int, int, Triple, "nn.Module | None"], nn.Module]

WIDTHS = (64, 128, 256, 512)


def conv3x3x3(name: str, in_planes: int, out_planes: int, stride: Triple = (1, 1, 1)) -> nn.Module:
    """The 3x3x3 convolution of a residual block (`name` is unused here; TSA's factory dispatches on it)."""
    return nn.Conv3d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1x1(in_planes: int, out_planes: int, stride: Triple = (1, 1, 1)) -> nn.Conv3d:
    return nn.Conv3d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3x3 convolutions with a residual connection (ResNet-10/18/34)."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: Triple = (1, 1, 1),
                 downsample: nn.Module | None = None, conv: ConvFactory = conv3x3x3):
        super().__init__()
        self.conv1 = conv("conv1", in_planes, planes, tuple(stride))
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = conv("conv2", planes, planes, (1, 1, 1))
        self.bn2 = nn.BatchNorm3d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, T, H, W) -> (N, planes, T', H', W')
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1x1 reduce, 3x3x3 (strided), 1x1x1 expand by 4, with a residual connection (ResNet-50 and deeper)."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: Triple = (1, 1, 1),
                 downsample: nn.Module | None = None, conv: ConvFactory = conv3x3x3):
        super().__init__()
        self.conv1 = conv1x1x1(in_planes, planes)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = conv("conv2", planes, planes, tuple(stride))
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = conv1x1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm3d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, T, H, W) -> (N, 4 planes, T', H', W')
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ZeroPadShortcut(nn.Module):
    """Shortcut A of He et al. 2016: strided identity, zero-padded in channels; no parameters."""

    def __init__(self, out_planes: int, stride: Triple):
        super().__init__()
        self.out_planes, self.stride = out_planes, tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        st, sh, sw = self.stride
        x = x[:, :, ::st, ::sh, ::sw]  # (N, C_in, T', H', W'): the sizes of the strided, padded 3x3x3 conv
        return F.pad(x, (0, 0, 0, 0, 0, 0, 0, self.out_planes - x.shape[1]))  # (N, C_out, T', H', W')


class ResNet3D(nn.Module):
    """Stem, four residual stages, global average pooling and a linear classifier.

    Module names are those of kenshohara/3D-ResNets-PyTorch because its checkpoints depend on them.
    """

    def __init__(self, conv1: nn.Conv3d, layers: Sequence[nn.Module], num_features: int, num_classes: int,
                 max_pool: bool = True, dropout: float = 0.0, frame_diff: bool = False):
        super().__init__()
        self.frame_diff = frame_diff
        self.window_frames = 0  # > 0: the clip is windows of this many frames (ClipSpec "windows<K>", build_model)
        self.conv1 = conv1
        self.bn1 = nn.BatchNorm3d(conv1.out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(kernel_size=3, stride=2, padding=1) if max_pool else nn.Identity()
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool3d(1)  # any clip size works
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(num_features, num_classes)
        self.num_features = num_features

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(N, 3, T, H, W) -> {"layer4": (N, C, T', H', W'), "avgpool": (N, C)}: Sec. III-C's features.
        With `frame_diff` the stem sees the T-1 differences of consecutive frames instead of the frames; in a
        clip of windows (`window_frames` W > 0) the difference across two windows is zero, not a jump in time."""
        if self.frame_diff:
            x = x[:, :, 1:] - x[:, :, :-1]  # (N, 3, T-1, H, W)
            if 0 < self.window_frames < x.shape[2] + 1:
                keep = torch.ones(x.shape[2], device=x.device, dtype=x.dtype)
                keep[self.window_frames - 1::self.window_frames] = 0  # frame W-1 -> W, 2W-1 -> 2W, ...
                x = x * keep.view(1, 1, -1, 1, 1)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, 64w, T/s, H/4, W/4)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (N, C, T', H', W')
        return {"layer4": x, "avgpool": self.avgpool(x).flatten(1)}

    def forward_head(self, avgpool: torch.Tensor) -> torch.Tensor:
        """(N, C) pooled features -> (N, K) logits."""
        return self.fc(self.dropout(avgpool))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, H, W) clip -> (N, K) logits."""
        return self.forward_head(self.forward_features(x)["avgpool"])


# Blocks per stage as in kenshohara/3D-ResNets-PyTorch `generate_model`.
DEPTHS: dict[int, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    10: (BasicBlock, (1, 1, 1, 1)),
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
    200: (Bottleneck, (3, 24, 36, 3)),
}


def _shortcut(kind: str, in_planes: int, out_planes: int, stride: Triple) -> nn.Module | None:
    if stride == (1, 1, 1) and in_planes == out_planes:
        return None
    if kind == "A":
        return ZeroPadShortcut(out_planes, stride)
    return nn.Sequential(conv1x1x1(in_planes, out_planes, stride), nn.BatchNorm3d(out_planes))


def build_resnet3d(depth: int, num_classes: int, stage_blocks: Sequence[BlockFactory] | None = None, *,
                   shortcut: str = "B", conv1_t_size: int = 7, conv1_t_stride: int = 1,
                   no_max_pool: bool = False, widen: float = 1.0, temporal_strides: Sequence[int] = (2, 2, 2),
                   dropout: float = 0.0, in_channels: int = 3, frame_diff: bool = False) -> ResNet3D:
    """Build the I3D of Sec. III-A (a 3D ResNet as in Hara et al. 2018) of `depth` layers.

    `stage_blocks` holds one block factory per stage (default: the depth's BasicBlock or Bottleneck); TSA
    swaps layer3/layer4's (Sec. III-B.4). `shortcut` "A" is parameter-free (kenshohara's older Kinetics-400
    ResNet-18/34 checkpoints), "B" a strided 1x1x1 conv + BN. `widen` scales the stage widths 64/128/256/512
    (0.25 for CPU profiles); `temporal_strides` are layer2..4's temporal strides (module docstring table).
    `frame_diff` feeds the stem the differences of consecutive frames (the "RGB difference" input of Wang et
    al. 2016's TSN) instead of the frames: not the study's input, the default profile's choice (README).
    """
    if depth not in DEPTHS:
        raise ValueError(f"build_resnet3d: depth must be one of {sorted(DEPTHS)}, got {depth}")
    block, counts = DEPTHS[depth]
    stage_blocks = tuple(stage_blocks) if stage_blocks is not None else (block,) * 4
    temporal_strides = tuple(temporal_strides)
    if len(stage_blocks) != 4:
        raise ValueError(f"build_resnet3d: stage_blocks needs 4 block factories (layer1..4), "
                         f"got {len(stage_blocks)}")
    if shortcut not in ("A", "B"):
        raise ValueError(f"build_resnet3d: shortcut must be 'A' or 'B', got {shortcut!r}")
    if len(temporal_strides) != 3:
        raise ValueError(f"build_resnet3d: temporal_strides needs 3 values (layer2..4), "
                         f"got {temporal_strides}")
    widths = [int(w * widen) for w in WIDTHS]
    if min(widths) < 1:
        raise ValueError(f"build_resnet3d: widen={widen} leaves a stage without channels (widths {widths})")

    conv1 = nn.Conv3d(in_channels, widths[0], kernel_size=(conv1_t_size, 7, 7), stride=(conv1_t_stride, 2, 2),
                      padding=(conv1_t_size // 2, 3, 3), bias=False)
    in_planes, layers = widths[0], []
    strides = [(1, 1, 1)] + [(t, 2, 2) for t in temporal_strides]
    stages = zip(stage_blocks, counts, widths, strides, strict=True)
    for stage, (factory, count, planes, stride) in enumerate(stages, start=1):
        out_planes, blocks = planes * block.expansion, []
        for i in range(count):
            s = stride if i == 0 else (1, 1, 1)
            blk = factory(in_planes, planes, s, _shortcut(shortcut, in_planes, out_planes, s))
            if blk.expansion != block.expansion:
                raise ValueError(f"build_resnet3d: layer{stage} block {type(blk).__name__} has expansion "
                                 f"{blk.expansion}; ResNet-{depth} needs {block.expansion}")
            blocks.append(blk)
            in_planes = out_planes
        layers.append(nn.Sequential(*blocks))

    model = ResNet3D(conv1, layers, in_planes, num_classes, max_pool=not no_max_pool, dropout=dropout,
                     frame_diff=frame_diff)
    for m in model.modules():  # initialisation of kenshohara/3D-ResNets-PyTorch
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    # A small classifier (SlowFast / PyTorchVideo's std 0.01): the initial loss is log(C), not 0.3 nats above
    # it from random logits (tests/test_learning.py).
    nn.init.normal_(model.fc.weight, std=0.01)
    nn.init.zeros_(model.fc.bias)
    return model
