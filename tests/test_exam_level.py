"""The fold/repeat loop of Sec. V-D on a small fake run (features in a Layout): Tables VII-IX, Fig. 7, missing
data, saved heads."""

import math
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from pdlib import exam_level, plots, tables
from pdlib.exam_heads import SavedHeads
from pdlib.exam_level import HeadConfig
from pdlib.layout import Layout
from pdlib.tasks import TASKS

N_EXAMS, N_PATIENTS, D, MAP = 30, 10, 16, (8, 1, 2, 2)
CONFIG = HeadConfig(epochs=25)


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """30 exams of 10 patients, 5 folds, 7 tasks; 'hand' carries the class; one exam has no features,
    one exam lacks 'toe'. Returns (layout, setting, exams, folds)."""
    root = tmp_path_factory.mktemp("fake")
    rng = np.random.default_rng(0)
    exams = pd.DataFrame({"exam": [f"e{i:02d}" for i in range(N_EXAMS)],
                          "patient": [f"p{i // 3}" for i in range(N_EXAMS)],
                          "condition": "L-OFF", "total": np.tile([10.0, 30.0, 50.0], N_EXAMS // 3)})
    folds = pd.Series(np.arange(N_PATIENTS) % 5, index=[f"p{i}" for i in range(N_PATIENTS)], name="fold")
    exams.to_csv(root / "exams.csv", index=False)
    folds.rename_axis("patient").to_csv(root / "folds.csv")
    label = np.digitize(exams["total"], (23, 40), right=True)
    layout = Layout("fake", outputs=root)
    for task in TASKS:
        keep = exams["exam"] != "e29"
        if task == "toe":
            keep &= exams["exam"] != "e04"
        layout.reuse_or_reset(layout.feature_unit("tsa_synact", task), {"fake": task})  # what notebook 02 stamps
        for k in range(5):
            avg = rng.normal(size=(N_EXAMS, D)).astype(np.float32)
            l4 = rng.normal(size=(N_EXAMS, *MAP)).astype(np.float32)
            if task == "hand":
                avg[np.arange(N_EXAMS), label] += 4.0
                l4[np.arange(N_EXAMS), label] += 4.0
            path = layout.features("tsa_synact", task, k)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(path, exam=exams["exam"][keep].to_numpy(str),
                     avgpool=avg[keep], layer4=l4[keep])
    read_exams = pd.read_csv(root / "exams.csv")
    read_folds = pd.read_csv(root / "folds.csv", dtype={"patient": str}).set_index("patient")["fold"]
    return layout, "tsa_synact", read_exams, read_folds


@pytest.fixture(scope="module")
def data(fake):
    return exam_level.load_assembling_data(*fake)


def test_data_shapes_folds_and_missing_report(data):
    assert data.tasks == TASKS and data.num_classes == 3 and len(data.folds) == 5
    for fd in data.folds:
        assert fd.avgpool.shape == (N_EXAMS - 1, 7, D) and fd.layer4.shape == (N_EXAMS - 1, 7, *MAP)
        assert set(fd.patient[fd.train]).isdisjoint(fd.patient[~fd.train])
        assert (~fd.train).sum() == 6 - (fd.fold == 4)  # 2 patients x 3 exams; e29 (fold 4) has no features
        assert fd.mask.sum() == (N_EXAMS - 1) * 7 - 1  # e04 lacks toe
        np.testing.assert_allclose(fd.avgpool[fd.train][fd.mask[fd.train]].mean(axis=0), 0, atol=1e-4)
    assert list(data.missing["exam"]) == ["e29"] * 5
    assert set(data.missing["reason"]) == {"no features for any task"}


def test_patient_disjointness_is_asserted_per_fold(fake, monkeypatch):
    calls = []
    spy = lambda tr, te: calls.append((set(tr), set(te)))  # noqa: E731
    monkeypatch.setattr(exam_level, "assert_patient_disjoint", spy)
    data = exam_level.load_assembling_data(*fake)
    assert len(calls) == 5
    exam_level.cross_validate_heads(data, "vector_averaging", "avgpool", config=HeadConfig(epochs=1), repeats=1)
    assert len(calls) == 10 and all(tr and te and tr.isdisjoint(te) for tr, te in calls)


def test_missing_features_say_run_notebook_02(tmp_path, fake):
    layout, _, exams, folds = fake
    with pytest.raises(FileNotFoundError, match="02_task_level"):
        exam_level.load_assembling_data(layout, "i3d_scratch", exams, folds)
    with pytest.raises(FileNotFoundError, match="02_task_level"):
        _ = exam_level.ExamExperiment(Layout("empty", outputs=tmp_path)).data


def _finite(df: pd.DataFrame) -> bool:
    return all(math.isfinite(v) for v in df.select_dtypes("number").to_numpy().ravel())


def test_table_vii_rows_columns_and_rank(data, tmp_path):
    results = exam_level.single_task_results(data, CONFIG, repeats=2, seed=0)
    numbers = tables.table_vii_numbers(results)
    table = tables.table_vii(numbers)
    assert list(table.columns) == ["Task", "Input", "Exams", "Accuracy (%)", "MCC", "Rank"]
    assert len(table) == 14 and set(table["Input"]) == {"avgpool", "layer4"} and _finite(numbers)
    assert table.loc[table["Task"] == "toe", "Exams"].tolist() == [28, 28]  # e04 has no toe, e29 nothing
    hand = numbers[numbers["task"] == "hand"]
    assert (hand["rank"] == 1).all() and (hand["acc_pct_mean"] > 70).all()  # accuracy in percent
    assert numbers["acc_pct_mean"].tolist() == pytest.approx((100 * results["acc_mean"]).tolist())
    assert table["Accuracy (%)"].str.fullmatch(r"\d+\.\d±\d+\.\d").all()
    assert table["MCC"].str.fullmatch(r"-?\d\.\d\d±\d\.\d\d").all()
    assert exam_level.best_single_task(results)[0] == "hand"


def test_repeats_pool_folds_and_are_reproducible(data):
    a = exam_level.cross_validate_heads(data, "vector_averaging", "avgpool", config=CONFIG, repeats=2, seed=3)
    b = exam_level.cross_validate_heads(data, "vector_averaging", "avgpool", config=CONFIG, repeats=2, seed=3)
    assert len(a.predictions) == 2 * (N_EXAMS - 1)  # every usable exam predicted once per repeat
    assert a.predictions.groupby("repeat")["exam"].nunique().tolist() == [N_EXAMS - 1] * 2
    pd.testing.assert_frame_equal(a.predictions, b.predictions)
    s = a.scores()
    assert a.summary()["mcc_mean"] == pytest.approx(s["mcc"].mean())
    assert a.summary()["mcc_std"] == pytest.approx(s["mcc"].std(ddof=0))


@pytest.mark.parametrize("slight_vs_severe", [False, True])
def test_tables_viii_ix_and_fig7(fake, slight_vs_severe):
    data = exam_level.load_assembling_data(*fake, slight_vs_severe=slight_vs_severe)
    results, weights, runs = exam_level.assembling_results(data, ("hand", "avgpool"), CONFIG, repeats=2)
    numbers = tables.table_viii_numbers(results)
    table = tables.table_viii(numbers)
    assert list(table["Method"]) == ["single task baseline", "vector averaging", "vector weighting",
                                     "channel-wise attention weighting", "pixel-wise attention weighting"]
    assert list(table["Input"]) == ["avgpool", "avgpool", "avgpool", "layer4", "layer4"]
    assert list(table.columns) == ["Method", "Input", "Tasks", "Exams", "Accuracy (%)", "MCC"]
    assert {"acc_pct_mean", "acc_pct_std", "mcc_mean", "mcc_std"} <= set(numbers.columns)
    assert _finite(numbers) and (numbers["mcc_mean"].abs() <= 1).all() and (numbers["acc_pct_mean"] > 1).all()
    assert numbers["exams"].tolist() == [20 - 1] * 5 if slight_vs_severe else [N_EXAMS - 1] * 5
    summary = exam_level.weight_summary(weights)
    assert list(summary["task"]) == list(TASKS) and (summary["runs"] == 10).all()
    assert summary["mean"].sum() == pytest.approx(1.0)
    fig = plots.fig7_task_weights(summary)
    assert len(fig.axes[0].patches) == 7


def test_exam_scheme_is_passed_to_exam_classes(fake):
    tertiles = exam_level.load_assembling_data(*fake, scheme="tertiles")
    assert np.bincount(tertiles.exams["label"]).tolist() == [10, 10, 10]
    with pytest.raises(ValueError, match="tertiles"):
        exam_level.load_assembling_data(*fake, scheme="quartiles")


def test_task_file_missing_for_one_fold_is_masked_there(fake, tmp_path):
    layout, setting, exams, folds = fake
    copy = Layout("fake", outputs=tmp_path)
    shutil.copytree(layout.dir("features"), copy.dir("features"), dirs_exist_ok=True)
    copy.features(setting, "kinetic", 2).unlink()  # fold 2's kinetic model was not trained
    with pytest.warns(UserWarning, match="kinetic"):
        data = exam_level.load_assembling_data(copy, setting, exams, folds)
    assert data.missing_files == ("kinetic/fold2.npz",)
    kinetic = data.tasks.index("kinetic")
    assert not data.folds[2].mask[:, kinetic].any() and data.folds[1].mask[:, kinetic].sum() == N_EXAMS - 1
    result = exam_level.cross_validate_heads(data, "single_task", "avgpool", ("kinetic",), CONFIG, repeats=1)
    assert sorted(result.predictions["fold"].unique()) == [0, 1, 3, 4]  # fold 2: no kinetic features at all
    assert len(result.predictions) == N_EXAMS - 1 - 6


def test_experiment_saves_the_baseline_as_data_and_every_fitted_head(fake, tmp_path):
    """Notebook 03 writes its baseline for 04 and 05 as data; 04 saves its heads, which reload to the same
    predictions (the explorer shows their weights instead of fitting its own)."""
    layout, setting, exams, folds = fake
    run = Layout("run", outputs=tmp_path)
    shutil.copytree(layout.dir("features"), run.dir("features"), dirs_exist_ok=True)
    exams.to_csv(tmp_path / "exams.csv", index=False)
    (tmp_path / "videos.csv").write_text("video,patient,exam,task,side,score\n")
    run.folds.mkdir(parents=True)
    folds.rename_axis("patient").to_csv(run.folds_csv)
    experiment = exam_level.ExamExperiment(run, setting, head=CONFIG, repeats=2)
    data = exam_level.load_assembling_data(run, setting, exams, folds)
    experiment.__dict__["data"] = data  # the manifest is not needed: its exams are given
    with pytest.raises(FileNotFoundError, match="03_single_task_baseline"):
        _ = experiment.baseline
    results = experiment.single_task()
    assert experiment.baseline == exam_level.best_single_task(results) and experiment.baseline[0] == "hand"
    table, weights = experiment.assemble("assembling")
    saved = SavedHeads.load(run, "assembling", "vector_weighting")
    assert sorted(saved.heads) == [(k, r) for k in range(5) for r in range(2)] and saved.tasks == list(TASKS)
    refit = exam_level.cross_validate_heads(data, "vector_weighting", "avgpool", None, CONFIG, 2, 0, keep_heads=True)
    fd = data.folds[1]
    x, m = torch.from_numpy(fd.avgpool), torch.from_numpy(fd.mask)
    with torch.no_grad():
        torch.testing.assert_close(saved.heads[1, 1](x, m), refit.heads[1, 1](x, m))
        refit_probs = torch.softmax(refit.heads[1, 1](x, m), dim=1).numpy()
    # The path scoring takes: raw features of fold 1's task models, standardised with fold 1's saved statistics.
    mu, sd = fd.stats["avgpool"]
    raw = fd.avgpool * sd.reshape(1, 1, -1) + mu.reshape(1, 1, -1)
    np.testing.assert_allclose(saved.predict(raw, fd.mask, 1)[1], refit_probs, atol=1e-5)
    assert saved.input == "avgpool" and saved.class_names == data.class_names and saved.folds == list(range(5))
    stamp = run.recipe(run.heads("assembling"))
    assert stamp["baseline"] == list(experiment.baseline) and stamp["baseline_unit"] == run.digest(run.baseline_unit)
    assert stamp["feature_units"] == {t: run.digest(run.feature_unit(setting, t)) for t in TASKS}
    # Notebook 03's choice belongs to its features and head recipe: with other features it is refused, by name.
    run.reuse_or_reset(run.feature_unit(setting, "hand"), {"fake": "hand, remade"})
    with pytest.raises(FileNotFoundError, match="for these features and head settings: run notebooks/03"):
        _ = experiment.baseline
    assert run.baseline.is_file()  # reading the choice refused it and removed nothing
