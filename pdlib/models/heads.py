"""The four task-assembling heads of the study (Sec. III-C, Table I), plus the single-task baseline head.

Every head maps the features of M tasks of one examination, with a presence mask, to class logits:
`head(x, mask) -> (N, K)`. A missing task (mask False) never contributes: weights are renormalised over
the present tasks, attention keys of missing tasks are excluded, SE weights of missing tasks are zeroed.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Logit of a missing task: exp(_NEG - max) is 0, and an examination without tasks gets zeros, not NaN.
_NEG = -1e9

METHODS: tuple[str, ...] = ("vector_averaging", "vector_weighting", "channel_attention", "pixel_attention")
# The input feature each method reads (Table I): the avgpool vector or the layer4 map.
METHOD_INPUT: dict[str, str] = {"vector_averaging": "avgpool", "vector_weighting": "avgpool",
                                "channel_attention": "layer4", "pixel_attention": "layer4"}


def _full_mask(x: Tensor, mask: Tensor | None) -> Tensor:
    """The (N, M) presence mask, all True when none is given."""
    if mask is None:
        return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    if mask.shape != x.shape[:2]:
        raise ValueError(f"mask has shape {tuple(mask.shape)}; expected (N, M) = {tuple(x.shape[:2])}")
    return mask.bool()


class MLPHead(nn.Module):
    """The shallow network on an assembled vector (Sec. III-C.1, footnote 3): 0, 1 or 2 hidden ReLU layers."""

    def __init__(self, dim: int, num_classes: int, hidden_layers: int = 0, hidden_units: int = 64):
        super().__init__()
        if hidden_layers not in (0, 1, 2):
            raise ValueError(f"hidden_layers={hidden_layers}; the study's shallow head has 0, 1 or 2")
        layers: list[nn.Module] = []
        for _ in range(hidden_layers):
            layers += [nn.Linear(dim, hidden_units), nn.ReLU()]
            dim = hidden_units
        self.net = nn.Sequential(*layers, nn.Linear(dim, num_classes))

    def forward(self, f: Tensor) -> Tensor:  # (N, d) -> (N, K)
        return self.net(f)


class MapHead(nn.Module):
    """The shallow network on an assembled map (Sec. III-C.2): batch norm, ReLU, global average pool, FC."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm3d(channels)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, f: Tensor) -> Tensor:  # (N, C, T, H, W) -> (N, K)
        return self.fc(F.relu(self.bn(f)).mean(dim=(2, 3, 4)))


