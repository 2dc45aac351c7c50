"""Examination-level experiments (notebooks 03-05, Sec. V-D): the single-task baseline and task assembling.

Heads are trained and tested within fold k on the features that fold k's task models extracted
(`Layout.features(setting, task, k)`), repeated with different seeds, and summarised for the study's
Tables VII, VIII, IX and Fig. 7.

Evaluation, exactly: in repeat r, fold k's head is trained on the examinations of the patients outside
fold k and predicts fold k's examinations; the five folds' out-of-fold predictions are pooled and give
one accuracy and one MCC (multi-class R_K, scikit-learn) for repeat r. Tables report mean ± std (ddof 0)
of these over the repeats (the study: 20 repeats).

Head training (the study gives no settings for the shallow heads; these are our choices, `HeadConfig`):
full-batch Adam (fused), the class-balanced focal loss of Eq. 1 with the class counts of the fold's training
examinations (β = (N - 1)/N, N = number of training examinations), fixed epochs, no early stopping.
Features are standardised per channel with the training examinations' present tasks.
"""

import json
from dataclasses import asdict, dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import torch

from pdlib.data import load_manifest
from pdlib.exam_heads import channel_stats, head_probabilities, save_heads, save_standardisation, standardise
from pdlib.features import load_exam_features
from pdlib.folds import CLASS_NAMES, assert_patient_disjoint, exam_classes, read_folds
from pdlib.kinematics import exam_features
from pdlib.layout import Layout
from pdlib.losses import ClassBalancedFocalLoss
from pdlib.metrics import binary_metrics, task_rank
from pdlib.models.heads import METHOD_INPUT, METHODS, AssemblingHead, build_assembler, task_weights
from pdlib.tasks import DEFAULT_SETTING, TASKS
from pdlib.tracking import video_features

INPUTS: tuple[str, ...] = ("avgpool", "layer4")
MISSING_COLUMNS: list[str] = ["exam", "patient", "fold", "side", "reason"]


@dataclass
class HeadConfig:
    """Training and shape of the shallow heads (our choices; the study does not give them)."""

    epochs: int = 100  # full-batch Adam steps; tiny heads converge well within this at lr 1e-2
    lr: float = 1e-2
    # L2 (Adam) on all parameters, vector-weighting logits included (a mild pull toward uniform α):
    # d ~ 100-500 features for ~100 examinations overfit without it.
    weight_decay: float = 1e-3
    gamma: float = 2.0  # focusing parameter of Eq. 1
    hidden_layers: int = 0  # MLP head on vectors: 0, 1 or 2 hidden ReLU layers (footnote 3)
    hidden_units: int = 64
    reduction: int = 2  # SE reduction ratio r of Eq. 10
    heads: int = 2  # attention heads of Eq. 12-13
    head_dim: int = 8  # d_k = d_v per attention head
    threads: int = 1  # CPU torch threads during the many tiny trainings (faster than sharing cores)
    device: str = "auto"  # "auto" = CUDA when available (paper-size layer4 maps), else CPU

    def torch_device(self) -> torch.device:
        """The device heads train on."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def head_options(self) -> dict:
        """The keyword options of `build_assembler`."""
        keys = ("hidden_layers", "hidden_units", "reduction", "heads", "head_dim")
        return {k: v for k, v in asdict(self).items() if k in keys}


@dataclass
class FoldData:
    """The labelled examinations with features, as fold k's task models see them (standardised)."""

    fold: int
    exam: np.ndarray  # (E,) str
    patient: np.ndarray  # (E,) str
    train: np.ndarray  # (E,) bool: patients outside fold k
    label: np.ndarray  # (E,) int
    avgpool: np.ndarray  # (E, M, d) float32
    layer4: np.ndarray  # (E, M, C, T', H', W') float32
    mask: np.ndarray  # (E, M) bool
    stats: dict = field(default_factory=dict)  # input -> (mean, std) per channel of the training examinations


