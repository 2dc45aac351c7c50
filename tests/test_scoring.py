"""Scoring new videos (`pdlib score`, pdlib.scoring): the fold ensemble, conformal sets that abstain, and every
mistake a user can make answered in one line (exit 2) or by naming the unusable video (exit 1)."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from explorer_fixture import tiny_tsa, write_video

from pdlib import scoring
from pdlib.cli import main as cli_main
from pdlib.data import ClipDataset, ClipSpec, cache_clips
from pdlib.layout import Layout
from pdlib.models import build_model, save_model
from pdlib.train import TrainConfig, predict

SETTING = "tsa_synact"


@pytest.fixture
def run(explorer_outputs, tmp_path):
    """A copy, which the test may change, of the fake `smoke` run (tests/explorer_fixture.py, shared by the session:
    tests/conftest.py): two folds of tiny TSA models for finger and hand, their out-of-fold predictions, and the
    videos they were trained on."""
    shutil.copytree(explorer_outputs, tmp_path / "outputs")
    return Layout("smoke", outputs=tmp_path / "outputs")


def videos_of(layout: Layout, task: str) -> list[str]:
    return sorted(str(p) for p in (layout.synth_dir("synpd") / "videos").glob(f"{task}_*.mp4"))


def score(args, capsys) -> tuple[int, str, str]:
    code = cli_main(["score", *map(str, args)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_conformal_sets_cover_at_the_nominal_rate_and_abstain_when_unsure():
    rng = np.random.default_rng(0)
    def draw(n):  # a calibrated classifier: P(class 1) = p, and the class drawn with that p
        p = rng.beta(0.7, 0.7, n)
        return np.stack([1 - p, p], axis=1), (rng.uniform(size=n) < p).astype(int)

    probs, labels = draw(400)
    folds = np.arange(400) % 5  # which fold model held each calibration video out
    conformal = scoring.Conformal.calibrate(probs, labels, folds, 0.9)
    new, truth = draw(20000)
    sets = conformal.sets({k: new for k in range(5)})  # five fold models that agree: split conformal
    assert abs(sets[np.arange(len(truth)), truth].mean() - 0.9) < 0.02  # empirical coverage of new draws
    single = sets.sum(axis=1) == 1
    assert 0 < single.mean() < 1  # some calls, some abstentions
    assert (new[single].argmax(axis=1) == truth[single]).mean() > (new.argmax(axis=1) == truth).mean()
    # CV+: a fold model that is sure of the wrong class on new videos cannot hide behind the others.
    wrong = {k: (new if k else new[:, ::-1]) for k in range(5)}
    assert conformal.sets(wrong).sum(axis=1).mean() > sets.sum(axis=1).mean()
    few = scoring.Conformal.calibrate(probs[:5], labels[:5], folds[:5], 0.9)  # 5 videos cannot give 90%
    assert few.sets({k: new[:3] for k in range(5)}).all()  # so: always abstain
    assert not conformal.sets({k: np.full((2, 2), np.nan) for k in range(5)}).any()  # unusable: no class
    with pytest.raises(scoring.ScoreError, match="coverage: expected a number between 0 and 1"):
        scoring.Conformal.calibrate(probs, labels, folds, 90)


def test_videos_are_scored_by_the_mean_of_the_fold_models_loaded_once(run, monkeypatch):
    loads = []
    load = scoring.videos.load_model  # TaskModels.load looks it up in pdlib.scoring.videos
    monkeypatch.setattr(scoring.videos, "load_model", lambda path: loads.append(path) or load(path))
    models = scoring.TaskModels.load(run, SETTING, "finger")
    paths = videos_of(run, "finger")
    scores = scoring.score_videos(pd.DataFrame({"path": paths, "side": "L"}), models, 0.9, workers=1,
                                  progress=False)
    assert len(loads) == 2 and sorted(models.models) == [0, 1]  # once per fold, not per video
    assert list(scores.columns[:10]) == scoring.SCORE_COLUMNS and len(scores) == len(paths) == 8
    status = cache_clips(paths, ClipSpec(16, 64), run.cache_dir, progress=False)  # the clips scored, cached
    assert not status["decoded"].any()
    ds = ClipDataset.from_files(list(status["cache"]), [0] * 8, pd.DataFrame({"video": paths}))
    per_fold = np.stack([predict(m, ds, TrainConfig(progress=False)) for m in models.models.values()])
    np.testing.assert_allclose(scores[["prob_0", "prob_1"]].to_numpy(), per_fold.mean(0), atol=1e-6)
    np.testing.assert_allclose(scores["spread"], per_fold.std(0).max(1), atol=1e-6)
    assert scores["pred"].tolist() == per_fold.mean(0).argmax(1).tolist()
    conformal = scores.attrs["conformal"]
    assert conformal.n == len(pd.read_csv(run.predictions(SETTING, "finger"))) and conformal.coverage == 0.9
    sets = conformal.sets(dict(zip(models.models, per_fold, strict=True)))
    assert scores["set"].tolist() == [" ".join(map(str, np.flatnonzero(s))) for s in sets]
    assert scores["call"].tolist() == [("severe" if s[1] else "slight") if s.sum() == 1 else "abstain" for s in sets]


def test_the_command_writes_csv_and_json_and_names_an_unusable_video(run, capsys, tmp_path):
    paths = videos_of(run, "hand")[:3]
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video" * 10)
    short = tmp_path / "one_frame.mp4"
    write_video(short, seed=1, n_frames=1)
    out = tmp_path / "scores"
    code, text, _ = score([*paths, bad, short, "--task", "hand", "--side", "R", "--models",
                           run.setting_models(SETTING), "--out", out, "--workers", "1"], capsys)
    assert code == 1
    assert f"unusable {bad}: cannot open as a video container" in text
    assert f"unusable {short}: " in text and "scores of 5 videos (tsa_synact, coverage 0.9)" in text
    csv = pd.read_csv(out / "scores.csv", keep_default_na=False)
    assert len(csv) == 5 and set(csv["side"]) == {"R"} and set(csv["task"]) == {"hand"}
    assert (csv["call"][:3] != "").all() and (csv["call"][3:] == "").all()
    meta = json.loads((out / "scores.json").read_text())
    assert meta["meta"]["tasks"]["hand"]["clip"] == {"frames": 16, "size": 64, "window": None, "crop": True}
    assert meta["meta"]["setting"] == SETTING and len(meta["videos"]) == 5


def real_features(run: Layout) -> None:
    """The fixture's features are random; the examination level needs those of its own task models, and the
    heads notebook 04 fits on them."""
    from pdlib.data import load_manifest
    from pdlib.exam_level import ExamExperiment, HeadConfig
    from pdlib.features import extract_task_features

    videos, _ = load_manifest(run.synth_dir("synpd"))
    for task in ("finger", "hand"):
        models = scoring.TaskModels.load(run, SETTING, task)
        rows = videos[videos["task"] == task]
        status = cache_clips(list(rows["path"]), models.spec, run.cache_dir, progress=False)
        clips = ClipDataset.from_files(list(status["cache"]), [0] * len(rows), rows)
        for k, model in models.models.items():
            extract_task_features(model, clips, run.features(SETTING, task, k), TrainConfig(progress=False))
    ExamExperiment(run, SETTING, head=HeadConfig(epochs=5), repeats=1).assemble("assembling")  # as the fixture


def test_a_dataset_folder_without_scores_is_scored_task_by_task(run, capsys, tmp_path):
    real_features(run)
    data = run.synth_dir("synpd")
    videos = pd.read_csv(data / "videos.csv")
    videos.assign(score="").to_csv(data / "videos.csv", index=False)
    code, text, _ = score([data, "--models", run.setting_models(SETTING), "--out", tmp_path, "--workers", "1"], capsys)
    assert code == 0, text
    csv = pd.read_csv(tmp_path / "scores.csv", keep_default_na=False)
    tasks = csv[csv["video"] != ""]
    assert sorted(tasks["task"].unique()) == ["finger", "hand"] and len(tasks) == len(videos)
    assert set(tasks["label"]) == {""} and (tasks["exam"] != "").all()
    # Every examination has both tasks the fixture's heads assemble: one examination-level row each, from the
    # saved heads (three classes; the method with the best out-of-fold MCC), with the exams.csv class.
    exams = csv[csv["task"] == "examination"]
    assert sorted(exams["exam"]) == ["E0", "E1", "E2", "E3"] and (exams["video"] == "").all()
    probs = exams[["prob_0", "prob_1", "prob_2"]].astype(float).to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1.5e-3)  # each rounded to 3 decimals
    assert exams["label"].astype(int).tolist() == [0, 1, 2, 0]  # totals 12, 30, 55, 20
    assert set(exams["call"]) <= {"slight", "moderate", "severe", "abstain"}
    assert exams["note"].str.endswith("heads of assembling").all()


@pytest.mark.parametrize("args, message", [
    (["--task", "tapping"], "argument --task: invalid choice: 'tapping'"),
    (["--task", "finger", "--side", "X"], "argument --side: expected L, R or FILE:L / FILE:R, found 'X'"),
    (["--task", "finger", "--coverage", "90"], "argument --coverage: expected a number between 0 and 1"),
    (["--task", "toe"], "no trained models of setting 'tsa_synact' for task 'toe'"),
    ([], "--task is needed to score videos"),
])
def test_a_request_that_cannot_be_served_is_one_line_and_exit_2(run, capsys, args, message):
    video = videos_of(run, "finger")[0]
    try:
        code, out, err = score([video, "--models", run.setting_models(SETTING), *args], capsys)
    except SystemExit as e:  # argparse's own refusals
        code, err = e.code, capsys.readouterr().err
    assert code == 2 and message in err


def test_untrained_runs_other_clip_specs_and_empty_folders_are_refused(run, capsys, tmp_path):
    video = videos_of(run, "finger")[0]
    code, _, err = score([video, "--task", "finger", "--profile", "nosuch", "--setting", SETTING], capsys)
    assert code == 2 and "run `pdlib reproduce --profile nosuch` first" in err
    (tmp_path / "empty").mkdir()
    code, _, err = score([tmp_path / "empty", "--task", "finger", "--models", run.setting_models(SETTING)], capsys)
    assert code == 2 and "empty: no video file in this folder" in err
    save_model(build_model("r3d18_tsa", 2, clip=ClipSpec(8, 32), widen=0.125, temporal_strides=(1, 1, 1),
                           attention={"heads": 2}), run.fold_model(SETTING, "finger", 1))
    code, _, err = score([video, "--task", "finger", "--models", run.setting_models(SETTING)], capsys)
    assert code == 2 and "trained on different clip specs (fold 0: T16_S64, fold 1: T8_S32)" in err
    model = tiny_tsa(seed=0)
    del model.pdlib_config["clip"]
    save_model(model, run.fold_model(SETTING, "finger", 1))
    code, _, err = score([video, "--task", "finger", "--models", run.setting_models(SETTING)], capsys)
    assert code == 2 and "has no clip spec in its saved config" in err
    run.predictions(SETTING, "hand").unlink()
    code, _, err = score([video, "--task", "hand", "--models", run.setting_models(SETTING)], capsys)
    assert code == 2 and "no out-of-fold predictions at" in err


def test_coverage_table_counts_covered_abstained_and_accuracy_in_percent():
    scores = pd.DataFrame({"task": ["finger"] * 4 + ["hand"], "label": [0, 1, 1, 0, 1],
                           "pred": [0, 1, 0, 1, 1], "set": ["0", "0 1", "1", "0 1", "0"],
                           "call": ["slight", "abstain", "severe", "abstain", "slight"]})
    table = scoring.coverage_table(scores).set_index("task")
    finger = table.loc["finger"]
    assert finger["videos"] == 4 and finger["coverage"] == pytest.approx(1.0)  # every set held the label
    assert finger["abstained"] == pytest.approx(0.5) and finger["called"] == 2
    assert finger["acc_pct_all"] == pytest.approx(50.0) and finger["acc_pct_called"] == pytest.approx(50.0)
    assert table.loc["hand", "coverage"] == 0.0 and table.loc["hand", "acc_pct_called"] == pytest.approx(100.0)


def readme_columns() -> list[str]:
    """The columns README's scores.csv table documents (its first cells, each `name` or `a`, `b`)."""
    import re
    from pathlib import Path

    text = (Path(__file__).parents[1] / "README.md").read_text()
    table = text[text.index("| column | meaning |"):].split("\n\n")[0]
    return [name for line in table.splitlines()[2:] for name in re.findall(r"`([a-z_0-9]+)`", line.split("|")[1])]


