"""`pdlib score` from keypoints (pdlib.scoring.kinematics): the kinematics setting's fold models refitted as the
cross-validation fitted them, their item score, P(severe) and conformal set beside (or instead of) the deep
ensemble's, and landmark files given directly."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from pdlib.cli import main as cli_main
from pdlib.kinematics import feature_names
from pdlib.layout import ClipSpec, Layout
from pdlib.scoring import class_probabilities
from pdlib.scoring.kinematics import KINEMATICS_COLUMNS, KinematicsModels, kinematics_columns
from pdlib.synth.recordings import make_synpd_landmarks
from pdlib.task_level import TaskExperiment
from pdlib.tracking import video_features
from pdlib.train import TrainConfig


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Layout:
    """A `smoke` run on a keypoint cohort (SynPD's finger tapping as two-handed landmark files, 8 recordings, 16
    rows) whose kinematics setting was cross-validated as notebook 02 does; the cohort is the profile's SynPD
    folder, so `--profile smoke` finds it. Read-only."""
    outputs = tmp_path_factory.mktemp("outputs")
    layout = Layout("smoke", outputs=outputs)
    make_synpd_landmarks(layout.synth_dir("synpd"), "smoke", seed=0)
    result = TaskExperiment(layout, ClipSpec(8, 32), TrainConfig(progress=False)).run_setting("kinematics", ["finger"])
    assert result.note == "" and result.predictions["finger"]["pred"].notna().all()
    return layout


@pytest.fixture(scope="module")
def new_cohort(tmp_path_factory):
    return make_synpd_landmarks(tmp_path_factory.mktemp("new") / "cohort", "smoke", seed=1)


def score(args, capsys, run: Layout, monkeypatch) -> tuple[int, str, str]:
    monkeypatch.setenv("PDLIB_OUTPUTS", str(run.base.parent))
    code = cli_main(["score", *map(str, args), "--profile", "smoke"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def resting_hand_file(new_cohort, tmp_path):
    """One recording cut to side R's bout: the right hand taps, the left one only rests."""
    truth = pd.read_csv(new_cohort / "truth.csv").iloc[:2].set_index("side")
    table = pd.read_csv(new_cohort / truth.loc["R", "video"])
    out = tmp_path / "rest.landmarks.csv"
    table[table["t"].between(truth.loc["R", "start"], truth.loc["R", "end"])].to_csv(out, index=False)
    return out


def test_the_refitted_fold_models_are_the_cross_validations(run):
    """Each held-out row scored by its fold's refitted model gets its out-of-fold prediction back, so the CV+
    calibration on those predictions holds for new rows."""
    models = KinematicsModels.load(run, "finger")
    preds = pd.read_csv(run.predictions("kinematics", "finger"))
    assert len(models.x) == len(models.calibration) == 16 and sorted(set(models.fold)) == [0, 1, 2, 3, 4]
    videos = pd.read_csv(run.synth_dir("synpd") / "videos.csv")
    rows = preds.merge(videos[["video", "side"]], on=["video", "side"]).assign(
        path=lambda d: [str(run.synth_dir("synpd") / v) for v in d["video"]])
    x = video_features(rows, run.cache_dir).reindex(columns=feature_names("finger")).to_numpy(float)
    per_fold = models.fold_probabilities(x)
    again = np.stack([per_fold[k][i] for i, k in enumerate(rows["fold"])])
    cols = [f"prob_score_{s}" for s in range(5)]
    np.testing.assert_allclose(again, rows[cols].to_numpy(float), atol=1e-6)
    # The calibration's classes are slight vs severe from `prob`, not the five prob_score_<s> columns.
    np.testing.assert_allclose(class_probabilities(preds), np.column_stack([1 - preds["prob"], preds["prob"]]))


def test_kinematics_alone_scores_a_keypoint_cohort(run, new_cohort, capsys, monkeypatch, tmp_path):
    code, text, err = score([new_cohort, "--models", "kinematics", "--out", tmp_path], capsys, run, monkeypatch)
    assert code == 0, err
    csv = pd.read_csv(tmp_path / "scores.csv", keep_default_na=False)
    assert list(csv.columns[:10]) == ["video", "task", "side", *KINEMATICS_COLUMNS, "note"]
    assert len(csv) == 22 and "prob_1" not in csv and (csv["note"] == "").all()  # no deep model ran
    prob = csv["kinematics_prob"].astype(float)
    assert prob.between(0, 1).all() and prob.std() > 0.1
    assert set(csv["kinematics_score"].astype(int)) <= {0, 1, 2, 3, 4}
    assert ((csv["kinematics_score"].astype(int) >= 2) == (prob >= 0.5)).mean() > 0.8  # median vs P(score >= 2)
    assert (csv["kinematics_expected"].astype(float) - csv["kinematics_score"].astype(int)).abs().max() < 1.0
    both = csv["kinematics_set"] == "0 1"
    assert ((csv["kinematics_call"] == "abstain") == both).all() and 0 < both.mean() < 1
    called = csv[~both]
    assert (called["kinematics_call"] == called["kinematics_set"].map({"0": "slight", "1": "severe"})).all()
    meta = json.loads((tmp_path / "scores.json").read_text())["meta"]
    assert meta["setting"] == "kinematics" and meta["kinematics"]["finger"] == {
        "folds": [0, 1, 2, 3, 4], "training_videos": 16, "calibration_videos": 16}


