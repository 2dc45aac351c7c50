"""Batch of uint8 clips -> the network's float input, on the batch's own device (train-time augmentation)."""

import math

import torch
import torch.nn.functional as F

# Kinetics-400 statistics of the kenshohara / torchvision video models the study starts from.
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)


def crop_boxes(n: int, scale: tuple[float, float],
               ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> torch.Tensor:
    """(n, 4) random resized crop boxes (cx, cy, w, h) as fractions of the picture, from torch's CPU RNG.

    As torchvision's RandomResizedCrop: area fraction ~ U(scale), aspect ratio log-uniform in `ratio`;
    a side longer than the picture is clipped to it (instead of torchvision's retries).
    """
    area = torch.empty(n).uniform_(*scale)
    log_r = torch.empty(n).uniform_(math.log(ratio[0]), math.log(ratio[1]))
    w = (area * log_r.exp()).sqrt().clamp(max=1.0)
    h = (area / log_r.exp()).sqrt().clamp(max=1.0)
    cx = w / 2 + torch.rand(n) * (1 - w)
    cy = h / 2 + torch.rand(n) * (1 - h)
    return torch.stack([cx, cy, w, h], dim=1)


def to_model_input(batch_uint8: torch.Tensor, train: bool, flip: bool = False,
                   crop_scale: tuple[float, float] = (0.8, 1.0)) -> torch.Tensor:
    """(N, T, S, S, 3) uint8 -> (N, 3, T, S, S) float32, scaled to [0, 1] and Kinetics-normalised.

    When `train`: a random resized crop per clip (the same for all its frames) resized back to S x S,
    and, when `flip`, a horizontal flip with probability 1/2 (off by default: it swaps the meaning of
    the left and right sides). Both are one batched affine resampling (grid_sample) on the batch's
    device; the parameters come from torch's CPU RNG, so the result is deterministic given its state.
    """
    if batch_uint8.dtype != torch.uint8 or batch_uint8.ndim != 5 or batch_uint8.shape[-1] != 3:
        raise ValueError(f"to_model_input: expected a uint8 (N, T, S, S, 3) batch, "
                         f"found {batch_uint8.dtype} {tuple(batch_uint8.shape)}")
    n, t, h, w, _ = batch_uint8.shape
    device = batch_uint8.device
    x = batch_uint8.permute(0, 4, 1, 2, 3).float().div_(255)  # (N, 3, T, H, W)
    if train:
        boxes = crop_boxes(n, crop_scale)
        sign = torch.where(torch.rand(n) < 0.5, -1.0, 1.0) if flip else torch.ones(n)
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = boxes[:, 2] * sign
        theta[:, 0, 2] = 2 * boxes[:, 0] - 1
        theta[:, 1, 1] = boxes[:, 3]
        theta[:, 1, 2] = 2 * boxes[:, 1] - 1
        grid = F.affine_grid(theta.to(device), [n, 3 * t, h, w], align_corners=False)
        x = F.grid_sample(x.reshape(n, 3 * t, h, w), grid, mode="bilinear", padding_mode="border",
                          align_corners=False).reshape(n, 3, t, h, w)
    mean = torch.tensor(KINETICS_MEAN, device=device).view(1, 3, 1, 1, 1)
    std = torch.tensor(KINETICS_STD, device=device).view(1, 3, 1, 1, 1)
    return ((x - mean) / std).contiguous()
