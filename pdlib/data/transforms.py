"""Batch of uint8 clips -> the network's float input, on the batch's own device (train-time augmentation
with torchvision.transforms.v2, imported only when training: it pulls in torch._dynamo, about 2 s per process)."""

import torch

# Kinetics-400 statistics of the kenshohara / torchvision video models the study starts from.
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)


def to_model_input(batch_uint8: torch.Tensor, train: bool, flip: bool = False,
                   crop_scale: tuple[float, float] = (0.8, 1.0), time_crop: int = 0) -> torch.Tensor:
    """(N, T, S, S, 3) uint8 -> (N, 3, T, S, S) float32, scaled to [0, 1] and Kinetics-normalised.

    When `train`: torchvision.transforms.v2's RandomResizedCrop (area fraction in `crop_scale`, resized
    back to S x S with antialiasing) drawn once per clip and applied to all its frames, and, when `flip`,
    RandomHorizontalFlip per clip (off by default: it swaps the meaning of the left and right sides).
    `time_crop` (training only, 0 = off): each clip becomes a random window of that many consecutive frames
    (temporal jittering; T' = time_crop). The clips stay on the batch's device; the crop, flip and window
    parameters come from torch's global RNG, so the result is deterministic given its state.
    """
    if batch_uint8.dtype != torch.uint8 or batch_uint8.ndim != 5 or batch_uint8.shape[-1] != 3:
        raise ValueError(f"to_model_input: expected a uint8 (N, T, S, S, 3) batch, "
                         f"found {batch_uint8.dtype} {tuple(batch_uint8.shape)}")
    n, t = batch_uint8.shape[:2]
    if train and 0 < time_crop < t:
        start = torch.randint(0, t - time_crop + 1, (n, 1))
        frames = (start + torch.arange(time_crop)).to(batch_uint8.device)  # (N, T')
        batch_uint8 = batch_uint8[torch.arange(n, device=batch_uint8.device)[:, None], frames]
    x = batch_uint8.permute(0, 1, 4, 2, 3)  # (N, T, 3, H, W): v2's video layout
    if train:
        from torchvision import tv_tensors
        from torchvision.transforms import v2

        steps = [v2.RandomResizedCrop(tuple(x.shape[-2:]), scale=crop_scale, antialias=True)]
        augment = v2.Compose(steps + ([v2.RandomHorizontalFlip()] if flip else []))
        x = torch.stack([augment(tv_tensors.Video(clip)).as_subclass(torch.Tensor) for clip in x])
    # v2.functional.to_dtype(scale=True) and normalize, operation for operation (the same float32 bits)
    x = x.to(torch.float32).mul_(1.0 / 255)
    mean, std = (torch.as_tensor(v, dtype=torch.float32, device=x.device).view(-1, 1, 1)
                 for v in (KINETICS_MEAN, KINETICS_STD))
    x = x.sub(mean).div_(std)
    return x.permute(0, 2, 1, 3, 4).contiguous()  # (N, 3, T, H, W)
