"""Training and inference engine of the study's task models (Sec. III-A, IV-B): fine-tuning with SGD and the
class-balanced focal loss, epoch checkpoints and resume, and the one inference loop (prediction, features).
Cross-validation over folds is the task-level experiments' (`pdlib.task_level`)."""

import dataclasses
import math
import os
import random
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    DistributedSampler,
    RandomSampler,
    SequentialSampler,
)

from pdlib.data import to_model_input
from pdlib.data.spec import clip_views
from pdlib.folds import assert_patient_disjoint
from pdlib.losses import ClassBalancedFocalLoss
from pdlib.metrics import binary_metrics
from pdlib.progress import progress_bar

CHECKPOINT = "last.pt"
SYNC_STEPS = 25  # on CUDA, the training losses are read (a host-GPU sync) once per this many steps
# Settings that must not change when a run resumes from a checkpoint (epochs may grow).
RESUME_KEYS = ("batch_size", "lr", "momentum", "weight_decay", "gamma", "cb_normalize", "clip_grad", "seed", "flip",
               "loss_form", "optimizer", "lr_schedule", "warmup_epochs", "time_crop")


@dataclass
class TrainConfig:
    """Hyper-parameters and run settings of fit/predict/cross_validate (defaults: the study, Sec. IV-B)."""

    epochs: int = 30  # not given by the study ("convergence is confirmed"); profiles set their own
    batch_size: int = 15
    lr: float = 1e-3  # constant ("without decay" in the study)
    momentum: float = 0.9  # SGD with momentum, as in Sec. V-A
    weight_decay: float = 0.01  # lambda of Eq. 1, applied by the optimizer
    gamma: float = 2.0  # focusing parameter of the focal loss (Eq. 1)
    # Class-balanced weights rescaled to sum to the class count, as Cui et al.'s reference code does. Eq. 1 as
    # printed leaves them unnormalised, about 1/n_y (1/60 at the task level): the loss and its gradient
    # shrink by that factor, so SGD at the study's lr 1e-3 barely moves (tests/test_train.py shows it).
    cb_normalize: bool = True
    # "sigmoid": the study's Eq. 1-2; "softmax": Cui et al.'s softmax form, which with gamma=0 is the
    # (class-balanced) cross-entropy that action-recognition pretraining usually uses.
    loss_form: str = "sigmoid"
    optimizer: str = "sgd"  # "sgd" (the study, with momentum) or "adamw" (decoupled weight decay)
    lr_schedule: str = "constant"  # "constant" (the study: "without decay") or "cosine" (per step)
    warmup_epochs: float = 0.0  # linear warm-up of the cosine schedule, in epochs
    clip_grad: float | None = 5.0  # max gradient norm; TSA can explode at large lr (Sec. V-C)
    amp: str = "auto"  # "auto": bf16 autocast on CUDA, fp32 on CPU; "bf16" or "off" to force
    channels_last: str | bool = "auto"  # "auto": channels_last_3d on CUDA only (faster cuDNN 3D convs)
    compile: bool = False  # torch.compile the model (pays off on long GPU runs only)
    # CUDA only: torch.use_deterministic_algorithms and cuDNN without autotuning, for identical GPU reruns (slower:
    # cudnn.benchmark alone is worth 1.46x in the engine on an H200). On CPU training is always deterministic.
    deterministic: bool = False
    seed: int = 0
    device: str = "auto"  # "auto": cuda (the local rank's GPU under torchrun) when available, else cpu
    num_workers: int = 0  # DataLoader workers; clips are already decoded, so 0 is usually enough
    checkpoint_dir: str | Path | None = None  # last.pt is written here (see checkpoint_every_s); None: none
    # last.pt after the first and the last epoch, and after any epoch ending this many seconds after the previous
    # checkpoint (0: every epoch). A GPU epoch of r3d34 trains in under a second; its checkpoint (weights and SGD
    # momentum, 508 MB) takes about one more to write.
    checkpoint_every_s: float = 60.0
    resume: bool = True  # continue from checkpoint_dir/last.pt when it exists
    flip: bool = False  # random horizontal flips in training (off: left/right videos are distinct)
    # Temporal jittering: each training clip is a random window of this many consecutive frames of its cached
    # clip, drawn anew every epoch; evaluation sees the whole cached clip (the network pools over time).
    # 0: training sees the whole clip too (the study).
    time_crop: int = 0
    progress: bool = True  # tqdm bars (notebook or terminal)