@dataclass
class AssemblingData:
    """Everything the experiments of Sec. V-D need: tasks, classes, per-fold features, what is missing."""

    tasks: tuple[str, ...]
    class_names: tuple[str, ...]
    exams: pd.DataFrame  # exam, patient, fold, label of the labelled examinations
    folds: list[FoldData]
    missing: pd.DataFrame = field(default_factory=pd.DataFrame)  # exam, patient, fold, side, reason
    missing_tasks: tuple[str, ...] = ()  # study tasks with no feature folder
    missing_files: tuple[str, ...] = ()  # "<task>/fold<k>.npz" absent (fold model not trained): task masked

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass
class CVResult:
    """Out-of-fold predictions and task weights of one head over folds and repeats."""

    predictions: pd.DataFrame  # repeat, fold, exam, label, pred, prob_<c> (the head's softmax)
    weights: pd.DataFrame  # repeat, fold, task, weight (mean over the fold's test examinations/points)
    heads: dict[tuple[int, int], AssemblingHead] = field(default_factory=dict)  # (fold, repeat) -> head, if kept

    def scores(self) -> pd.DataFrame:
        """Per repeat: accuracy and MCC of the predictions pooled over the folds."""
        rows = []
        for repeat, g in self.predictions.groupby("repeat"):
            m = binary_metrics(g["label"], g["pred"])
            rows.append({"repeat": repeat, "exams": len(g), "acc": m["acc"], "mcc": m["mcc"]})
        return pd.DataFrame(rows)

    def summary(self) -> dict[str, float]:
        """exams, acc_mean, acc_std, mcc_mean, mcc_std over the repeats (std with ddof 0)."""
        s = self.scores()
        return {"exams": int(s["exams"].iloc[0]),
                "acc_mean": s["acc"].mean(), "acc_std": s["acc"].std(ddof=0),
                "mcc_mean": s["mcc"].mean(), "mcc_std": s["mcc"].std(ddof=0)}


def feature_tasks(layout: Layout, setting: str) -> tuple[list[str], list[str]]:
    """(present, missing) study tasks with features of `setting`; raises when every task is absent."""
    hint = "run notebooks/02_task_level.ipynb first (it extracts the features of every fold's task model)"
    present = [t for t in TASKS if layout.feature_folds(setting, t)]
    if not present:
        raise FileNotFoundError(f"no features of setting {setting!r} for any of {TASKS} under "
                                f"{layout.dir('features')}: {hint}")
    return present, [t for t in TASKS if t not in present]


def _exam_table(exams: pd.DataFrame, folds: pd.Series, scheme: str, slight_vs_severe: bool
                ) -> tuple[pd.DataFrame, list[dict]]:
    """(exam -> patient, label, fold of the labelled examinations with a fold, the ones without a fold)."""
    for col in ("exam", "patient", "total"):
        if col not in exams.columns:
            raise KeyError(f"exams table has no column {col!r} (columns: {list(exams.columns)})")
    exams = exams.assign(exam=exams["exam"].astype(str), patient=exams["patient"].astype(str))
    folds = pd.Series(folds.to_numpy(), index=folds.index.astype(str))
    labels = exam_classes(exams.set_index("exam")["total"], scheme=scheme, slight_vs_severe=slight_vs_severe)
    table = exams.set_index("exam").loc[labels.index, ["patient"]].assign(label=labels)
    table["fold"] = table["patient"].map(folds)
    missing = [{"exam": e, "patient": p, "fold": None, "side": "", "reason": "patient has no fold in folds.csv"}
               for e, p in table.loc[table["fold"].isna(), "patient"].items()]
    return table.dropna(subset=["fold"]).astype({"fold": int}), missing


def _fold_data(table: pd.DataFrame, feats: dict[str, np.ndarray], k: int, missing: list[dict]) -> FoldData:
    """Fold k's labelled examinations with features, standardised; the others appended to `missing`."""
    where = {str(e): i for i, e in enumerate(feats["exam"])}
    has = np.array([e in where and bool(feats["mask"][where[e]].any()) for e in table.index])
    for e in table.index[~has]:
        missing.append({"exam": e, "patient": table.at[e, "patient"], "fold": int(k),
                        "side": "test" if table.at[e, "fold"] == k else "train", "reason": "no features for any task"})
    sel = table[has]
    idx = np.array([where[e] for e in sel.index], dtype=int)
    train = (sel["fold"] != k).to_numpy()
    assert_patient_disjoint(sel.loc[train, "patient"], sel.loc[~train, "patient"])
    mask = feats["mask"][idx].astype(bool)  # (E, M)
    stats = {i: channel_stats(feats[i][idx], mask, train) for i in INPUTS}
    return FoldData(fold=int(k), exam=sel.index.to_numpy(str), patient=sel["patient"].to_numpy(str), train=train,
                    label=sel["label"].to_numpy(int), mask=mask, stats=stats,
                    **{i: standardise(feats[i][idx], mask, stats[i]) for i in INPUTS})


