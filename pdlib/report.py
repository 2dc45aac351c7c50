"""A clinician's page per examination (`pdlib report`, notebook 07): what the models call each videotaped item and
how sure they are, the movement itself, where the patient sits among the training cohort, and where the network
looked; and `cohort.csv`, one row per examination.

This module reads a `pdlib score` output back (`read_scores`), summarises it per examination (`cohort_table`) and
gives notebook 07 the parts of one examination's page in order (`ExamPage.parts`: Markdown, tables, figures);
`pdlib.report_figures` draws the cohort figure, `pdlib.report_pages` executes the notebook per examination and
converts it to HTML. Research outputs on a cohort like the training one, not a diagnosis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Markdown

from pdlib.folds import CLASS_NAMES
from pdlib.layout import Layout
from pdlib.scoring.conformal import ABSTAIN
from pdlib.tasks import DEFAULT_SETTING, ITEMS, TASKS, UNUSABLE

EXAM_LEVELS = {"examination": CLASS_NAMES, "slight_vs_severe": ("slight", "severe")}  # the rows' task -> classes
ITEM_CLASSES = ("slight", "severe")  # a task's set: 0 slight (item score 0-1), 1 severe (2-4)
NEEDS_RATER = "abstain: needs a rater"
SIDES = {"L": "left", "R": "right", "": ""}
DISCLAIMER = ("**Research output, not a diagnosis.** These numbers come from models trained on a research cohort; "
              "they mean something only for patients filmed and examined like that cohort (same camera set-up, "
              "same population). They are meant to help a rater look, not to replace the rating.")


class ReportError(ValueError):
    """A report `pdlib report` cannot make: no scores, an unknown examination, a scores file without rows."""


@dataclass
class Scores:
    """A `pdlib score` output read back: its rows, its meta (models, coverage), the file, and the dataset it
    scored (None: files, not a dataset folder) with its examinations (exam, patient, condition)."""

    table: pd.DataFrame
    meta: dict
    file: Path
    dataset: Path | None
    exams: pd.DataFrame

    def video_file(self, video: str) -> Path:
        """A scored row's video file: in the dataset folder, or as the request named it."""
        return self.dataset / video if self.dataset is not None else Path(video)


def scores_file(path: str | Path) -> Path:
    """scores.json (or scores.csv) of a `pdlib score` output: the file itself or the folder holding it."""
    path = Path(path)
    for candidate in ((path / "scores.json", path / "scores.csv") if path.is_dir() else (path,)):
        if candidate.is_file() and candidate.suffix in (".json", ".csv"):
            return candidate.with_suffix(".json") if candidate.with_suffix(".json").is_file() else candidate
    raise ReportError(f"{path}: no scores here (expected scores.csv or scores.json, from `pdlib score`)")


def read_scores(path: str | Path, layout: Layout | None = None) -> Scores:
    """The scores of `path` (`scores_file`), their dataset found from the meta's `dataset`, the rows' `path`, or
    the run's data folders (`layout`) whose videos.csv lists every scored video."""
    file = scores_file(path)
    try:
        if file.suffix == ".json":
            stored = json.loads(file.read_text())
            table, meta = pd.DataFrame(stored["videos"]), stored.get("meta", {})
        else:
            table, meta = pd.read_csv(file, dtype=str, keep_default_na=False), {}
    except (ValueError, KeyError, TypeError) as err:
        raise ReportError(f"{file}: not a `pdlib score` output ({type(err).__name__}: {err})") from None
    if not {"video", "task", "call"} <= set(table.columns) or table.empty:
        raise ReportError(f"{file}: not a `pdlib score` output (expected rows with video, task, call)")
    for col in ("video", "task", "side", "set", "call", "note", "patient", "exam", "kinematics_set",
                "kinematics_call", "kinematics_note"):
        if col in table:
            table[col] = table[col].astype(object).where(table[col].notna(), "").astype(str)
    for col in [c for c in table.columns if c.startswith(("prob_", "kinematics_")) or c == "spread"]:
        if col not in ("kinematics_set", "kinematics_call", "kinematics_note"):
            table[col] = pd.to_numeric(table[col], errors="coerce")
    table["side"] = table["side"] if "side" in table else ""
    dataset = _dataset_of(table, meta, layout)
    exams = pd.DataFrame(columns=["exam", "patient", "condition"])
    if dataset is not None and (dataset / "exams.csv").is_file():
        exams = pd.read_csv(dataset / "exams.csv", dtype=str, keep_default_na=False)
    return Scores(table, meta, file, dataset, exams)