@dataclass
class FitResult:
    """What fit returns: the trained model (unwrapped) and one history row per epoch."""

    model: nn.Module
    history: pd.DataFrame


class TrainingDiverged(RuntimeError):
    """The loss or the gradient norm became NaN or infinite."""


def probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Class probabilities (N, K) from logits: the per-class sigmoids of the focal loss (Eq. 1, 2)
    normalised to sum to 1, so predict, the ROC and the Brier score use what the loss calibrates."""
    p = torch.sigmoid(logits.float())
    return p / p.sum(dim=1, keepdim=True)


def configure_backends(device: torch.device, deterministic: bool = False) -> None:
    """The kernels' settings for `device`. CPU: deterministic kernels (warn-only), so two CPU runs with one seed
    are identical. CUDA: cuDNN autotuning (`cudnn.benchmark`: the fastest convolution algorithm per input shape,
    chosen once per shape) unless `deterministic`, which turns on `torch.use_deterministic_algorithms` instead."""
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
        return
    if device.type != "cuda":
        return
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS (read at first use)
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    torch.use_deterministic_algorithms(deterministic)


def seed_everything(seed: int, device: torch.device, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch, and set the device's kernels (`configure_backends`)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    configure_backends(device, deterministic)


def distributed() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) under torchrun (env WORLD_SIZE, RANK, LOCAL_RANK), else (0, 0, 1);
    initialises the process group on first use."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0")), world


def resolve_device(device: str = "auto") -> torch.device:
    """The device of a config: "auto" picks the local rank's GPU when CUDA is available, else the CPU."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda", distributed()[1])
    return torch.device("cpu")


def amp_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of a config on `device` (bfloat16), or None for fp32."""
    if config.amp not in ("auto", "bf16", "off"):
        raise ValueError(f"TrainConfig.amp: expected 'auto', 'bf16' or 'off', found {config.amp!r}")
    if config.amp == "bf16" or (config.amp == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def _channels_last(config: TrainConfig, device: torch.device) -> bool:
    return device.type == "cuda" if config.channels_last == "auto" else bool(config.channels_last)


def clip_loader(dataset: Dataset, config: TrainConfig, sampler, drop_last: bool = False) -> DataLoader:
    """Batches of `sampler`'s indices, each fetched as `dataset[list_of_indices]` (one gather from
    ClipDataset's clip tensor, on its device, instead of stacking single clips)."""
    labels = getattr(dataset, "labels", None)
    on_cpu = not (isinstance(labels, torch.Tensor) and labels.device.type != "cpu")  # else GPU-resident clips
    batches = BatchSampler(sampler, config.batch_size, drop_last=drop_last)
    workers = config.num_workers if on_cpu else 0
    return DataLoader(dataset, batch_size=None, sampler=batches, num_workers=workers,
                      pin_memory=on_cpu and torch.cuda.is_available())


def model_input(x: torch.Tensor, device: torch.device, train: bool, config: TrainConfig) -> torch.Tensor:
    """A uint8 batch moved to `device` and turned into the network's input (pdlib.data.to_model_input)."""
    x = to_model_input(x.to(device, non_blocking=True), train=train, flip=config.flip, time_crop=config.time_crop)
    # x: (N, 3, T, S, S) float
    return x.contiguous(memory_format=torch.channels_last_3d) if _channels_last(config, device) else x


def one_view(x: torch.Tensor, views: int) -> torch.Tensor:
    """Training with views (ClipSpec "windows<K>", views): each clip (N, T, ...) becomes one of its K windows
    of T/K frames, drawn with torch's global RNG (deterministic given its state)."""
    if views == 1:
        return x
    n, width = x.shape[0], x.shape[1] // views
    frames = torch.randint(0, views, (n, 1)) * width + torch.arange(width)  # (N, W)
    return x[torch.arange(n)[:, None], frames.to(x.device)]