def load_assembling_data(layout: Layout, setting: str, exams: pd.DataFrame, folds: pd.Series,
                         scheme: str = "cutoffs", slight_vs_severe: bool = False,
                         kinematics: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> AssemblingData:
    """Per-fold features of `setting` and examination classes for Sec. V-D (Tables VII-IX).

    exams: the dataset's exams table (exam, patient, total); folds: fold per patient (folds.csv). Classes by
    `exam_classes(total, scheme, slight_vs_severe)`. Every labelled examination must have features in every
    fold; one without features of any task (or whose patient has no fold) is listed in `missing`, not used.
    A task whose file is absent for one fold (its task model could not be trained) is masked in that fold
    and listed in `missing_files`. `kinematics` ((video_features table, videos), row for row): each task's
    kinematic features (`kinematics.exam_features`) are appended to its avgpool vector, standardised with it.
    """
    present, absent = feature_tasks(layout, setting)
    table, missing = _exam_table(exams, folds, scheme, slight_vs_severe)
    fold_data, missing_files = [], []
    for k in sorted(table["fold"].unique()):
        files = layout.feature_files(setting, present, int(k))
        missing_files += [str(p.relative_to(p.parent.parent)) for p in files.values() if not p.is_file()]
        feats = load_exam_features(files, int(k), allow_missing=True)
        if kinematics is not None:
            extra = exam_features(*kinematics, feats["exam"], present)
            feats["avgpool"] = np.concatenate([feats["avgpool"], extra], axis=2)
        fold_data.append(_fold_data(table, feats, k, missing))
    names = (CLASS_NAMES[0], CLASS_NAMES[2]) if slight_vs_severe else CLASS_NAMES
    return AssemblingData(tasks=tuple(present), class_names=names,
                          exams=table.reset_index()[["exam", "patient", "fold", "label"]], folds=fold_data,
                          missing=pd.DataFrame(missing, columns=MISSING_COLUMNS),
                          missing_tasks=tuple(absent), missing_files=tuple(missing_files))


def _seed(*keys: int) -> int:
    return int(np.random.SeedSequence(list(keys)).generate_state(1)[0])


def fit_head(method: str, x: torch.Tensor, mask: torch.Tensor, y: torch.Tensor, num_classes: int,
             config: HeadConfig, seed: int = 0) -> AssemblingHead:
    """Train one head (Table I) full-batch with the class-balanced focal loss (Eq. 1, N = examinations)."""
    torch.manual_seed(seed)
    head = build_assembler(method, tuple(x.shape[1:]), num_classes, **config.head_options()).to(x.device)
    head.pdlib_in_shape, head.pdlib_num_classes = tuple(x.shape[1:]), num_classes  # what save_heads records
    counts = np.maximum(np.bincount(y.cpu().numpy(), minlength=num_classes), 1)  # a class absent from training
    loss_fn = ClassBalancedFocalLoss(counts.tolist(), gamma=config.gamma).to(x.device)
    opt = torch.optim.Adam(head.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)
    head.train()
    for _ in range(config.epochs):
        opt.zero_grad(set_to_none=True)
        loss_fn(head(x, mask), y).backward()
        opt.step()
    return head.eval()


def cross_validate_heads(data: AssemblingData, method: str, feature: str, tasks: tuple[str, ...] | None = None,
                   config: HeadConfig | None = None, repeats: int = 20, seed: int = 0,
                   keep_heads: bool = False) -> CVResult:
    """Train/test one head within every fold, `repeats` times (Sec. V-D); see the module docstring.

    feature: "avgpool" or "layer4" (Table I's input type of `method`).
    tasks: the tasks assembled (default all of `data.tasks`); with one task and method "single_task" this is
    the baseline of Table VII, evaluated on the examinations that have that task. keep_heads: return the
    fitted heads too (to save them, `exam_heads.save_heads`).
    """
    config = config or HeadConfig()
    device = config.torch_device()
    tasks = tuple(tasks or data.tasks)
    cols = [data.tasks.index(t) for t in tasks]
    preds, weights, heads = [], [], {}
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        for fd in data.folds:
            mask = fd.mask[:, cols]  # (E, M)
            use = mask.any(axis=1)
            train, test = fd.train[use], ~fd.train[use]
            if not train.any() or not test.any():
                continue  # the task(s) masked on one side of this fold: nothing to train or to test
            assert_patient_disjoint(fd.patient[use][train], fd.patient[use][test])
            x = torch.from_numpy(getattr(fd, feature)[:, cols][use]).to(device)  # (E', M, ...)
            m, y = torch.from_numpy(mask[use]).to(device), torch.from_numpy(fd.label[use]).to(device)
            tr, te = torch.from_numpy(train).to(device), torch.from_numpy(test).to(device)
            for r in range(repeats):
                head = fit_head(method, x[tr], m[tr], y[tr], data.num_classes, config, _seed(seed, r, fd.fold))
                with torch.no_grad():
                    logits = head(x[te], m[te])
                    pred = logits.argmax(dim=1).cpu().numpy()
                    prob = head_probabilities(logits)  # (E_test, K)
                w = task_weights(head, x[te], m[te]).cpu()
                w = w.reshape(-1, len(tasks)).mean(dim=0).numpy() if w.dim() > 1 else w.numpy()  # (M,)
                preds.append(pd.DataFrame({"repeat": r, "fold": fd.fold, "exam": fd.exam[use][test],
                                           "label": fd.label[use][test], "pred": pred,
                                           **{f"prob_{c}": prob[:, c] for c in range(prob.shape[1])}}))
                weights.append(pd.DataFrame({"repeat": r, "fold": fd.fold, "task": tasks, "weight": w}))
                if keep_heads:
                    heads[fd.fold, r] = head.cpu()
    finally:
        torch.set_num_threads(threads)
    return CVResult(pd.concat(preds, ignore_index=True), pd.concat(weights, ignore_index=True), heads)


def single_task_results(data: AssemblingData, config: HeadConfig | None = None, repeats: int = 20,
                        seed: int = 0, tasks: tuple[str, ...] | None = None,
                        inputs: tuple[str, ...] = INPUTS) -> pd.DataFrame:
    """Each task alone -> examination class (Table VII): a row per (task, input), mean/std over repeats."""
    rows = [{"task": t, "input": i,
             **cross_validate_heads(data, "single_task", i, (t,), config, repeats, seed).summary()}
            for t in (tasks or data.tasks) for i in inputs]
    return pd.DataFrame(rows)


def best_single_task(results: pd.DataFrame) -> tuple[str, str]:
    """(task, input) of the single-task baseline: Table VII's rank-1 task with its better input."""
    best = results[task_rank(results) == 1].sort_values("mcc_mean", ascending=False).iloc[0]
    return str(best["task"]), str(best["input"])


def assembling_results(data: AssemblingData, baseline: tuple[str, str], config: HeadConfig | None = None,
                       repeats: int = 20, seed: int = 0, methods: tuple[str, ...] = METHODS
                       ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, CVResult]]:
    """Tables VIII/IX: the baseline (task, input) and the methods of Table I on all tasks.

    Returns (results, weights, runs): results has method, input, tasks and the numbers (exams, acc_mean,
    acc_std, mcc_mean, mcc_std); weights has method, repeat, fold, task, weight (Fig. 7 uses
    vector_weighting); runs maps each method to its
    CVResult with the fitted heads.
    """
    task, inp = baseline
    runs = {"single_task": cross_validate_heads(data, "single_task", inp, (task,), config, repeats, seed,
                                                keep_heads=True)}
    runs |= {m: cross_validate_heads(data, m, METHOD_INPUT[m], None, config, repeats, seed, keep_heads=True)
             for m in methods}
    all_tasks = ", ".join(data.tasks)
    results = pd.DataFrame([{"method": m, "input": inp if m == "single_task" else METHOD_INPUT[m],
                             "tasks": task if m == "single_task" else all_tasks, **res.summary()}
                            for m, res in runs.items()])
    weights = pd.concat([res.weights.assign(method=m) for m, res in runs.items() if m != "single_task"],
                        ignore_index=True)
    return results, weights, runs


