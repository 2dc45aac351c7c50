"""SynPD and SynAct: cohort shape (Tables IV, VI), severity visible as motion, determinism, files, layout."""

import hashlib
import json

import av
import numpy as np
import pandas as pd
import pytest

from pdlib.data import ClipSpec, check_dataset, load_manifest, read_clip, video_durations
from pdlib.kinematics import TASK_CONVENTION, Keypoints, keypoints_path
from pdlib.synth import make_synact, make_synpd, oracle_ceiling, render_task, synpd_cohort
from pdlib.synth.synpd import TABLE_IV
from pdlib.tables import class_counts, clinical_numbers, score_distribution, table_vi
from pdlib.tasks import TASKS


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """SynPD (smoke) rendered by the default pool of worker processes (test_deterministic_and_idempotent renders
    it again in this process)."""
    return make_synpd(tmp_path_factory.mktemp("synpd") / "a", size="smoke", seed=0, progress=False)


@pytest.fixture(scope="module")
def synact(tmp_path_factory):
    """SynAct (smoke), rendered in this process: 36 small clips take less than starting a pool's workers."""
    return make_synact(tmp_path_factory.mktemp("synact"), size="smoke", seed=0, progress=False, workers=1)


def test_default_cohort_matches_table_iv_and_vi():
    videos, exams, truth = synpd_cohort("default", seed=0)
    assert exams["patient"].nunique() == 39 and len(exams) == 18 * 2 + 21 * 3
    assert len(videos) == sum(sum(c) for c in TABLE_IV.values())  # 1088 videos (the study: 1082)
    assert exams.groupby("patient")["condition"].apply(tuple).isin([("L-OFF", "L-ON"), ("A", "B", "C")]).all()
    share = videos.assign(c1=videos["score"] >= 2).groupby("task")["c1"].mean()
    for task, (c0, c1) in TABLE_IV.items():
        assert share[task] == pytest.approx(c1 / (c0 + c1), abs=0.10), task
    assert 28 <= exams["total"].mean() <= 38 and 12 <= exams["total"].std() <= 20  # Table VI: 33 +- 16
    by_cond = exams.groupby("condition")["total"].mean()
    assert by_cond["L-OFF"] > by_cond["L-ON"] + 10 and by_cond["B"] > by_cond["A"] > by_cond["C"]
    patients = exams.drop_duplicates("patient")
    assert (patients["sex"] == "M").sum() == 28 and abs(patients["age"].mean() - 63) < 4
    assert list(truth["video"]) == list(videos["video"])
    assert (np.digitize(truth["true_severity"] + truth["rater_noise"], [0.5, 1.5, 2.5, 3.5])
            == videos["score"]).all()
    assert 5.5 < videos["seconds"].mean() < 7.2 and (videos["seconds"] < 10).mean() > 0.85  # Fig. 4a


def test_ceiling_between_half_and_095(smoke):
    ceiling = pd.read_csv(smoke / "ceiling.csv")
    assert list(ceiling["task"]) == list(TASKS)
    assert ceiling["oracle_mcc"].between(0.5, 0.95).all(), ceiling
    again = oracle_ceiling(seed=1)
    assert np.abs(again["oracle_mcc"].to_numpy() - ceiling["oracle_mcc"].to_numpy()).max() < 0.03


def _motion_energy(frames: np.ndarray) -> float:
    """Mean absolute frame difference after 4x4 average pooling (which averages the sensor noise away)."""
    t, h, w, _ = frames.shape
    pooled = frames.astype(np.float32).reshape(t, h // 4, 4, w // 4, 4, 3).mean(axis=(2, 4))
    return float(np.abs(np.diff(pooled, axis=0)).mean())


@pytest.mark.parametrize("task", ["finger", "hand", "leg"])
def test_bradykinesia_slower_and_smaller_with_severity(task):
    energy = [_motion_energy(render_task(task, s, seconds=3.0, size=(96, 72), seed=11)) for s in (0, 3, 4.2)]
    assert energy[0] > 1.3 * energy[1] and energy[1] > energy[2], energy


def test_tremor_grows_with_severity():
    energy = [_motion_energy(render_task("postural", s, seconds=2.0, size=(96, 72), seed=4))
              for s in (0, 2, 3.5)]
    assert energy[0] < energy[1] < energy[2] and energy[2] > 2 * energy[0], energy


def test_nuisances_fixed_by_seed_and_severity_changes_only_motion():
    a = render_task("hand", 0.0, seconds=0.4, size=(64, 48), seed=3)
    b = render_task("hand", 3.0, seconds=0.4, size=(64, 48), seed=3)
    c = render_task("hand", 0.0, seconds=0.4, size=(64, 48), seed=4)
    assert a.shape == (10, 48, 64, 3)
    corner = (slice(None), slice(0, 8), slice(0, 8))  # background: same room for the same seed
    assert np.abs(a[corner].astype(int) - b[corner]).mean() < 6 < np.abs(a[corner].astype(int) - c[corner]).mean()


def test_smoke_manifests_decode_and_classes(smoke):
    videos, exams = load_manifest(smoke)
    assert 6 <= videos["patient"].nunique() <= 8
    assert set(videos["task"]) == set(TASKS)
    assert (videos.groupby("task")["label"].nunique() == 2).all()
    assert check_dataset(smoke).exit_code == 0
    clip = read_clip(videos["path"].iloc[0], ClipSpec(8, 32))
    assert clip.shape == (8, 32, 32, 3) and clip.dtype == np.uint8 and clip.std() > 5
    truth = pd.read_csv(smoke / "truth.csv")
    assert list(truth.columns) == ["video", "true_severity", "rater_noise", "true_score"]
    assert set(exams.columns) >= {"exam", "patient", "condition", "total", "age", "sex", "disease_duration"}
    meta = json.loads((smoke / "meta.json").read_text())
    assert (meta["size"], meta["seed"]) == ("smoke", 0)


def test_durations_and_tables(smoke):
    videos, exams = load_manifest(smoke)
    seconds = video_durations(smoke, videos)
    assert seconds.between(1.0, 2.5).all() and len(seconds) == len(videos)
    counts = class_counts(videos)
    assert list(counts["task"]) == list(TASKS)
    assert (counts["class_0"] + counts["class_1"] == videos["task"].value_counts()[counts["task"]].to_numpy()).all()
    table = clinical_numbers(exams, videos)
    assert list(table["class"]) == ["slight", "moderate", "severe", "total"]
    formatted = table_vi(table).set_index("class")
    total_row = table.set_index("class").loc["total"]
    assert formatted.loc["total", "score"] == f"{total_row['score_mean']:.0f}±{total_row['score_sd']:.0f}"
    assert formatted.loc["total", "male/female"] == f"{int(total_row['male'])}/{int(total_row['female'])}"
    total = table.set_index("class").loc["total"]
    assert total["videos_all"] == len(videos) and total["patients"] == exams["patient"].nunique()
    assert table.loc[:2, "videos_all"].sum() == len(videos)
    assert sum(total[f"videos_{c}"] for c in ("L-OFF", "L-ON", "A", "B", "C")) == len(videos)
    assert score_distribution(videos).sum() == len(videos)


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix in (".csv", ".mp4")}