def all_views(x: torch.Tensor, views: int) -> torch.Tensor:
    """Evaluation with views: (N, T, ...) -> (N K, T/K, ...), every window of every clip (`mean_of_views`)."""
    return x if views == 1 else x.unflatten(1, (views, -1)).flatten(0, 1)


def mean_of_views(out, views: int):
    """The mean over each clip's K views of a model output (a tensor or a dict of tensors, N K first)."""
    if views == 1:
        return out
    if isinstance(out, dict):
        return {k: mean_of_views(v, views) for k, v in out.items()}
    return out.unflatten(0, (-1, views)).mean(1)


def _class_counts(labels, num_classes: int) -> list[int]:
    return np.bincount(np.asarray(torch.as_tensor(labels).cpu()), minlength=num_classes).tolist()


def _num_classes(model: nn.Module, labels) -> int:
    config = getattr(model, "pdlib_config", None)
    return int(config["num_classes"]) if config else int(torch.as_tensor(labels).max()) + 1


def _rng_state() -> dict:
    """RNG states as tensors and plain values, so the checkpoint loads with weights_only=True."""
    _, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": (torch.from_numpy(np_keys.astype(np.int64)), np_pos, np_has_gauss, np_gauss),
            "python": (py_version, list(py_state), py_gauss)}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, py_state, py_gauss = state["python"]
    random.setstate((version, tuple(py_state), py_gauss))


def _load_checkpoint(path: Path, config: TrainConfig) -> dict:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    changed = {k: (ckpt["config"][k], getattr(config, k)) for k in RESUME_KEYS
               if ckpt["config"].get(k) != getattr(config, k)}
    if changed:
        raise ValueError(f"cannot resume from {path}: settings differ (checkpoint, now): {changed}; "
                         "use another checkpoint_dir or resume=False")
    return ckpt