def weight_summary(weights: pd.DataFrame, method: str = "vector_weighting") -> pd.DataFrame:
    """Fig. 7's numbers: a method's task weights, mean and std (ddof 0) over all repeats and folds."""
    w = weights[weights["method"] == method]
    if w.empty:
        raise ValueError(f"no task weights of method {method!r}; found {sorted(weights['method'].unique())}")
    order = list(dict.fromkeys(w["task"]))
    s = w.groupby("task")["weight"].agg(mean="mean", std=lambda v: v.std(ddof=0), runs="count")
    return s.loc[order].reset_index()



@dataclass
class ExamExperiment:
    """An examination-level experiment of notebooks 03-05: the features of one task-level setting of a run,
    an examination class scheme, the head recipe, repeats and seed. Each step is one call."""

    layout: Layout
    feature_setting: str = DEFAULT_SETTING
    scheme: str = "cutoffs"
    slight_vs_severe: bool = False
    head: HeadConfig = field(default_factory=HeadConfig)
    repeats: int = 20
    seed: int = 0
    kinematics: bool = False  # each task's kinematic features appended to its avgpool vector

    @cached_property
    def data(self) -> AssemblingData:
        """Examinations, classes and per-fold features (the folds notebook 02 used, `layout.folds_csv`)."""
        feature_tasks(self.layout, self.feature_setting)  # fail on missing features before reading the dataset
        videos, exams = load_manifest(self.layout.dataset_root)
        folds = read_folds(self.layout.folds_csv)
        kinematic = None
        if self.kinematics:
            kinematic = (video_features(videos, self.layout.cache_dir), videos)
        return load_assembling_data(self.layout, self.feature_setting, exams, folds, self.scheme,
                                    self.slight_vs_severe, kinematic)

    def describe(self) -> str:
        d = self.data
        return (f"{len(d.exams)} examinations in classes {d.class_names}; tasks with features: {d.tasks}; "
                f"study tasks without features: {d.missing_tasks or 'none'}; "
                f"task files missing in a fold (masked there): {d.missing_files or 'none'}")

    @property
    def feature_units(self) -> dict[str, str]:
        """The feature units read, by identity ({task: recipe digest}): they name the models, folds and clips."""
        return {t: self.layout.digest(self.layout.feature_unit(self.feature_setting, t))
                for t in feature_tasks(self.layout, self.feature_setting)[0]}

    @property
    def baseline_recipe(self) -> dict:
        """What notebook 03's choice depends on (not on slight_vs_severe: notebook 05 reuses 03's choice)."""
        return {"head": asdict(self.head), "repeats": self.repeats, "seed": self.seed, "scheme": self.scheme,
                "features": self.feature_setting, "feature_units": self.feature_units,
                **({"kinematics": True} if self.kinematics else {})}

    def single_task(self) -> pd.DataFrame:
        """Table VII's numbers (a row per task and input), and the baseline they choose saved as data for
        notebooks 04 and 05 (`layout.baseline`, in a unit stamped with `baseline_recipe`). The heads are
        refitted every time (seconds), so the unit is only stamped: a stale one is cleared first."""
        results = single_task_results(self.data, self.head, self.repeats, self.seed)
        task, inp = best_single_task(results)
        self.layout.reuse_or_reset(self.layout.baseline_unit, self.baseline_recipe)
        self.layout.baseline.write_text(json.dumps({"task": task, "input": inp}, indent=2))
        return results

    @property
    def baseline(self) -> tuple[str, str]:
        """(task, input) of the single-task baseline chosen by notebook 03 from the same features and head
        recipe (the staleness rule: a choice made from other ones is refused, read-only, and notebook 03 must run
        again, which replaces it)."""
        path = self.layout.baseline
        if not (self.layout.is_current(self.layout.baseline_unit, self.baseline_recipe) and path.is_file()):
            raise FileNotFoundError(f"no single-task baseline at {path} for these features and head settings: "
                                    "run notebooks/03_single_task_baseline.ipynb first (its Table VII picks it)")
        saved = json.loads(path.read_text())
        return saved["task"], saved["input"]

    def assemble(self, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Tables VIII/IX's numbers and the task weights; every fitted head is saved under `layout.heads(name)`
        (the attention explorer shows their weights). The heads are refitted every time (seconds), so the unit
        is only stamped with what made them (features and baseline by identity): a stale one is cleared first."""
        baseline = self.baseline
        results, weights, runs = assembling_results(self.data, baseline, self.head, self.repeats, self.seed)
        stamp = {"head": asdict(self.head), "repeats": self.repeats, "seed": self.seed, "scheme": self.scheme,
                 "slight_vs_severe": self.slight_vs_severe, "features": self.feature_setting,
                 **({"kinematics": True} if self.kinematics else {}),
                 "feature_units": self.feature_units, "baseline": baseline,
                 "baseline_unit": self.layout.digest(self.layout.baseline_unit)}
        self.layout.reuse_or_reset(self.layout.heads(name), stamp)
        for method, result in runs.items():
            tasks = (baseline[0],) if method == "single_task" else self.data.tasks
            save_heads(self.layout.head_file(name, method), method, result.heads, tasks, self.head.head_options())
            result.predictions.to_csv(self.layout.head_predictions(name, method), index=False)
        save_standardisation(self.layout.head_standardisation(name), self.data.class_names,
                             {fd.fold: fd.stats for fd in self.data.folds})
        return results, weights
