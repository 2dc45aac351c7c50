"""Class-balanced focal loss of the study's Eq. (1)-(2) (Cui et al. 2019, sigmoid form)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class ClassBalancedFocalLoss(nn.Module):
    """J = 1/N sum_i -w_{y_i} sum_c (1 - p^t_{i,c})^gamma log p^t_{i,c}: Eq. (1) without its weight decay.

    p = sigmoid(z) per class and p^t = p for the true class, 1 - p otherwise (Eq. 2); w_y = (1 - beta) /
    (1 - beta^{n_y}) with beta = (N - 1)/N by default, N = sum(samples_per_class). The term lambda ||w||^2 of
    Eq. (1) is the optimizer's weight decay (TrainConfig.weight_decay), not part of this module.
    `normalize=True` rescales the weights to sum to C as Cui et al. do; the paper's Eq. (1) does not.
    `form="softmax"` is Cui et al.'s other variant (not the study's): p = softmax(z) and the focal term of
    the true class only, -w_y (1 - p_y)^gamma log p_y.
    """

    def __init__(self, samples_per_class: Sequence[int], gamma: float = 2.0, beta: float | None = None,
                 normalize: bool = False, form: str = "sigmoid"):
        super().__init__()
        if form not in ("sigmoid", "softmax"):
            raise ValueError(f"ClassBalancedFocalLoss: form must be 'sigmoid' or 'softmax', got {form!r}")
        n = torch.as_tensor(samples_per_class, dtype=torch.float64)
        if n.ndim != 1 or len(n) < 2:
            raise ValueError(f"ClassBalancedFocalLoss: samples_per_class needs a count per class (>= 2), "
                             f"got {samples_per_class}")
        if (n <= 0).any():
            empty = torch.nonzero(n <= 0).flatten().tolist()
            raise ValueError(f"ClassBalancedFocalLoss: class(es) {empty} have no training samples "
                             f"(samples_per_class={n.long().tolist()}); their weight (1-beta)/(1-beta^0) "
                             "is undefined")
        total = n.sum().item()
        beta = (total - 1) / total if beta is None else beta
        if not 0 <= beta < 1:
            raise ValueError(f"ClassBalancedFocalLoss: beta must be in [0, 1), got {beta}")
        weights = (1 - beta) / (1 - beta**n)  # (C,), Eq. (1)
        if normalize:
            weights = weights * len(n) / weights.sum()
        self.gamma, self.beta, self.form = gamma, beta, form
        self.register_buffer("weights", weights.float())

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(N, C) logits and (N,) class indices -> scalar loss."""
        if logits.ndim != 2 or logits.shape[1] != len(self.weights):
            raise ValueError(f"ClassBalancedFocalLoss: expected logits (N, {len(self.weights)}), "
                             f"got {tuple(logits.shape)}")
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()  # the loss is computed in float32 under autocast
        weights = self.weights.to(logits.dtype)[target]
        if self.form == "softmax":
            log_py = F.log_softmax(logits, dim=1).gather(1, target[:, None])[:, 0]  # log p_y
            focal = (-torch.expm1(log_py)).clamp_min(0) ** self.gamma  # (1 - p_y)^gamma
            return (-(focal * log_py) * weights).mean()
        sign = 2 * F.one_hot(target, logits.shape[1]).to(logits.dtype) - 1  # +1 true class, -1 otherwise
        log_pt = F.logsigmoid(sign * logits)  # log p^t of Eq. (2)
        focal = torch.exp(self.gamma * F.logsigmoid(-sign * logits))  # (1 - p^t)^gamma, stable for large |z|
        per_sample = -(focal * log_pt).sum(dim=1) * weights  # (N,)
        return per_sample.mean()
