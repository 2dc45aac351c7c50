"""Non-deep baselines on the same clips as the deep models: pooled motion-energy maps and a logistic
regression (scikit-learn), the yardstick a 3D CNN must beat before its numbers mean anything."""

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def motion_features(clips: np.ndarray | torch.Tensor, pool: int = 4, appearance: bool = False,
                    windows: int = 1) -> np.ndarray:
    """(N, T, S, S, 3) uint8 -> (N, k (S/pool)^2): per-pixel temporal std and mean |frame difference| of the
    gray clip, average-pooled by `pool`; with `appearance`, the mean frame's three colour planes too. A clip
    of `windows` K windows (ClipSpec "windows<K>") averages the differences within its windows only."""
    x = torch.as_tensor(np.asarray(clips)).float()  # (N, T, S, S, 3)
    gray = x.mean(-1)  # (N, T, S, S)
    diff = (gray[:, 1:] - gray[:, :-1]).abs()  # (N, T-1, S, S)
    if windows > 1:
        width = gray.shape[1] // windows
        diff = diff[:, [i for i in range(diff.shape[1]) if (i + 1) % width]]  # not frame W-1 -> W, ...
    maps = [gray.std(1)[:, None], diff.mean(1)[:, None]]
    if appearance:
        maps.append(x.mean(1).permute(0, 3, 1, 2))  # (N, 3, S, S)
    return torch.cat([F.avg_pool2d(m, pool).flatten(1) for m in maps], dim=1).numpy()


def probe(train_x: np.ndarray, train_y: np.ndarray, c: float = 0.1, seed: int = 0):
    """A fitted L2 logistic regression on standardised features (class-balanced, lbfgs; multinomial for
    more than two classes)."""
    head = LogisticRegression(C=c, max_iter=3000, class_weight="balanced", random_state=seed)
    return make_pipeline(StandardScaler(), head).fit(train_x, train_y)


def action_probe_top1(train, test, pool: int = 8, seed: int = 0) -> float:
    """Top-1 accuracy (%) of the motion-and-appearance probe on an action split (Table II's baseline row):
    `train`/`test` are ClipDatasets (clips (N, T, S, S, 3) uint8, labels)."""
    model = probe(motion_features(train.clips, pool, appearance=True), train.labels.numpy(), seed=seed)
    pred = model.predict(motion_features(test.clips, pool, appearance=True))
    return 100.0 * float(np.mean(pred == test.labels.numpy()))