def test_the_csv_holds_the_documented_columns_rounded_each_files_side_and_no_class_beside_abstain(
        run, capsys, tmp_path):
    hand = videos_of(run, "hand")[:3]
    code, text, _ = score([*hand, "--task", "hand", "--side", "L", "--side", f"{hand[1]}:R", "--models",
                           run.setting_models(SETTING), "--out", tmp_path, "--workers", "1"], capsys)
    assert code == 0, text
    assert readme_columns() == scoring.request.CSV_COLUMNS  # the README documents every column, in order
    csv = pd.read_csv(tmp_path / "scores.csv", keep_default_na=False, dtype=str)
    assert list(csv.columns) == [c for c in scoring.request.CSV_COLUMNS if c not in ("prob_2", "patient", "exam",
                                                                                      "score", "label")]
    assert "path" not in csv and "pred" not in csv  # the path is in scores.json; `call` is the answer
    assert csv["side"].tolist() == ["L", "R", "L"]
    for col in ("prob_0", "prob_1", "spread"):
        assert all(len(v.partition(".")[2]) <= 3 for v in csv[col]), csv[col]
    assert set(csv["call"]) <= {"slight", "severe", "abstain"}
    videos = json.loads((tmp_path / "scores.json").read_text())["videos"]
    assert [v["path"] for v in videos] == hand and "pred" not in videos[0]
    code, text, _ = score([hand[0], "--task", "hand", "--models", run.setting_models(SETTING), "--out", tmp_path,
                           "--workers", "1"], capsys)
    assert code == 0 and "scores of 1 video (tsa_synact" in text and "1 videos" not in text
    for spec, message in (("elsewhere.mp4:L", "elsewhere.mp4 is not among the files and folders to score"),
                          ("R", "--side L and --side R: give one side for every file")):
        code, _, err = score([*hand, "--task", "hand", "--side", "L", "--side", spec, "--models",
                              run.setting_models(SETTING)], capsys)
        assert code == 2 and message in err and err.count("\n") == 1