def test_deterministic_and_idempotent(smoke, tmp_path):
    again = make_synpd(tmp_path / "b", size="smoke", seed=0, progress=False, workers=1)
    assert _digest(again) == _digest(smoke)  # one worker or two: the same bytes
    stamp = (smoke / "videos.csv").stat().st_mtime_ns
    make_synpd(smoke, size="smoke", seed=0, progress=False)
    assert (smoke / "videos.csv").stat().st_mtime_ns == stamp
    other, _, _ = synpd_cohort("smoke", seed=1)
    assert not other["score"].equals(pd.read_csv(smoke / "videos.csv")["score"])


def test_every_video_has_its_true_keypoints_frame_for_frame(smoke):
    videos = pd.read_csv(smoke / "videos.csv")
    for i, v in enumerate(videos.itertuples()):
        kp = Keypoints.load(keypoints_path(smoke / v.video))
        assert (kp.convention, kp.side, kp.tracked(v.task)) == (TASK_CONVENTION[v.task], v.side, 1.0), v.video
        assert np.allclose(np.diff(kp.t), 1 / 25)
        if i % 20 == 0:
            with av.open(str(smoke / v.video)) as container:
                assert container.streams.video[0].frames == len(kp.t), v.video


def test_a_subset_of_tasks_holds_the_same_videos(smoke, tmp_path):
    """make_synpd(tasks=...) (gpu_check times one task's videos): the videos of the whole dataset, byte for byte."""
    part = make_synpd(tmp_path / "finger", size="smoke", seed=0, progress=False, tasks=["finger"], workers=1)
    videos = pd.read_csv(part / "videos.csv")
    whole = pd.read_csv(smoke / "videos.csv")
    assert videos.equals(whole[whole["task"] == "finger"].reset_index(drop=True)) and len(videos) == 12
    assert all((part / v).read_bytes() == (smoke / v).read_bytes() for v in videos["video"])
    assert not list((part / "videos").glob("*/hand*"))
    with pytest.raises(ValueError, match="unknown task"):
        make_synpd(tmp_path / "x", size="smoke", tasks=["gait"], progress=False)


def test_refuses_foreign_folder(tmp_path):
    (tmp_path / "mine.txt").write_text("user data")
    with pytest.raises(FileExistsError, match="not written by pdlib.synth"):
        make_synpd(tmp_path, size="smoke", progress=False)
    with pytest.raises(ValueError, match="expected one of"):
        make_synpd(tmp_path / "x", size="huge", progress=False)


def test_synact_ucf101_layout(synact):
    splits = synact / "splits"
    classes = [line.split() for line in (splits / "classInd.txt").read_text().splitlines()]
    assert [int(i) for i, _ in classes] == list(range(1, 7))
    names = {name: int(i) for i, name in classes}
    for k in (1, 2, 3):
        train = [line.split() for line in (splits / f"trainlist0{k}.txt").read_text().splitlines()]
        test = (splits / f"testlist0{k}.txt").read_text().split()
        assert all((synact / "videos" / p).is_file() for p, _ in train) and all(
            (synact / "videos" / p).is_file() for p in test)
        assert all(names[p.split("/")[0]] == int(label) for p, label in train)
        groups = [{p.rsplit("_g", 1)[1][:2] for p in side} for side in ([p for p, _ in train], test)]
        assert groups[0].isdisjoint(groups[1]) and len(groups[1]) == 2
        assert len(train) + len(test) == 36
    clip = read_clip(next((synact / "videos").rglob("*.avi")), ClipSpec(8, 32))
    assert clip.shape == (8, 32, 32, 3)