def _save_checkpoint(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: an interruption never leaves a half-written checkpoint


def _check_finite(loss: float, grad_norm: float, epoch: int, step: int, config: TrainConfig) -> None:
    if np.isfinite(loss) and np.isfinite(grad_norm):
        return
    raise TrainingDiverged(
        f"training diverged at epoch {epoch}, step {step}: loss = {loss}, gradient norm = {grad_norm}. "
        f"Lower TrainConfig.lr (now {config.lr}) or set/lower clip_grad (now {config.clip_grad}); "
        "the study reports exploding gradients with TSA at large learning rates (Sec. V-C).")


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD with momentum (the study, Sec. IV-B) or AdamW, with config.weight_decay (lambda of Eq. 1)."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    raise ValueError(f"TrainConfig.optimizer: expected 'sgd' or 'adamw', found {config.optimizer!r}")


def lr_factor(config: TrainConfig, progress: float) -> float:
    """The learning rate's multiplier after `progress` epochs: 1 for the study's constant rate; for "cosine",
    a linear warm-up over config.warmup_epochs, then a half cosine from 1 to 0 at config.epochs."""
    if config.lr_schedule == "constant":
        return 1.0
    if config.lr_schedule != "cosine":
        raise ValueError(f"TrainConfig.lr_schedule: expected 'constant' or 'cosine', found {config.lr_schedule!r}")
    if progress < config.warmup_epochs:
        return (progress + 1e-3) / config.warmup_epochs
    span = max(config.epochs - config.warmup_epochs, 1e-9)
    return 0.5 * (1.0 + math.cos(math.pi * min((progress - config.warmup_epochs) / span, 1.0)))


def _resume(model: nn.Module, optimizer: torch.optim.Optimizer, config: TrainConfig) -> tuple[int, list[dict]]:
    """(first epoch, history so far): from `checkpoint_dir/last.pt` when resuming, else (0, [])."""
    path = Path(config.checkpoint_dir) / CHECKPOINT if config.checkpoint_dir else None
    if not (path and config.resume and path.is_file()):
        return 0, []
    ckpt = _load_checkpoint(path, config)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    _set_rng_state(ckpt["rng"])
    if ckpt["epoch"] > config.epochs:
        warnings.warn(f"{path} holds epoch {ckpt['epoch']} > epochs={config.epochs}; returning that model",
                      stacklevel=3)
    return ckpt["epoch"], ckpt["history"]


def _sampler(train: Dataset, config: TrainConfig, epoch: int, world: int):
    """Shuffling that depends on (seed, epoch) only, so a resumed run draws the same batches."""
    if world > 1:
        sampler = DistributedSampler(train, shuffle=True, seed=config.seed)
        sampler.set_epoch(epoch)
        return sampler
    return RandomSampler(train, generator=torch.Generator().manual_seed(config.seed * 100_003 + epoch))


def _check_pending(pending: list, epoch: int, config: TrainConfig, bar) -> list[float]:
    """The losses of the steps in `pending` ((step, loss, grad norm) with device tensors), read in one transfer;
    raises TrainingDiverged at the first step with a non-finite loss or gradient norm."""
    values = torch.stack([torch.stack([loss, norm]) for _, loss, norm in pending]).float().cpu().numpy()
    for (step, _, _), (loss, norm) in zip(pending, values, strict=True):
        _check_finite(float(loss), float(norm), epoch + 1, step + 1, config)
    bar.set_postfix(loss=f"{values[-1, 0]:.4f}")
    return values[:, 0].tolist()


def _train_epoch(step_fn, model: nn.Module, criterion: nn.Module, optimizer: torch.optim.Optimizer, loader,
                 epoch: int, config: TrainConfig, show: bool) -> float:
    """One pass over `loader`; the mean training loss. On CUDA the host reads the losses every SYNC_STEPS steps
    (each read waits for the GPU, which then idles while the next step is queued); on CPU after every step."""
    device = resolve_device(config.device)
    amp = amp_dtype(config, device)
    sync_steps = SYNC_STEPS if device.type == "cuda" else 1
    losses, pending = [], []
    views = clip_views(model)
    bar = progress_bar(loader, desc=f"epoch {epoch + 1}", leave=False, disable=not show)
    for step, (x, y) in enumerate(bar):
        for group in optimizer.param_groups:  # a function of (epoch, step) only: resumes exactly
            group["lr"] = config.lr * lr_factor(config, epoch + step / len(loader))
        x, y = model_input(one_view(x, views), device, True, config), y.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            logits = step_fn(x)  # (N, K)
        loss = criterion(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        max_norm = config.clip_grad if config.clip_grad is not None else float("inf")
        grad_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        pending.append((step, loss.detach(), grad_norm.detach()))
        if len(pending) == sync_steps:  # on CPU: checked before the update, as every step
            losses += _check_pending(pending, epoch, config, bar)
            pending = []
        optimizer.step()
    if pending:
        losses += _check_pending(pending, epoch, config, bar)
    return float(np.mean(losses))


def fit(model: nn.Module, train: Dataset, val: Dataset | None, config: TrainConfig) -> FitResult:
    """Fine-tune all layers of `model` on `train` (Sec. III-A, IV-B): by default the study's SGD with
    momentum, constant lr, weight decay (lambda of Eq. 1) and the class-balanced focal loss (Eq. 1) with
    the training set's class counts (`make_optimizer`, `lr_factor` and `loss_form` for the alternatives).
    `val` (patient-disjoint from `train`) is only evaluated after each epoch for the
    history: the last epoch's model is returned, nothing is selected on it.

    With `config.checkpoint_dir`, `last.pt` (model, optimizer, RNG states, epoch, history) is written
    after the first and last epochs and every `checkpoint_every_s` seconds between, and a later call with the
    same settings resumes from it; a resumed run ends
    with the same weights as an uninterrupted one on CPU. Under torchrun the model is wrapped in
    DistributedDataParallel and only rank 0 writes checkpoints and shows progress.
    """
    if val is not None and hasattr(train, "meta") and hasattr(val, "meta"):
        assert_patient_disjoint(train.meta, val.meta)
    rank, _, world = distributed()
    device = resolve_device(config.device)
    seed_everything(config.seed, device, config.deterministic)
    model = model.to(device)
    if _channels_last(config, device):
        model = model.to(memory_format=torch.channels_last_3d)
    counts = _class_counts(train.labels, _num_classes(model, train.labels))
    criterion = ClassBalancedFocalLoss(counts, gamma=config.gamma, normalize=config.cb_normalize,
                                       form=config.loss_form).to(device)
    optimizer = make_optimizer(model, config)
    start, history = _resume(model, optimizer, config)
    net = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    step_fn = torch.compile(net) if config.compile else net
    show = config.progress and rank == 0
    saved_at = time.perf_counter()
    for epoch in progress_bar(range(start, config.epochs), desc="epochs", initial=start, total=config.epochs,
                      disable=not show):
        net.train()
        t0 = time.perf_counter()
        sampler = _sampler(train, config, epoch, world)
        # A last batch of one clip cannot train: batch norm after the last pooling sees one value per channel.
        # Drop it (the shuffle leaves out another clip each epoch).
        loader = clip_loader(train, config, sampler, drop_last=len(sampler) % config.batch_size == 1)
        epoch_loss = torch.tensor(_train_epoch(step_fn, model, criterion, optimizer, loader, epoch, config, show),
                                  device=device)
        if world > 1:  # the history shows the mean over ranks
            dist.all_reduce(epoch_loss)
            epoch_loss /= world
        row = {"epoch": epoch + 1, "loss": epoch_loss.item(), "time_s": time.perf_counter() - t0}
        if val is not None:
            prob = predict(model, val, dataclasses.replace(config, progress=False))
            val_labels = np.asarray(torch.as_tensor(val.labels).cpu())
            row.update({f"val_{k}": float(v) for k, v in binary_metrics(val_labels, prob.argmax(1)).items()})
        history.append(row)
        due = epoch in (start, config.epochs - 1) or time.perf_counter() - saved_at >= config.checkpoint_every_s
        if config.checkpoint_dir and rank == 0 and due:
            saved_at = time.perf_counter()
            _save_checkpoint(Path(config.checkpoint_dir) / CHECKPOINT, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1,
                "history": history, "rng": _rng_state(), "config": dataclasses.asdict(config) | {
                    "checkpoint_dir": str(config.checkpoint_dir)}})
    if world > 1:  # DDP broadcasts buffers before each forward; the last one left each rank its own BN stats
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)
    return FitResult(model=model, history=pd.DataFrame(history))


