"""torch Datasets of cached uint8 clips: a PD task (SynPD or real), action sets (UCF-101, HMDB-51, SynAct),
PD4T."""

import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pdlib.data.cache import cache_clips, report_path, write_report
from pdlib.data.pd4t import PD4T_TASKS, pd4t_tables
from pdlib.data.spec import ClipSpec
from pdlib.tasks import task_label


class ClipDataset(torch.utils.data.Dataset):
    """uint8 clips (N, T, S, S, 3) in one tensor, their labels (N,) and `meta` (a DataFrame, row i = clip i).

    Items are (clip (T, S, S, 3) uint8, label); `to_model_input` turns a batch into the network's input.
    `skipped` lists the source's videos left out as unusable (meta's columns and `reason`), so the
    tables can count them.
    """

    skipped: pd.DataFrame | None = None

    def __init__(self, clips: torch.Tensor, labels: torch.Tensor, meta: pd.DataFrame):
        if clips.dtype != torch.uint8 or clips.ndim != 5 or clips.shape[-1] != 3:
            raise ValueError(f"ClipDataset: expected uint8 clips (N, T, S, S, 3), found {clips.dtype} "
                             f"{tuple(clips.shape)}")
        if not len(clips) == len(labels) == len(meta):
            raise ValueError(f"ClipDataset: {len(clips)} clips, {len(labels)} labels, {len(meta)} meta rows")
        self.clips = clips
        self.labels = labels.long()
        self.meta = meta.reset_index(drop=True)

    @classmethod
    def from_files(cls, files: Sequence[str], labels: Sequence[int], meta: pd.DataFrame) -> "ClipDataset":
        """Load cached `.npy` clips (all of one shape) into one preallocated tensor."""
        if not len(files):
            raise ValueError("ClipDataset.from_files: no clip files")
        first = np.load(files[0], mmap_mode="r")
        clips = torch.empty((len(files), *first.shape), dtype=torch.uint8)
        for i, f in enumerate(files):
            _read_npy_into(f, clips[i].numpy())
        return cls(clips, torch.as_tensor(np.asarray(labels, dtype=np.int64)), meta)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i) -> tuple[torch.Tensor, torch.Tensor]:
        """One clip and its label, or, for a sequence of indices, a batch gathered with `index_select`
        (a memcpy per clip; advanced indexing is about 2x slower on uint8 clips)."""
        if isinstance(i, int | np.integer):
            return self.clips[i], self.labels[i]
        idx = torch.as_tensor(i, dtype=torch.long, device=self.clips.device)
        return self.clips.index_select(0, idx), self.labels.index_select(0, idx.to(self.labels.device))

    def subset(self, index) -> "ClipDataset":
        """The rows `index` (integer positions or a boolean mask), meta re-indexed from 0."""
        idx = np.asarray(index)
        idx = np.flatnonzero(idx) if idx.dtype == bool else idx.astype(np.int64)
        t = torch.as_tensor(idx, device=self.clips.device)
        return ClipDataset(self.clips[t], self.labels[t.to(self.labels.device)], self.meta.iloc[idx])

    def to(self, device: str | torch.device, max_fraction: float = 0.5) -> "ClipDataset":
        """GPU-resident mode: the clips and labels on `device` when they take at most `max_fraction` of its
        free memory (the rest is for the model); else a warning and the dataset unchanged."""
        device = torch.device(device)
        if device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            need = self.clips.nbytes
            if need > max_fraction * free:
                warnings.warn(f"ClipDataset.to({device}): clips need {need / 2**30:.1f} GiB, more than "
                              f"{max_fraction:.0%} of the {free / 2**30:.1f} GiB free; "
                              f"kept on {self.clips.device}", stacklevel=2)
                return self
        return ClipDataset(self.clips.to(device), self.labels.to(device), self.meta)

    def batches(self, batch_size: int, shuffle: bool = False,
                generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(clips, labels) batches gathered straight from the tensor, on its device (no DataLoader)."""
        order = torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        order = order.to(self.clips.device)
        for start in range(0, len(self), batch_size):
            yield self[order[start:start + batch_size]]


def _read_npy_into(path: str, out: np.ndarray) -> None:
    """Read a cached `.npy` clip straight into `out` (one copy from the page cache, no temporary array)."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        if shape != out.shape or dtype != out.dtype or fortran:
            raise ValueError(f"{path}: cached clip is {dtype} {shape}, expected {out.dtype} {out.shape} "
                             "(clips of one dataset must share frames and size)")
        if f.readinto(memoryview(out).cast("B")) != out.nbytes:
            raise ValueError(f"{path}: cached clip is truncated")


def _from_status(status: pd.DataFrame, meta: pd.DataFrame, labels: np.ndarray) -> ClipDataset:
    """The usable rows of a `cache_clips` status (aligned with meta and labels) as a ClipDataset."""
    ok = status["ok"].to_numpy()
    return ClipDataset.from_files(list(status.loc[ok, "cache"]), labels[ok], meta.loc[ok])


def task_clips(clips: pd.DataFrame, task: str) -> ClipDataset:
    """The usable videos of one task as clips, selected from a dataset's `preprocess` result (the dataset
    decoded once per clip spec); labels as in Sec. IV-B. meta has video, patient, exam, task, side, score,
    label, path; `skipped` lists the task's unusable videos with their reason.
    """
    rows = clips.loc[clips["task"] == task].reset_index(drop=True)
    if not rows["ok"].any():
        raise ValueError(f"task_clips: no usable video of task {task!r} "
                         f"(tasks: {sorted(clips['task'].unique())}; report: {clips.attrs.get('report')})")
    meta = rows[["video", "patient", "exam", "task", "side", "score", "label", "path"]]
    dataset = _from_status(rows, meta, rows["label"].to_numpy())
    dataset.skipped = rows.loc[~rows["ok"], [*meta.columns, "reason"]].reset_index(drop=True)
    return dataset


def _read_lines(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


def _first_dir(root: Path, names: Sequence[str], what: str) -> Path:
    for name in names:
        if (root / name).is_dir():
            return root / name
    raise FileNotFoundError(f"{root}: expected {what} in one of {list(names)}, found none")


def _resolver(video_dir: Path):
    """Path of a listed video; case-insensitive fallback (UCF-101 lists 'HandStandPushups' files
    inside the 'HandstandPushups' folder)."""
    lower = None

    def resolve(rel: str) -> str:
        nonlocal lower
        path = video_dir / rel
        if path.exists():
            return str(path)
        if lower is None:
            lower = {str(p.relative_to(video_dir)).lower(): p for p in video_dir.rglob("*") if p.is_file()}
        return str(lower.get(rel.lower(), path))

    return resolve


def _ucf_lists(root: Path, split: int) -> tuple[list[str], list[tuple[str, int, bool]], Path]:
    """(class names, [(relative video, class, is_train)], video folder) of the UCF-101 layout."""
    split_dir = _first_dir(root, ("ucfTrainTestlist", "splits"), "the split files")
    video_dir = root / "videos" if (root / "videos").is_dir() else root
    classes = [" ".join(parts[1:]) for parts in _read_lines(split_dir / "classInd.txt")]
    index = {c.lower(): i for i, c in enumerate(classes)}
    items = []
    for name, train in ((f"trainlist0{split}.txt", True), (f"testlist0{split}.txt", False)):
        for line, parts in enumerate(_read_lines(split_dir / name), start=1):
            cls = parts[0].split("/")[0].lower()
            if cls not in index:
                raise ValueError(f"{split_dir / name}, line {line}: class {parts[0].split('/')[0]!r} "
                                 f"is not in classInd.txt")
            items.append((parts[0], index[cls], train))
    return classes, items, video_dir


def _hmdb_lists(root: Path, split: int) -> tuple[list[str], list[tuple[str, int, bool]], Path]:
    """HMDB-51: `<class>_test_split<N>.txt` lines 'file.avi k' with k = 1 train, 2 test, 0 unused."""
    files = sorted(root.rglob(f"*_test_split{split}.txt"))
    if not files:
        raise FileNotFoundError(f"{root}: expected HMDB-51 split files '*_test_split{split}.txt', found none")
    video_dir = root / "videos" if (root / "videos").is_dir() else root
    classes = [f.name[: -len(f"_test_split{split}.txt")] for f in files]
    items = []
    for c, (cls, f) in enumerate(zip(classes, files, strict=True)):
        for line, parts in enumerate(_read_lines(f), start=1):
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise ValueError(f"{f}, line {line}: expected 'file.avi 0|1|2', found {' '.join(parts)!r}")
            if parts[1] != "0":
                items.append((f"{cls}/{parts[0]}", c, parts[1] == "1"))
    return classes, items, video_dir


def _report_and_split(status: pd.DataFrame, meta: pd.DataFrame, train: np.ndarray, cache_dir: Path,
                      name: str, spec: ClipSpec) -> tuple[ClipDataset, ClipDataset]:
    status = pd.concat([meta.reset_index(drop=True), status.drop(columns="path")], axis=1)
    write_report(status, report_path(cache_dir, name, spec))
    return _split(status, train, list(meta.columns))


def _split(status: pd.DataFrame, train: np.ndarray, columns: list[str]) -> tuple[ClipDataset, ClipDataset]:
    labels = status["label"].to_numpy()
    meta = status[columns]
    return (_from_status(status.loc[train].reset_index(drop=True), meta.loc[train].reset_index(drop=True),
                         labels[train]),
            _from_status(status.loc[~train].reset_index(drop=True), meta.loc[~train].reset_index(drop=True),
                         labels[~train]))


def preprocess_actions(root: str | os.PathLike, spec: ClipSpec, cache_dir: str | os.PathLike,
                       layout: str = "ucf101", splits: Sequence[int] = (1, 2, 3)) -> pd.DataFrame:
    """Every video of an action dataset's splits decoded once into the clip cache as `spec` says (its window
    too; action datasets have no crop boxes) for pre-training (Sec. V-B).

    layout "ucf101" / "synact": `<root>[/videos]/<Class>/v_*.avi` with `ucfTrainTestlist/` or `splits/`
    holding classInd.txt, trainlist0N.txt, testlist0N.txt. "hmdb51": `<root>[/videos]/<class>/*.avi`
    with `<class>_test_split<N>.txt` anywhere below root. One row per listed video: video, label, class,
    `order<N>` (its position in split N's lists, train first; NaN when not listed) and `train<N>`, then the
    `cache_clips` status; `.attrs["classes"]` are the class names. Unusable videos are listed in the report
    CSV (`report_path(cache_dir, root name, ...)`); `action_clips` selects a split from the result.
    """
    root = Path(root).resolve()
    readers = {"ucf101": _ucf_lists, "synact": _ucf_lists, "hmdb51": _hmdb_lists}
    if layout not in readers:
        raise ValueError(f"preprocess_actions: unknown layout {layout!r}; expected one of {sorted(readers)}")
    rows: dict[str, dict] = {}
    for split in splits:
        if split not in (1, 2, 3):
            raise ValueError(f"preprocess_actions: expected splits 1, 2 or 3, found {split!r}")
        classes, items, video_dir = readers[layout](root, split)
        for i, (video, label, train) in enumerate(items):
            row = rows.setdefault(video, {"video": video, "label": label, "class": classes[label]})
            row |= {f"order{split}": i, f"train{split}": train}
    meta = pd.DataFrame(list(rows.values()))
    resolve = _resolver(video_dir)
    status = cache_clips([resolve(v) for v in meta["video"]], spec, cache_dir)
    result = pd.concat([meta, status.drop(columns="path")], axis=1)
    write_report(result, report_path(cache_dir, root.name, spec))
    result.attrs["classes"] = classes
    return result


def action_clips(clips: pd.DataFrame, split: int) -> tuple[ClipDataset, ClipDataset, list[str]]:
    """(train, test, class names) of one official split of an action dataset, selected from its
    `preprocess_actions` result in the split's list order. meta: video, label, class."""
    if f"order{split}" not in clips.columns:
        raise ValueError(f"action_clips: split {split!r} was not preprocessed "
                         f"(splits: {sorted(int(c[5:]) for c in clips.columns if c.startswith('order'))})")
    rows = clips[clips[f"order{split}"].notna()].sort_values(f"order{split}").reset_index(drop=True)
    return (*_split(rows, rows[f"train{split}"].to_numpy(bool), ["video", "label", "class"]),
            list(clips.attrs["classes"]))


def pd4t_clips(root: str | os.PathLike, task: str, spec: ClipSpec,
               cache_dir: str | os.PathLike) -> tuple[ClipDataset, ClipDataset]:
    """(train, test) of one PD4T task: `Annotations/<Task>/{train,test}.csv` and `Videos/<Task>/...`.

    task: "finger", "hand", "leg", "gait" or PD4T's folder name ("Finger tapping", ...). A video id such
    as `15-001139_l_017` (visit, side, patient) is matched to the file under Videos/<Task> whose path
    parts split at '/' and '_' are the same set of tokens (e.g. `l/15-001139_017.mp4` or
    `15-001139_l_017.mp4`). meta: video, patient (last token), exam (first token), task, side (L/R or
    empty), score, label (Sec. IV-B); unusable or unmatched videos are listed in the report CSV.
    """
    root = Path(root).resolve()
    folder = PD4T_TASKS.get(task, task)
    ann, vids = root / "Annotations" / folder, root / "Videos" / folder
    if not ann.is_dir() or not vids.is_dir():
        raise FileNotFoundError(f"pd4t_clips: expected {ann} and {vids} (tasks: {sorted(PD4T_TASKS)})")
    videos, _, errors, _ = pd4t_tables(root)
    if errors:
        raise ValueError("\n".join(errors))
    suite_task = next((k for k, v in PD4T_TASKS.items() if v == folder), folder)
    rows = videos[videos["task"] == suite_task].reset_index(drop=True)
    score = rows["score"].astype(int)
    meta = pd.DataFrame({"video": rows["video_id"], "patient": rows["person"], "exam": rows["visit"],
                         "task": suite_task, "side": rows["side"], "score": score, "label": task_label(score),
                         "path": [str(root / v) for v in rows["video"]]})
    status = cache_clips(list(meta["path"]), spec, cache_dir)
    return _report_and_split(status, meta, (rows["split"] == "train").to_numpy(), Path(cache_dir),
                             f"{root.name}_{suite_task}", spec)
