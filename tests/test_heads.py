"""The four task-assembling heads of Table I: weights, masking, shapes, and learning which task matters."""

import pytest
import torch
import torch.nn.functional as F

from pdlib.models.heads import METHOD_INPUT, METHODS, build_assembler, task_weights

N, M, D, K = 6, 7, 16, 3
MAP = (8, 2, 2, 2)  # (C, T', H', W')


def _inputs(method: str, n: int = N, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    shape = (n, M, D) if METHOD_INPUT[method] == "avgpool" else (n, M, *MAP)
    return torch.randn(shape, generator=g)


def _head(method: str, **kw):
    torch.manual_seed(0)
    shape = (M, D) if METHOD_INPUT[method] == "avgpool" else (M, *MAP)
    return build_assembler(method, shape, K, **kw).eval()


WEIGHT_SHAPES = {"vector_averaging": (N, M), "vector_weighting": (M,), "channel_attention": (N, M),
                 "pixel_attention": (N, *MAP[1:], M)}


@pytest.mark.parametrize("method", METHODS)
def test_output_and_weight_shapes(method):
    head, x = _head(method), _inputs(method)
    mask = torch.ones(N, M, dtype=torch.bool)
    assert head(x, mask).shape == (N, K)
    assert task_weights(head, x, mask).shape == WEIGHT_SHAPES[method]


@pytest.mark.parametrize("shape", [(1, D), (1, *MAP)])
def test_single_task_head_shapes(shape):
    head = build_assembler("single_task", shape, K)
    assert head(torch.randn(N, *shape)).shape == (N, K)


def test_averaging_is_mean_of_present_tasks_and_masking_equals_dropping():
    head, x = _head("vector_averaging"), _inputs("vector_averaging")
    mask = torch.ones(N, M, dtype=torch.bool)
    mask[:, 2] = False
    mask[0, 5] = False
    f = head.combine(x, mask)
    expected = torch.stack([x[i, mask[i]].mean(dim=0) for i in range(N)])
    torch.testing.assert_close(f, expected)
    keep = [m for m in range(M) if m != 2]
    dropped = build_assembler("vector_averaging", (M - 1, D), K)
    dropped.load_state_dict(head.state_dict())
    torch.testing.assert_close(head(x, mask), dropped.eval()(x[:, keep], mask[:, keep]))


def test_vector_weights_sum_to_one_and_are_shared():
    head, x = _head("vector_weighting"), _inputs("vector_weighting")
    with torch.no_grad():
        head.logits.copy_(torch.arange(M, dtype=torch.float))
    alpha = task_weights(head, x)
    assert alpha.sum().item() == pytest.approx(1.0)
    per_exam = head.weights(x, torch.ones(N, M, dtype=torch.bool))
    torch.testing.assert_close(per_exam, alpha.expand(N, M))  # the same α for every examination
    mask = torch.ones(N, M, dtype=torch.bool)
    mask[:, 6] = False
    renorm = head.weights(x, mask)
    torch.testing.assert_close(renorm[:, :6], (alpha[:6] / alpha[:6].sum()).expand(N, 6))
    assert renorm[:, 6].abs().max() == 0


def test_channel_weights_differ_between_examinations_and_zero_when_missing():
    head, x = _head("channel_attention"), _inputs("channel_attention")
    shift = torch.arange(N, dtype=torch.float)[:, None] * torch.linspace(-1, 1, M)  # (N, M)
    x = x + shift.view(N, M, 1, 1, 1, 1)  # task means that differ between examinations
    mask = torch.ones(N, M, dtype=torch.bool)
    mask[1, 3] = False
    w = task_weights(head, x, mask)
    assert (w[:, 0].max() - w[:, 0].min()) > 1e-3
    assert w[1, 3] == 0 and (w > 0).sum() == N * M - 1


def test_pixel_weights_differ_between_points_sum_to_one_and_ignore_missing():
    head, x = _head("pixel_attention"), _inputs("pixel_attention")
    mask = torch.ones(N, M, dtype=torch.bool)
    mask[2, 4] = False
    w = task_weights(head, x, mask)  # (N, T, H, W, M)
    torch.testing.assert_close(w.sum(dim=-1), torch.ones(N, *MAP[1:]))
    points = w[0].reshape(-1, M)
    assert (points.max(dim=0).values - points.min(dim=0).values).max() > 1e-3
    assert w[2, ..., 4].abs().max() == 0
    changed = x.clone()
    changed[2, 4] = 100.0  # a missing task's values never reach the output
    torch.testing.assert_close(head(changed, mask)[2], head(x, mask)[2])


def test_one_head_pixel_output_is_weighted_sum_of_projected_values():
    head, x = _head("pixel_attention", heads=1), _inputs("pixel_attention")
    mask = torch.ones(N, M, dtype=torch.bool)
    w = task_weights(head, x, mask)  # (N, T, H, W, M)
    with torch.no_grad():
        seq = x.permute(0, 3, 4, 5, 1, 2).reshape(-1, M, MAP[0])
        v = head.out(head.qkv(seq)[..., 2 * head.head_dim:])  # (B, M, C')
        expected = (w.reshape(-1, M, 1) * v).sum(dim=1).view(N, *MAP[1:], -1).permute(0, 4, 1, 2, 3)
        torch.testing.assert_close(head.combine(x, mask), expected)


@pytest.mark.parametrize("method", METHODS)
def test_heads_learn_to_weight_the_informative_task(method):
    """Task 1 carries the label, the others are noise: after training the head weights task 1 most."""
    torch.manual_seed(1)
    n, informative = 90, 1
    y = torch.arange(n) % K
    x = _inputs(method, n, seed=1)
    signal = F.one_hot(y, K).float() * 6.0  # class in the first K channels of task 1
    x[:, informative, :K] += signal.view(n, K, *([1] * (x.dim() - 3)))
    mask = torch.ones(n, M, dtype=torch.bool)
    head = _head(method).train()
    opt = torch.optim.Adam(head.parameters(), lr=2e-2)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(head(x, mask), y).backward()
        opt.step()
    head.eval()
    assert (head(x, mask).argmax(dim=1) == y).float().mean() > 0.9
    if method == "vector_averaging":
        return  # uniform by definition (Eq. 7): nothing to learn
    w = task_weights(head, x, mask)
    per_task = w.reshape(-1, M).mean(dim=0)
    assert per_task.argmax().item() == informative, per_task