class AssemblingHead(nn.Module):
    """Base of the heads: `forward(x, mask)` combines the tasks with `weights`, then the shallow head."""

    head: nn.Module

    def weights(self, x: Tensor, mask: Tensor) -> Tensor:
        """Per-examination task weights (N, M), zero for missing tasks."""
        raise NotImplementedError

    def combine(self, x: Tensor, mask: Tensor) -> Tensor:
        """The assembled feature F of every examination: Σ_m α_m F_m."""
        w = self.weights(x, mask)  # (N, M)
        return (w.unsqueeze(1) @ x.flatten(2)).view(x.shape[:1] + x.shape[2:])  # (N, 1, M) @ (N, M, ...)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.head(self.combine(x, _full_mask(x, mask)))

    def task_weights(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """The method's task weights as read in the study (see `task_weights`)."""
        return self.weights(x, _full_mask(x, mask))


class SingleTask(AssemblingHead):
    """Single-task baseline (Table VII): the shallow head on the features of one task (M = 1)."""

    def __init__(self, in_shape: tuple[int, ...], num_classes: int, hidden_layers: int = 0,
                 hidden_units: int = 64):
        super().__init__()
        if in_shape[0] != 1:
            raise ValueError(f"single_task expects in_shape (1, ...) for one task; found {in_shape}")
        self.head = (MLPHead(in_shape[1], num_classes, hidden_layers, hidden_units) if len(in_shape) == 2
                     else MapHead(in_shape[1], num_classes))

    def weights(self, x: Tensor, mask: Tensor) -> Tensor:
        return mask.float()  # (N, 1)

    def combine(self, x: Tensor, mask: Tensor) -> Tensor:
        return x[:, 0]  # (N, d) or (N, C, T, H, W): the examinations given all have the task


class VectorAveraging(AssemblingHead):
    """Eq. 7: F = (1/M') Σ_m F_m over the M' present tasks of an examination, then the MLP head."""

    def __init__(self, num_tasks: int, dim: int, num_classes: int, hidden_layers: int = 0,
                 hidden_units: int = 64):
        super().__init__()
        self.head = MLPHead(dim, num_classes, hidden_layers, hidden_units)

    def weights(self, x: Tensor, mask: Tensor) -> Tensor:
        m = mask.float()  # (N, M)
        return m / m.sum(dim=1, keepdim=True).clamp(min=1.0)


class VectorWeighting(AssemblingHead):
    """Eq. 8: F = Σ_m α_m F_m with learnable α = softmax(logits), Σ α = 1, shared by all examinations.

    The logits start at zero (uniform α, i.e. Eq. 7). For an examination with missing tasks the softmax is
    taken over its present tasks only, which equals α renormalised over them.
    """

    def __init__(self, num_tasks: int, dim: int, num_classes: int, hidden_layers: int = 0,
                 hidden_units: int = 64):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(num_tasks))  # (M,)
        self.head = MLPHead(dim, num_classes, hidden_layers, hidden_units)

    def weights(self, x: Tensor, mask: Tensor) -> Tensor:
        logits = self.logits.expand(mask.shape).masked_fill(~mask, _NEG)  # (N, M)
        return torch.softmax(logits, dim=1) * mask

    def task_weights(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """The global α (M,) of Eq. 8 (Fig. 7)."""
        return torch.softmax(self.logits, dim=0)


class ChannelAttention(AssemblingHead):
    """Eq. 9-11: squeeze-and-excitation over the task dimension, per examination, then the map head.

    z_m = mean of F_m over (C, T, H, W) (Eq. 9), α = σ(W2 δ(W1 z)) (Eq. 10, W1: M -> max(1, M // r)),
    α_m = 0 for missing tasks, and F = Σ_m α_m F_m (Eq. 11 read as the product α_M F_M contracted over
    the task dimension: a sum, not a mean; the map head's batch norm absorbs the scale).
    """

    def __init__(self, num_tasks: int, channels: int, num_classes: int, reduction: int = 2):
        super().__init__()
        hidden = max(1, num_tasks // reduction)
        self.excite = nn.Sequential(nn.Linear(num_tasks, hidden), nn.ReLU(), nn.Linear(hidden, num_tasks))
        self.head = MapHead(channels, num_classes)

    def weights(self, x: Tensor, mask: Tensor) -> Tensor:
        z = x.mean(dim=(2, 3, 4, 5)) * mask  # (N, M), Eq. 9
        return torch.sigmoid(self.excite(z)) * mask  # (N, M), Eq. 10


class PixelAttention(AssemblingHead):
    """Eq. 12-13: multi-head self-attention over the task dimension at every feature point (t, h, w).

    F_M (N, M, C, T, H, W) is read as N·T·H·W sequences of M task tokens of C channels. Per head,
    O_h = softmax(Q K^T / sqrt(d_k)) V with Q, K, V = F_M W_q, F_M W_k, F_M W_v (d_k = d_v = `head_dim`),
    and [O_1..O_h] O^W (Eq. 13) has C' = heads·head_dim channels. Keys of missing tasks are excluded.
    F (N, C', T, H, W) is the mean of the outputs over the present tasks (the query positions).

    The task weight implicit in Eq. 13 is α^h_{t,h,w,m} = the attention that key m receives in head h,
    averaged over the present queries; it sums to 1 over m and F = O^W [Σ_m α^h_m V^h_m]_h exactly (so F is
    computed that way: pooling before O^W is the same, M times cheaper). `weights` reports the mean over
    heads, α_{t,h,w,m}.
    """

    def __init__(self, num_tasks: int, channels: int, num_classes: int, heads: int = 2, head_dim: int = 8):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        inner = heads * head_dim
        self.qkv = nn.Linear(channels, 3 * inner, bias=False)  # W_q, W_k, W_v of Eq. 12
        self.out = nn.Linear(inner, inner)  # O^W of Eq. 13
        self.head = MapHead(inner, num_classes)

    def _received(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Attention received per key α^h (heads, M, B) and values V (heads, M, d_k, B), B = N·T·H·W.

        The points B are the last, contiguous axis: with M ~ 7 tasks and d_k ~ 8 the attention is many tiny
        matrices, which broadcast products over B compute faster on CPU than batched matmuls.
        """
        n, m, c, t, h, w = x.shape
        p = t * h * w
        # A 1x1 convolution projects in x's own layout: no copy of the large input to (B, M, C) per step.
        proj = F.conv1d(x.reshape(n * m, c, p), self.qkv.weight[:, :, None])  # (N·M, 3·heads·d_k, P)
        proj = proj.view(n, m, 3, self.heads, self.head_dim, p).permute(2, 3, 1, 4, 0, 5)  # (3, h, M, dk, N, P)
        q, k, v = proj.reshape(3, self.heads, m, self.head_dim, n * p)  # each (heads, M, d_k, B)
        keys = mask.t().repeat_interleave(p, dim=1)  # (M, B)
        scores = (q[:, :, None] * k[:, None]).sum(dim=3) / self.head_dim ** 0.5  # (heads, M_q, M_k, B)
        attn = torch.softmax(scores.masked_fill(~keys, _NEG), dim=2) * keys  # Eq. 12
        queries = keys / keys.sum(dim=0, keepdim=True).clamp(min=1)  # (M_q, B): 1/M' on present tasks
        return (attn * queries[:, None]).sum(dim=1), v  # (heads, M_k, B), (heads, M, d_k, B)

    def combine(self, x: Tensor, mask: Tensor) -> Tensor:
        n, _, _, t, h, w = x.shape
        received, v = self._received(x, mask)
        pooled = (received[:, :, None] * v).sum(dim=1).flatten(0, 1)  # (C', B)
        out = self.out.weight @ pooled + self.out.bias[:, None]  # (C', B), Eq. 13
        return out.view(-1, n, t, h, w).transpose(0, 1)  # (N, C', T, H, W)

    def weights(self, x: Tensor, mask: Tensor) -> Tensor:
        """Per-point task weights (N, T, H, W, M): attention received, mean over present queries and heads."""
        n, m, _, t, h, w = x.shape
        received, _ = self._received(x, mask)
        return received.mean(dim=0).t().reshape(n, t, h, w, m)


def task_weights(head: AssemblingHead, x: Tensor, mask: Tensor | None = None) -> Tensor:
    """The task weights α a trained head gives (Table I), without gradients and in eval mode.

    vector_averaging: (N, M) uniform over present tasks (Eq. 7); vector_weighting: the global (M,) α
    (Eq. 8, Fig. 7); channel_attention: (N, M) per examination (Eq. 10); pixel_attention: (N, T', H', W', M)
    per feature point (implicit in Eq. 12-13, see PixelAttention).
    """
    was_training = head.training
    head.eval()
    with torch.no_grad():
        w = head.task_weights(x, mask)
    head.train(was_training)
    return w


def build_assembler(method: str, in_shape: tuple[int, ...], num_classes: int, *, hidden_layers: int = 0,
                    hidden_units: int = 64, reduction: int = 2, heads: int = 2,
                    head_dim: int = 8) -> AssemblingHead:
    """A head of Table I for inputs of shape `in_shape` = (M, d) (avgpool) or (M, C, T', H', W') (layer4).

    method: "vector_averaging" | "vector_weighting" (avgpool; MLP with `hidden_layers` ReLU layers),
    "channel_attention" (layer4; SE reduction ratio `reduction`), "pixel_attention" (layer4; `heads` x
    `head_dim`), or "single_task" (in_shape (1, ...): the Table VII baseline on one task's features).
    """
    in_shape = tuple(int(s) for s in in_shape)
    expected = {"avgpool": 2, "layer4": 5}
    if method == "single_task":
        if len(in_shape) not in expected.values():
            raise ValueError(f"single_task: in_shape {in_shape} is neither (1, d) nor (1, C, T, H, W)")
        return SingleTask(in_shape, num_classes, hidden_layers, hidden_units)
    if method not in METHODS:
        raise ValueError(f"unknown assembling method {method!r}; "
                         f"expected one of {METHODS + ('single_task',)}")
    if len(in_shape) != expected[METHOD_INPUT[method]]:
        raise ValueError(f"{method} reads {METHOD_INPUT[method]} features: expected in_shape of "
                         f"{expected[METHOD_INPUT[method]]} dims, found {in_shape}")
    m, c = in_shape[:2]
    if method == "vector_averaging":
        return VectorAveraging(m, c, num_classes, hidden_layers, hidden_units)
    if method == "vector_weighting":
        return VectorWeighting(m, c, num_classes, hidden_layers, hidden_units)
    if method == "channel_attention":
        return ChannelAttention(m, c, num_classes, reduction)
    return PixelAttention(m, c, num_classes, heads, head_dim)
