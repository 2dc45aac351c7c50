"""What `pdlib score` and notebook 06 ask for: the rows of a request (one dataset folder, or video and landmark
files and folders of a task), scored by the deep setting's fold ensemble (`pdlib.scoring.videos`), the
examination-level heads (`pdlib.scoring.exams`) and the kinematics model (`pdlib.scoring.kinematics`); the
scores written as CSV and JSON, and `score_main`, the command's work (its arguments parsed by `pdlib.cli`).

These are research outputs on one's own cohort, not a diagnosis.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import DegenerateDataWarning

from pdlib.data import load_manifest
from pdlib.data.pd4t import VIDEO_EXTENSIONS
from pdlib.landmarks import is_landmark_file
from pdlib.layout import Layout
from pdlib.messages import count, exit_code
from pdlib.metrics import MIN_SCORED, agreement, binary_metrics
from pdlib.params import ReproduceError, load_params
from pdlib.scoring.conformal import ABSTAIN, ScoreError
from pdlib.scoring.exams import score_exams
from pdlib.scoring.kinematics import KINEMATICS, KINEMATICS_COLUMNS, add_kinematics, kinematics_only
from pdlib.scoring.videos import SCORE_COLUMNS, TaskModels, score_videos
from pdlib.tasks import DEFAULT_COVERAGE, DEFAULT_SETTING, TASKS, UNUSABLE
from pdlib.train import TrainConfig

DATASET_KEEP = ["video", "path", "task", "side", "patient", "exam", "score", "label", "kind", "mirrored", "width",
                "height", "crop"]


SIDES = ("L", "R")


def file_sides(paths: list[str], side: str | list[str] | None) -> tuple[str, dict[str, str]]:
    """(the side of every file, {given path: its side}) from `--side` as given: one side for all (`L`), one per
    file or folder (`finger_1.mp4:L`, the last colon splits), or both (the bare side for the files without their
    own). A ScoreError names a spec that is not a side or a path that was not given."""
    specs = [side] if isinstance(side, str) else list(side or [])
    default, own = "", {}
    given = {str(Path(p).resolve()): p for p in paths}
    for spec in filter(None, specs):
        path, _, value = spec.rpartition(":")
        if value not in SIDES:
            raise ScoreError(f"--side {spec}: expected L, R or FILE:L / FILE:R, found {value!r}")
        if not path:
            if default and default != value:
                raise ScoreError(f"--side {default} and --side {value}: give one side for every file, and FILE:SIDE "
                                 "for the files filmed on the other side")
            default = value
            continue
        key = str(Path(path).resolve())
        if key not in given:
            raise ScoreError(f"--side {spec}: {path} is not among the files and folders to score")
        own[given[key]] = value
    return default, own


def request_rows(paths: list[str], task: str = "", side: str | list[str] | None = "") -> pd.DataFrame:
    """The rows `pdlib score` was asked for (video, path, task, side, kind "video" | "keypoints", and a dataset's
    columns): one dataset folder's rows (videos.csv, which gives each row its side), or files and folders, each
    with its side from `side` (`file_sides`): a landmark file (`.landmarks.csv`, `.keypoints.npz`) needs --task
    and a side (a recording holds both hands), a video --task, a folder its video files. A request that cannot be
    served is a ScoreError in one line."""
    if len(paths) == 1 and (Path(paths[0]) / "videos.csv").is_file():
        if side:
            raise ScoreError(f"--side: {paths[0]} is a dataset folder, whose videos.csv gives each video's side")
        videos, _ = load_manifest(paths[0], scored=False)
        return videos[[c for c in DATASET_KEEP if c in videos.columns]].reset_index(drop=True)
    default, own = file_sides(paths, side)
    landmarks = [p for p in paths if is_landmark_file(p)]
    sideless = [p for p in landmarks if not own.get(p, default)]
    if landmarks and not task or sideless:
        first = sideless[0] if sideless else landmarks[0]
        need = {"task": (task, "the task it shows"), "side": (own.get(first, default),
                                                             "L or R, the patient's hand to score")}
        missing = {w: h for w, (given, h) in need.items() if not given}
        said = "; ".join(f"--{w}: {h}" for w, h in missing.items())
        raise ScoreError(f"{first}: a landmark file given directly needs "
                         f"{' and '.join(f'--{w}' for w in missing)} ({said})")
    if not task:
        raise ScoreError("--task is needed to score videos (or give one dataset folder with a videos.csv, "
                         "which names each video's task)")
    files, sides = [], []
    for p in paths:
        found = [Path(p)] if is_landmark_file(p) else video_paths([p])
        files += found
        sides += [own.get(p, default)] * len(found)
    kind = ["keypoints" if is_landmark_file(p) else "video" for p in files]
    return pd.DataFrame({"video": [str(p) for p in files], "path": [str(p) for p in files], "task": task,
                         "side": sides, "kind": kind})


NO_VIDEO = "deep scoring needs a video: "  # the deep note of a row that names a landmark file


def no_video_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """SCORE_COLUMNS rows without a deep prediction for rows that name landmark files, then their columns."""
    out = rows.reset_index(drop=True).assign(prob_0=np.nan, prob_1=np.nan, pred=pd.NA, spread=np.nan, set="",
                                             call="", note=NO_VIDEO + "this row names a landmark file")
    return out[SCORE_COLUMNS + [c for c in out.columns if c not in SCORE_COLUMNS]]


def unscored(scores: pd.DataFrame) -> pd.DataFrame:
    """(video, why) of the rows without any prediction: an unusable video, a row without usable keypoints."""
    deep = scores["call"] != "" if "call" in scores else pd.Series(False, index=scores.index)
    kin = scores["kinematics_call"] != "" if "kinematics_call" in scores else pd.Series(False, index=scores.index)
    bad = scores[~deep & ~kin & (scores["video"] != "")]
    why = bad["note"].where(bad["note"] != "", bad.get("kinematics_note", ""))
    if "kinematics_note" in bad:
        why = why.where(~why.str.startswith(NO_VIDEO), bad["kinematics_note"])
    return pd.DataFrame({"video": bad["video"], "why": why.str.removeprefix(UNUSABLE)})


def video_paths(paths: list[str]) -> list[Path]:
    """The videos named: files as given (a missing or unreadable one is reported by decoding), and the video
    files under each folder; a folder without one is a ScoreError."""
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            inside = sorted(f for f in p.rglob("*") if f.suffix.lower() in VIDEO_EXTENSIONS and f.is_file())
            if not inside:
                raise ScoreError(f"{p}: no video file in this folder (looked for {', '.join(VIDEO_EXTENSIONS)})")
            found += inside
        else:
            found.append(p)
    return found


def run_dataset(profile: str) -> str:
    """The run's dataset (params/<profile>.yaml's `dataset`; "": its SynPD), which the kinematics model refits on."""
    try:
        return load_params(profile).get("dataset", "")
    except ReproduceError:  # a run whose profile has no params file here: its SynPD
        return ""


def score_dataset(root: str | Path, layout: Layout, setting: str, coverage: float = DEFAULT_COVERAGE,
                  config: TrainConfig | None = None, workers: int | None = None,
                  progress: bool = True) -> tuple[pd.DataFrame, list[TaskModels]]:
    """Score every video of a dataset folder (docs/DATASET.md; `score` may be empty) with the models of its
    tasks: the scores of all tasks (with the manifest's patient, exam, score and label) and, for every
    examination with a usable video of each task, its examination-level rows (`score_exams`); and the
    task models used."""
    videos, exams = load_manifest(root, scored=False)
    if "kind" not in videos:  # PD4T's layout: videos only
        videos["kind"] = "video"
    tasks = [t for t in TASKS if ((videos["task"] == t) & (videos["kind"] == "video")).any()]
    if not (videos["task"].isin(TASKS)).any():
        raise ScoreError(f"{root}: videos.csv lists no video of the study's tasks ({', '.join(TASKS)})")
    models = [TaskModels.load(layout, setting, t) for t in tasks]
    keep = [c for c in ("video", "path", "side", "patient", "exam", "score", "label", "crop", "kind", "mirrored",
                        "width", "height") if c in videos]
    parts = [score_videos(videos.loc[(videos["task"] == m.task) & (videos["kind"] == "video"), keep], m, coverage,
                          config, workers, progress) for m in models]
    scores = pd.concat([*parts, no_video_rows(videos[videos["kind"] != "video"])], ignore_index=True)
    given = ~exams["total_from_items"] | ~exams["exam"].isin(videos.loc[videos["score"].isna(), "exam"])
    totals = exams.loc[given].set_index("exam")["total"]  # a total summed over missing scores is not known
    return pd.concat([scores, score_exams(scores, layout, coverage, totals)], ignore_index=True), models


def run_and_setting(profile: str = "default", setting: str | None = None,
                    models: str | None = None) -> tuple[Layout, str]:
    """(the run's layout, the setting) from `models` (`pdlib score --models`: a setting's folder of trained models,
    or "kinematics") or `profile` and `setting` (default: the profile's `setting`)."""
    if models and models != "kinematics":
        unit = Path(models).resolve()
        if not unit.is_dir() or unit.parent.name != "models":
            raise ScoreError(f"--models {models}: expected a setting's folder of trained models, "
                             "outputs/<profile>/models/<setting>, or kinematics")
        return Layout(unit.parents[1].name, run_dataset(unit.parents[1].name), outputs=unit.parents[2]), unit.name
    layout = Layout(profile, run_dataset(profile))
    return layout, models or setting or load_params(profile).get("setting", DEFAULT_SETTING)


def score_request(paths: list[str], layout: Layout, setting: str, task: str = "", side: str | list[str] = "",
                  coverage: float = DEFAULT_COVERAGE, workers: int | None = None,
                  progress: bool = True) -> tuple[pd.DataFrame, list[TaskModels]]:
    """What `pdlib score` and notebook 06 score: one dataset folder (every task of it), or video and landmark
    files and folders of `task` (filmed on `side`: one side, or FILE:SIDE per file, `file_sides`). Videos are
    scored by the deep setting's fold models, landmark files not (no video); beside, every row of a task whose
    kinematics setting was run gets the kinematics model's columns from its keypoints
    (`pdlib.scoring.kinematics`). `setting` "kinematics": that model alone (`kinematics_only` columns; no deep
    model, nothing decoded). Returns the scores (`.attrs["kinematics"]`: the kinematics models' meta) and the
    deep task models used."""
    rows = request_rows(paths, task, side)
    models: list[TaskModels] = []
    if setting == KINEMATICS:
        scores, meta = add_kinematics(rows, layout, coverage, required=True)
        scores = kinematics_only(scores)
    else:
        if len(paths) == 1 and (Path(paths[0]) / "videos.csv").is_file():
            scores, models = score_dataset(paths[0], layout, setting, coverage, workers=workers, progress=progress)
        else:
            videos = rows[rows["kind"] == "video"]
            models = [TaskModels.load(layout, setting, task)] if len(videos) else []
            parts = [score_videos(videos, m, coverage, workers=workers, progress=progress) for m in models]
            scores = pd.concat([*parts, no_video_rows(rows[rows["kind"] != "video"])], ignore_index=True)
        scores, meta = add_kinematics(scores, layout, coverage)
    scores.attrs["kinematics"] = meta
    return scores, models


def score_main(paths: list[str], layout: Layout, setting: str, task: str = "", side: str | list[str] = "",
               coverage: float = DEFAULT_COVERAGE, out: str | Path | None = None, workers: int | None = None) -> int:
    """`pdlib score` (its options as arguments: the run and setting `run_and_setting` found, `score_request`'s;
    `out`: the output folder, default the run's `scores/`), with `pdlib.messages.exit_code`'s rule: 0 every row
    scored (by the deep models or the kinematics model), 1 some rows without any prediction (named with the
    reason, the others scored), 2 no row scored (each named), or a request that cannot be served (ScoreError,
    said in one line). Where the rows have clinicians' item scores, the agreement with them ends the summary
    (`agreement_lines`)."""
    scores, used = score_request(paths, layout, setting, task, side, coverage, workers)
    out = Path(out) if out else layout.dir("scores")
    meta = meta_of(used, coverage) if used else {
        "profile": layout.profile, "setting": setting, "coverage": coverage, "tasks": {},
        "conformal": "CV+ on the out-of-fold predictions", "note": "research outputs, not a diagnosis"}
    # the dataset folder scored (videos.csv), so `pdlib report` finds its videos and exams.csv from scores.json
    dataset = next((str(Path(p).resolve()) for p in paths if (Path(p) / "videos.csv").is_file()), "")
    csv, js = write_scores(scores, out, meta | {"kinematics": scores.attrs.get("kinematics", {}),
                                                **({"dataset": dataset} if dataset else {})})
    _print(scores)
    files = scores[scores["video"] != ""]
    exams = len(scores) - len(files)
    noun = "video" if (files.get("kind", pd.Series("video", index=files.index)) == "video").all() else "recording"
    what = count(len(files), noun) + (f" and {count(exams, 'examination')}" if exams else "")
    print(f"scores of {what} ({setting}, coverage {coverage}): {csv}, {js}")
    bad = unscored(scores)
    for r in bad.itertuples():
        print(f"  unusable {r.video}: {r.why}")
    for line in agreement_lines(scores, setting):
        print(line)
    code = exit_code(len(files), len(bad))
    if code == 2:
        print(f"pdlib score: error: no {noun} could be scored (each is named above with the reason)",
              file=sys.stderr)
    return code


# scores.csv, column by column (README "Score new videos"): the deep ensemble's (absent with --models kinematics),
# the kinematics model's, and a dataset folder's own. `path` (the file as opened) is in scores.json only; the
# ensemble's `pred` (the class of the larger probability, even where the set abstains) is not written: `call`
# is the answer, and a class beside "abstain" reads as one.
CSV_COLUMNS = ["video", "task", "side", "prob_0", "prob_1", "prob_2", "spread", "set", "call", "note",
               *KINEMATICS_COLUMNS, "kinematics_note", "patient", "exam", "score", "label"]
KINEMATICS_CSV = ["video", "task", "side", *KINEMATICS_COLUMNS, "note", "patient", "exam", "score", "label"]
DECIMALS = {"prob_0": 3, "prob_1": 3, "prob_2": 3, "spread": 3, "kinematics_prob": 3, "kinematics_spread": 3,
            "kinematics_expected": 2}  # probabilities and spreads to 3 decimals, expected item scores to 2


def scores_table(scores: pd.DataFrame) -> pd.DataFrame:
    """The scores as `scores.csv` holds them: CSV_COLUMNS (KINEMATICS_CSV for the kinematics model alone) that
    the rows have, in that order, rounded (DECIMALS)."""
    order = CSV_COLUMNS if "call" in scores else KINEMATICS_CSV
    table = scores[[c for c in order if c in scores]].copy()
    for col, places in DECIMALS.items():
        if col in table:
            table[col] = pd.to_numeric(table[col], errors="coerce").round(places)
    return table


def write_scores(scores: pd.DataFrame, out: Path, meta: dict) -> tuple[Path, Path]:
    """`<out>/scores.csv` (one row per video, `scores_table`) and `<out>/scores.json` ({"meta": ..., "videos":
    the same rows, each with its `path`})."""
    out.mkdir(parents=True, exist_ok=True)
    csv, js = out / "scores.csv", out / "scores.json"
    table = scores_table(scores)
    table.to_csv(csv, index=False)
    if "path" in scores:
        table.insert(1, "path", scores["path"].fillna("").astype(str))
    records = json.loads(table.to_json(orient="records"))
    js.write_text(json.dumps({"meta": meta, "videos": records}, indent=2, default=str))
    return csv, js


def _called_class(rows: pd.DataFrame, set_column: str) -> pd.Series:
    """The class a call names (its set's one class); NA where the models abstained or gave nothing."""
    one = rows[set_column].fillna("").astype(str).str.fullmatch(r"\d+")
    return pd.to_numeric(rows[set_column].where(one), errors="coerce")


def _calls(rows: pd.DataFrame, call_column: str, set_column: str) -> str:
    """"calls 89% correct (38 called, 12 abstained)" of rows with a label (binary_metrics' accuracy)."""
    made = rows[rows[call_column].fillna("") != ""]
    abstained = int((made[call_column] == ABSTAIN).sum())
    called = _called_class(made, set_column)
    keep = called.notna() & made["label"].notna()
    if not keep.any():
        return f"no call made ({abstained} abstained)"
    acc = binary_metrics(made.loc[keep, "label"].astype(int), called[keep].astype(int))["acc"]
    return f"calls {100 * acc:.0f}% correct ({int(keep.sum())} called, {abstained} abstained)"


def _spearman(a: dict, of: str) -> str:
    """"Spearman 0.41 [0.12, 0.63] of <of> with the item score (40 videos)", or why there is none."""
    n = a["n_scored"]
    if n < MIN_SCORED:
        return f"Spearman not computed: {count(n, 'video')} with a score and a prediction, under {MIN_SCORED}"
    if not np.isfinite(a["spearman"]):
        return f"Spearman undefined ({count(n, 'video')}: the predictions or the scores are constant)"
    ci = f" [{a['spearman_lo']:.2f}, {a['spearman_hi']:.2f}]" if np.isfinite(a["spearman_lo"]) else ""
    return f"Spearman {a['spearman']:.2f}{ci} of {of} with the item score ({count(n, 'video')})"


def agreement_lines(scores: pd.DataFrame, setting: str) -> list[str]:
    """What `pdlib score` prints last for rows with clinicians' item scores (`score`, 0-4): per task, the deep
    ensemble's and the kinematics model's agreement (`pdlib.metrics.agreement`: Spearman's rho of P(severe), or
    of the kinematics model's expected item score, with the score and its patient-bootstrap 95% CI; the MAE of
    the kinematics model's predicted item score) and the accuracy of their calls (`binary_metrics`, the called
    rows only, with how many abstained); the examination rows' calls against their known class. [] without
    scores."""
    if "score" not in scores or not pd.to_numeric(scores["score"], errors="coerce").notna().any():
        return []
    with warnings.catch_warnings():  # a CI over a few patients can be degenerate: then it is NaN, not said twice
        warnings.simplefilter("ignore", DegenerateDataWarning)
        return _agreement_lines(scores, setting)


def _agreement_lines(scores: pd.DataFrame, setting: str) -> list[str]:
    lines = ["agreement with the clinicians' item scores (research outputs on your cohort, not a diagnosis):"]
    rows = scores[scores["video"] != ""].assign(score=lambda d: pd.to_numeric(d["score"], errors="coerce"))
    patient = rows["patient"] if "patient" in rows else rows["video"]
    for task, g in rows[rows["score"].notna()].groupby("task", sort=False):
        if "call" in g and (g["call"] != "").any():
            deep = pd.DataFrame({"score": g["score"], "patient": patient[g.index], "prob": g["prob_1"],
                                 "pred": g["pred"].where(g["call"] != "")})
            lines.append(f"  {task}, {setting}: {_spearman(agreement(deep), 'P(severe)')}; "
                         f"{_calls(g, 'call', 'set')}")
        if "kinematics_call" in g and (g["kinematics_call"] != "").any():
            kin = pd.DataFrame({"score": g["score"], "patient": patient[g.index], "prob": g["kinematics_prob"],
                                "score_expected": g["kinematics_expected"], "score_pred": g["kinematics_score"],
                                "pred": g["kinematics_score"]}).astype({c: float for c in (
                                    "prob", "score_expected", "score_pred", "pred")})
            a = agreement(kin)
            mae = f"; MAE {a['mae']:.2f} item-score points" if np.isfinite(a["mae"]) else ""
            lines.append(f"  {task}, kinematics: {_spearman(a, 'the expected item score')}{mae}; "
                         f"{_calls(g, 'kinematics_call', 'kinematics_set')}")
    label = scores["label"] if "label" in scores else pd.Series(pd.NA, index=scores.index)
    levels = scores[(scores["video"] == "") & label.notna()]
    for task, g in levels.groupby("task", sort=False):
        lines.append(f"  {task} (against the class of the examination's total): {_calls(g, 'call', 'set')}")
    return lines if len(lines) > 1 else []


def meta_of(models: list[TaskModels], coverage: float) -> dict:
    """What made a scores file: the run, setting, each task's folds, clip spec and calibration videos."""
    return {"profile": models[0].layout.profile, "setting": models[0].setting, "coverage": coverage,
            "conformal": "CV+ on the out-of-fold predictions", "note": "research outputs, not a diagnosis",
            "tasks": {m.task: {"folds": sorted(m.models), "clip": m.spec.as_dict(),
                               "calibration_videos": m.conformal(coverage).n} for m in models}}


def _print(scores: pd.DataFrame) -> None:
    shown = scores.assign(**{c: scores[c].round(3) for c in ("prob_1", "spread", "kinematics_prob") if c in scores})
    kinematics = "kinematics_call" in shown and (shown["kinematics_call"].fillna("") != "").any()
    cols = [c for c in ("video", "task", "side", "prob_1", "spread", "set", "call", "kinematics_score",
                        "kinematics_prob", "kinematics_set", "kinematics_call")
            if c in shown and (kinematics or not c.startswith("kinematics"))]  # no empty kinematics columns
    print(shown[cols].rename(columns={"prob_1": "P(severe)", "kinematics_prob": "kinematics P(severe)"}
                             ).to_string(index=False))