def _dataset_of(table: pd.DataFrame, meta: dict, layout: Layout | None) -> Path | None:
    videos = set(table.loc[table["video"] != "", "video"])
    candidates = [Path(meta["dataset"])] if meta.get("dataset") else []
    if "path" in table:  # a dataset row's path ends with its video, relative to the dataset folder
        for video, path in zip(table["video"], table["path"].astype(str), strict=True):
            if video and path.endswith(video) and path != video:
                candidates.append(Path(path[: -len(video)]))
                break
    if layout is not None and (layout.base / "data").is_dir():
        candidates += sorted(p for p in (layout.base / "data").iterdir() if p.is_dir())
    for root in candidates:
        if (root / "videos.csv").is_file():
            listed = set(pd.read_csv(root / "videos.csv", dtype=str, usecols=["video"])["video"])
            if videos <= listed:
                return root.resolve()
    return None


def exam_ids(scores: Scores) -> list[str]:
    """The examinations of the scores in their order ("videos": the scored files of a request without one)."""
    if "exam" not in scores.table or (scores.table["exam"] == "").all():
        return ["videos"]
    return list(dict.fromkeys(scores.table.loc[scores.table["exam"] != "", "exam"]))


def set_text(task: str, classes: str) -> str:
    """A conformal set ("0 1") in words ("slight or severe")."""
    names = EXAM_LEVELS.get(task, ITEM_CLASSES)
    return " or ".join(names[int(c)] for c in str(classes).split()) or "none"


def call_text(call: str) -> str:
    """A call in words: the class, "abstain: needs a rater", or "no call" (no usable video)."""
    return NEEDS_RATER if call == ABSTAIN else call or "no call"


def exam_rows(scores: Scores, exam: str) -> pd.DataFrame:
    """The scored rows of one examination: its videos in the study's task order (left before right), then its
    examination-level rows."""
    t = scores.table
    whole = exam == "videos" and ("exam" not in t or (t["exam"] == "").all())  # a request of files
    rows = t if whole else t[t["exam"] == exam]
    order = {task: i for i, task in enumerate([*TASKS, *EXAM_LEVELS])}
    return rows.assign(_o=rows["task"].map(order).fillna(len(order))).sort_values(["_o", "side"]).drop(columns="_o")


def cohort_table(scores: Scores, pages: dict[str, str] | None = None) -> pd.DataFrame:
    """cohort.csv: one row per examination: patient, condition, per task (and side) P(severe), the call
    ("abstain" when the set holds both classes, "unusable" without a usable video) and the predicted item score
    0-4 (the kinematics model's, where keypoints exist), the examination-level calls and sets, the unusable
    videos, and the page (`pages`: exam -> file name)."""
    out = []
    condition = scores.exams.set_index("exam")["condition"] if "condition" in scores.exams else pd.Series(dtype=str)
    for exam in exam_ids(scores):
        rows = exam_rows(scores, exam)
        first = rows.iloc[0]
        row = {"exam": exam, "patient": first.get("patient", ""), "condition": condition.get(exam, "")}
        for r in rows[~rows["task"].isin(EXAM_LEVELS)].itertuples():
            key = f"{r.task}_{r.side}" if r.side else r.task
            row[f"{key}_p_severe"] = round(float(r.prob_1), 3) if pd.notna(r.prob_1) else np.nan
            row[f"{key}_call"] = r.call or "unusable"
            row[f"{key}_item_score"] = getattr(r, "kinematics_score", np.nan)
        for level in EXAM_LEVELS:
            hit = rows[rows["task"] == level]
            row[f"{level}_call"] = hit["call"].iloc[0] if len(hit) else ""
            row[f"{level}_set"] = set_text(level, hit["set"].iloc[0]) if len(hit) else ""
        bad = rows[(rows["call"] == "") & ~rows["task"].isin(EXAM_LEVELS)]
        row["unusable"] = "; ".join(f"{v}: {n.removeprefix(UNUSABLE)}"
                                    for v, n in zip(bad["video"], bad["note"], strict=True))
        row["page"] = (pages or {}).get(exam, "")
        out.append(row)
    table = pd.DataFrame(out)
    for col in [c for c in table.columns if c.endswith("_item_score")]:
        table[col] = pd.array(pd.to_numeric(table[col], errors="coerce").round(), dtype="Int64")
    return table