@torch.inference_mode()
def infer(model: nn.Module, dataset: Dataset, config: TrainConfig, forward=None,
          desc: str = "predict") -> Iterator:
    """The one inference loop: `forward(model, x)` (default `model(x)`) per batch of `dataset`, in order, in
    eval mode, without augmentation, under the config's autocast; the model's mode is restored after. A model
    whose clip's windows are views (`clip_views`) sees each window, and the K outputs of a clip are averaged."""
    device = resolve_device(config.device)
    configure_backends(device, config.deterministic)
    was_training = model.training
    model.to(device).eval()
    amp = amp_dtype(config, device)
    loader = clip_loader(dataset, config, SequentialSampler(dataset))
    show = config.progress and distributed()[0] == 0
    views = clip_views(model)
    try:
        for x, _ in progress_bar(loader, desc=desc, leave=False, disable=not show):
            with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                x = model_input(all_views(x, views), device, False, config)
                yield mean_of_views(model(x) if forward is None else forward(model, x), views)
    finally:
        model.train(was_training)


def predict(model: nn.Module, dataset: Dataset, config: TrainConfig) -> np.ndarray:
    """Class probabilities (N, K) float32 for every clip of `dataset`, in order (see `probabilities`);
    the positive class of a binary task is column 1. No augmentation; every rank predicts everything."""
    out = [p.cpu() for p in infer(model, dataset, config, lambda m, x: probabilities(m(x)))]
    return torch.cat(out).numpy().astype(np.float32)