def test_higher_coverage_never_shrinks_a_set(run, new_cohort):
    models = KinematicsModels.load(run, "finger")
    rows = pd.read_csv(new_cohort / "videos.csv").head(8).assign(path=lambda d: [str(new_cohort / v)
                                                                               for v in d["video"]])
    low, high = (kinematics_columns(rows, models, c)["kinematics_set"] for c in (0.5, 0.95))
    assert all(set(a.split()) <= set(b.split()) for a, b in zip(low, high, strict=True))
    assert (high == "0 1").sum() > (low == "0 1").sum() and (low != "0 1").any()


def test_a_hand_not_seen_tapping_gets_a_note_and_no_score(run, new_cohort, capsys, monkeypatch, tmp_path):
    rest = resting_hand_file(new_cohort, tmp_path)
    code, text, _ = score([rest, "--task", "finger", "--side", "L", "--models", "kinematics", "--out", tmp_path],
                          capsys, run, monkeypatch)
    assert code == 2 and f"unusable {rest}: left hand not seen tapping" in text  # its only row: nothing scored
    row = pd.read_csv(tmp_path / "scores.csv", keep_default_na=False).iloc[0]
    assert row["kinematics_score"] == "" and row["kinematics_prob"] == "" and row["kinematics_call"] == ""
    code, _, _ = score([rest, "--task", "finger", "--side", "R", "--models", "kinematics", "--out", tmp_path],
                       capsys, run, monkeypatch)
    assert code == 0 and pd.read_csv(tmp_path / "scores.csv")["kinematics_score"].between(0, 4).all()


def test_default_models_give_a_landmark_file_the_kinematics_columns_only(run, new_cohort, capsys, monkeypatch,
                                                                         tmp_path):
    """No deep model is loaded (there is no video), and a video with keypoints beside it is not decoded."""
    rest = resting_hand_file(new_cohort, tmp_path)
    code, _, err = score([rest, "--task", "finger", "--side", "R", "--setting", "tsa_synact", "--out", tmp_path],
                         capsys, run, monkeypatch)
    assert code == 0, err
    row = pd.read_csv(tmp_path / "scores.csv", keep_default_na=False).iloc[0]
    assert row["call"] == "" and row["note"].startswith("deep scoring needs a video")
    assert row["kinematics_call"] in ("slight", "severe", "abstain") and row["kinematics_note"] == ""
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not a video")  # its keypoints beside it: the kinematics model never opens it
    shutil.copy(rest, tmp_path / "clip.landmarks.csv")
    code, _, err = score([video, "--task", "finger", "--side", "R", "--models", "kinematics", "--out", tmp_path],
                         capsys, run, monkeypatch)
    assert code == 0, err
    assert pd.read_csv(tmp_path / "scores.csv")["kinematics_prob"].iloc[0] == pytest.approx(row["kinematics_prob"])


@pytest.mark.parametrize("args, message", [
    (["--task", "finger"], "rest.landmarks.csv: a landmark file given directly needs --side (--side: L or R"),
    ([], "a landmark file given directly needs --task and --side"),
])
def test_a_bare_landmark_file_without_its_side_is_one_line_and_exit_2(run, new_cohort, capsys, monkeypatch,
                                                                      tmp_path, args, message):
    rest = resting_hand_file(new_cohort, tmp_path)
    code, _, err = score([rest, "--models", "kinematics", *args], capsys, run, monkeypatch)
    assert code == 2 and message in err and err.count("\n") == 1


def test_kinematics_without_its_cross_validation_is_refused(capsys, monkeypatch, tmp_path, new_cohort):
    code, _, err = score([new_cohort, "--models", "kinematics"], capsys, Layout("smoke", outputs=tmp_path),
                         monkeypatch)
    assert code == 2 and "no out-of-fold predictions of the kinematics setting for task 'finger'" in err
