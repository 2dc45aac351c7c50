"""Tests of the class-balanced focal loss against a direct evaluation of the study's Eq. (1)-(2)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pdlib.losses import ClassBalancedFocalLoss


def eq1_numpy(z: np.ndarray, y: np.ndarray, n: np.ndarray, gamma: float, beta: float) -> float:
    p = 1 / (1 + np.exp(-z))
    onehot = np.eye(z.shape[1])[y]
    pt = np.where(onehot == 1, p, 1 - p)  # Eq. (2)
    w = (1 - beta) / (1 - beta ** n[y])
    return float(np.mean(-w * np.sum((1 - pt) ** gamma * np.log(pt), axis=1)))


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_matches_equation_1(gamma):
    rng = np.random.default_rng(0)
    z, y, n = rng.normal(0, 3, (32, 3)), rng.integers(0, 3, 32), np.array([40, 5, 12])
    beta = (n.sum() - 1) / n.sum()
    loss = ClassBalancedFocalLoss(n.tolist(), gamma=gamma)(torch.tensor(z), torch.tensor(y))
    assert loss.item() == pytest.approx(eq1_numpy(z, y, n, gamma, beta), rel=1e-6)
    z32 = torch.tensor(z, dtype=torch.float32)
    loss32 = ClassBalancedFocalLoss(n.tolist(), gamma=gamma, beta=0.9)(z32, torch.tensor(y))
    assert loss32.item() == pytest.approx(eq1_numpy(z, y, n, gamma, 0.9), rel=1e-5)


@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_softmax_form(gamma):
    rng = np.random.default_rng(1)
    z, y, n = rng.normal(0, 3, (16, 3)), rng.integers(0, 3, 16), np.array([20, 4, 9])
    beta = (n.sum() - 1) / n.sum()
    p = np.exp(z - z.max(1, keepdims=True))
    py = (p / p.sum(1, keepdims=True))[np.arange(16), y]
    expected = np.mean(-(1 - beta) / (1 - beta ** n[y]) * (1 - py) ** gamma * np.log(py))
    loss = ClassBalancedFocalLoss(n.tolist(), gamma=gamma, form="softmax")(torch.tensor(z), torch.tensor(y))
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    if gamma == 0:  # weighted cross-entropy
        ce = F.cross_entropy(torch.tensor(z), torch.tensor(y), weight=torch.tensor((1 - beta) / (1 - beta ** n)),
                             reduction="none")
        assert loss.item() == pytest.approx(ce.mean().item(), rel=1e-6)
    with pytest.raises(ValueError, match="form must be"):
        ClassBalancedFocalLoss([2, 3], form="tanh")


def test_default_beta_and_weights():
    loss = ClassBalancedFocalLoss([3, 1])
    assert loss.beta == 0.75  # (N - 1) / N with N = 4
    assert loss.weights.tolist() == pytest.approx([0.25 / (1 - 0.75**3), 1.0])
    normed = ClassBalancedFocalLoss([3, 1], normalize=True)
    assert normed.weights.sum().item() == pytest.approx(2.0)
    assert "weights" in dict(loss.named_buffers())


def test_gamma_zero_is_weighted_bce():
    z, y = torch.randn(8, 2), torch.tensor([0, 1] * 4)
    loss = ClassBalancedFocalLoss([6, 2], gamma=0.0)
    bce = F.binary_cross_entropy_with_logits(z, F.one_hot(y, 2).float(), reduction="none").sum(1)
    assert loss(z, y).item() == pytest.approx((bce * loss.weights[y]).mean().item(), rel=1e-6)


def test_stable_for_large_logits():
    z = torch.tensor([[100.0, -100.0], [-100.0, 100.0]], requires_grad=True)
    criterion = ClassBalancedFocalLoss([5, 5])
    loss = criterion(z, torch.tensor([1, 0]))  # both classes wrong by 100: -log p^t = 100, (1 - p^t)^2 = 1
    loss.backward()
    assert loss.item() == pytest.approx(200 * criterion.weights[0].item(), rel=1e-6)
    assert torch.isfinite(z.grad).all()


def test_errors():
    with pytest.raises(ValueError, match=r"class\(es\) \[1\] have no training samples"):
        ClassBalancedFocalLoss([4, 0, 3])
    with pytest.raises(ValueError, match=r"expected logits \(N, 2\)"):
        ClassBalancedFocalLoss([4, 3])(torch.randn(2, 3), torch.tensor([0, 1]))