def test_nothing_usable_is_exit_2_from_check_and_score_alike(run, capsys, tmp_path):
    data = tmp_path / "broken"
    shutil.copytree(run.synth_dir("synpd"), data, ignore=shutil.ignore_patterns("*.mp4"))
    for video in pd.read_csv(data / "videos.csv")["video"]:
        (data / video).parent.mkdir(parents=True, exist_ok=True)
        (data / video).write_bytes(b"not a video" * 10)
    assert cli_main(["check", str(data)]) == 2
    out = capsys.readouterr().out
    assert "videos.csv: none of its 16 videos is usable, nothing to use" in out and "16 unusable rows" in out
    code, text, err = score([data, "--models", run.setting_models(SETTING), "--out", tmp_path / "s", "--workers",
                             "1"], capsys)
    assert code == 2 and "pdlib score: error: no video could be scored" in err
    assert text.count(": cannot open as a video container") == 16
    one = data / pd.read_csv(data / "videos.csv")["video"][0]
    code, text, err = score([one, "--task", "finger", "--models", run.setting_models(SETTING), "--out",
                             tmp_path / "s"], capsys)
    assert code == 2 and f"unusable {one}: cannot open" in text and "1 unusable" not in text + err


def test_scores_of_a_dataset_with_clinicians_scores_end_with_the_agreement(run, capsys, tmp_path, monkeypatch):
    """On a dataset whose exams.csv has no `total`: the warning is one plain line (no DatasetWarning, no
    source path), and the agreement printed is pdlib.metrics' on the same rows."""
    from pdlib import metrics

    data = run.synth_dir("synpd")
    pd.read_csv(data / "exams.csv").drop(columns="total").to_csv(data / "exams.csv", index=False)
    shutil.rmtree(run.base / "heads")  # fitted on the fixture's random features: no examination rows here
    written = {}
    write = scoring.request.write_scores
    monkeypatch.setattr(scoring.request, "write_scores", lambda s, out, meta: written.setdefault("s", s) is None
                        or write(s, out, meta))
    code, text, err = score([data, "--models", run.setting_models(SETTING), "--out", tmp_path, "--workers", "1"],
                            capsys)
    assert code == 0, text + err
    assert "DatasetWarning" not in err and ".py:" not in err and "warnings.warn" not in err
    assert err.count("pdlib score: warning: exams.csv, row 1 (header): no 'total' column") == 1
    scores = written["s"]
    lines = text[text.index("agreement with the clinicians' item scores"):].splitlines()
    for task in ("finger", "hand"):
        rows = scores[(scores["task"] == task) & (scores["call"] != "")]
        a = metrics.agreement(pd.DataFrame({"score": rows["score"].astype(float), "patient": rows["patient"],
                                            "prob": rows["prob_1"], "pred": rows["pred"]}))
        called = rows[rows["call"] != "abstain"]
        line = next(x for x in lines if x.startswith(f"  {task}, {SETTING}: "))
        assert f"Spearman {a['spearman']:.2f} [{a['spearman_lo']:.2f}, {a['spearman_hi']:.2f}] of P(severe) " \
               f"with the item score ({len(rows)} videos)" in line, line
        if len(called):
            acc = metrics.binary_metrics(called["label"].astype(int), called["set"].astype(int))["acc"]
            assert f"calls {100 * acc:.0f}% correct ({len(called)} called, {len(rows) - len(called)} abstained)" \
                   in line, line
        else:
            assert f"no call made ({len(rows)} abstained)" in line, line