@cache
def training_features(layout: Layout) -> pd.DataFrame:
    """The training cohort's kinematic features (the run's dataset, keypoints beside its videos or in its track
    cache), each row with its task and item score: what the kinematics model was fitted on. Computed once per
    process (notebook 07's kernel serves every page of `pdlib report`)."""
    from pdlib.data import load_manifest
    from pdlib.kinematics import TASK_CONVENTION
    from pdlib.tracking import video_features

    try:
        videos, _ = load_manifest(layout.dataset_root)
    except (FileNotFoundError, ValueError):
        return pd.DataFrame(columns=["task", "score", "note"])
    videos = videos[videos["task"].isin(TASK_CONVENTION)].reset_index(drop=True)
    table = video_features(videos, layout.cache_dir)
    return table.assign(score=pd.to_numeric(videos["score"], errors="coerce"))


@dataclass
class ExamPage:
    """One examination's page: its rows of `scores`, the run (`layout`) whose models and cohort explain them."""

    scores: Scores
    exam: str
    layout: Layout
    setting: str

    @classmethod
    def load(cls, profile: str, scores: str = "", exam: str = "") -> ExamPage:
        """The page of `exam` ("": the first examination) of the scores at `scores` ("": the run's, notebook 06's
        or the last `pdlib score`'s)."""
        from pdlib.scoring.request import run_dataset

        layout = Layout(profile, run_dataset(profile))
        read = read_scores(scores or layout.dir("scores"), layout)
        exams = exam_ids(read)
        if exam and exam not in exams:
            raise ReportError(f"{read.file}: no examination {exam!r} (examinations: {', '.join(exams[:8])}"
                              f"{' ...' if len(exams) > 8 else ''})")
        return cls(read, exam or exams[0], layout, read.meta.get("setting", DEFAULT_SETTING))

    @property
    def rows(self) -> pd.DataFrame:
        return exam_rows(self.scores, self.exam)

    @cached_property
    def videos(self) -> pd.DataFrame:
        """The examination's video rows with `file` (the video's path) and the keypoint features' columns."""
        from pdlib.tracking import video_features

        rows = self.rows[~self.rows["task"].isin(EXAM_LEVELS)].reset_index(drop=True)
        rows = rows.assign(path=[str(self.scores.video_file(v)) for v in rows["video"]])
        feats = video_features(rows, self.layout.cache_dir).drop(columns=["video", "task"])
        return pd.concat([rows, feats.rename(columns={"note": "keypoints_note"})], axis=1)

    def header(self) -> Markdown:
        first = self.rows.iloc[0]
        cond = self.scores.exams.set_index("exam")["condition"].get(self.exam, "") if len(self.scores.exams) else ""
        meta = self.scores.meta
        coverage = meta.get("coverage", 0.9)
        return Markdown(
            f"# Examination {self.exam}\n\n**Patient** {first.get('patient', '') or 'not named'} · **condition** "
            f"{cond or 'not recorded'} · scored by the `{self.setting}` models of run `{self.layout.profile}` "
            f"(scores: `{self.scores.file}`)\n\n{DISCLAIMER}\n\n**How to read it.** For each videotaped item, "
            f"*P(severe)* is the models' probability that the item score is 2-4 (severe) rather than 0-1 (slight). "
            f"A call is made only when the prediction set, which holds the true class for about {coverage:.0%} of "
            f"patients like the training ones, holds one class; when it holds both the page says "
            f"*{NEEDS_RATER}*. The spread is how much the five cross-validated models disagree (standard "
            f"deviation of P(severe)).")

    def summary(self) -> pd.DataFrame:
        """One row per video: item, side, P(severe), the video models' call and spread, the predicted item
        score with its set and call, the tracked share of frames, and why a video was not used."""
        v = self.videos
        item = v.get("kinematics_score", pd.Series(np.nan, index=v.index))
        kin_set = v.get("kinematics_set", pd.Series("", index=v.index))
        kin_call = v.get("kinematics_call", pd.Series("", index=v.index))
        return pd.DataFrame({
            "item": [ITEMS.get(t, t) for t in v["task"]], "side": [SIDES.get(s, s) for s in v["side"]],
            "P(severe)": [f"{p:.2f}" if pd.notna(p) else "-" for p in v["prob_1"]],
            "video models' call": [call_text(c) for c in v["call"]],
            "fold models' spread": [f"±{s:.2f}" if pd.notna(s) else "-" for s in v["spread"]],
            "predicted item score (0-4)": [
                "-" if pd.isna(s) else f"{int(s)}: {c}" if c != ABSTAIN
                else f"{int(s)}: {NEEDS_RATER} (set: {set_text(t, k)})"
                for s, t, k, c in zip(item, v["task"], kin_set, kin_call, strict=True)],
            "tracked (% of frames)": [f"{100 * f:.0f}%" if n == "" or f > 0 else "-"
                                      for f, n in zip(v["tracked"], v["keypoints_note"], strict=True)],
            "note": [n if c == "" else "" for n, c in zip(v["note"], v["call"], strict=True)],
        })

    def table(self):
        """`summary` as the page shows it (no row numbers)."""
        return (self.summary().style.hide(axis="index").set_properties(**{"text-align": "left"})
                .set_table_styles([{"selector": "th", "props": "text-align: left"}]))

    def table_caption(self) -> str:
        coverage = self.scores.meta.get("coverage", 0.9)
        return (f"*Table: one row per video. P(severe) and the call: the mean of the five video models "
                f"(`{self.setting}`)"
                f" and their conformal set at {coverage:.0%} coverage; spread: the standard deviation of P(severe) "
                f"across the five. Predicted item score: the kinematics model's, from the keypoints (0-4; its set of "
                f"slight 0-1 or severe 2-4, and its call). Tracked: the share of frames where the landmarks the item "
                f"needs were found. A video that could not be used is named with the reason.*")

    def examination_call(self) -> Markdown:
        rows = self.rows
        lines = ["## The examination as a whole", ""]
        for level, what in (("examination", "Three classes of the MDS-UPDRS part III total (slight, moderate, "
                                             "severe)"), ("slight_vs_severe", "Slight against severe")):
            hit = rows[rows["task"] == level]
            if not len(hit):
                continue
            r = hit.iloc[0]
            probs = ", ".join(f"{n} {r[f'prob_{c}']:.2f}" for c, n in enumerate(EXAM_LEVELS[level])
                              if pd.notna(r.get(f"prob_{c}")))
            lines.append(f"- **{what}**: {call_text(r['call'])} (set: {set_text(level, r['set'])}; "
                         f"probabilities {probs}; {r['note']})")
        if len(lines) == 2:
            lines.append("No examination-level call: the assembling heads need a usable video of every task they "
                         "combine, and this examination lacks one (or the run saved no heads).")
        return Markdown("\n".join(lines))

    def parts(self):
        """What the page shows after the summary, in order: per item a heading, its movement signal, its features
        among the training cohort's and its attention filmstrip, each with a caption under it."""
        from pdlib.report_figures import attention_part, cohort_part, signal_part

        videos = self.videos
        cohort = training_features(self.layout)
        for task, group in videos.groupby("task", sort=False):
            yield Markdown(f"## {ITEMS.get(task, task)}")
            for r in group.itertuples():
                name = f"{r.video} ({SIDES.get(r.side, r.side) or 'side not given'})"
                if r.call == "" and r.note.startswith("unusable video"):
                    yield Markdown(f"**{name}: {r.note}.** Nothing of this video is shown.")
                    continue
                yield from signal_part(r, name, self.layout.cache_dir)
                yield from attention_part(r, name, self.layout, self.setting)
            yield from cohort_part(task, group, cohort)
        yield Markdown(f"---\n\n{DISCLAIMER}")
