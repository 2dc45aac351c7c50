"""Tests of pdlib.tables: every printed number sits beside the interval of the same estimator, one unit per
quantity (accuracy in percent everywhere, said in the header), captions say what was compared on how many
patients or examinations, and a note is written once (issue 26)."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import accuracy_score, cohen_kappa_score, matthews_corrcoef, precision_score, recall_score

from pdlib import baselines, metrics, tables, task_level
from pdlib.task_level import SettingResult
from pdlib.tasks import PREDICTION_COLUMNS, SETTINGS

NOTE = "not run: no Kinetics checkpoint named in params (kinetics_checkpoint)"
STATS = {"n_boot": 200, "n_resamples": 199, "seed": 0}


def oof(n_patients=30, per_patient=4, acc=0.8, seed=0, task="finger", folds=5):
    """Out-of-fold predictions of one task with a patient effect, and folds whose MCCs differ from the pooled."""
    rng = np.random.default_rng(seed)
    patient = np.repeat([f"p{i}" for i in range(n_patients)], per_patient)
    label = np.repeat(rng.integers(0, 2, n_patients), per_patient)
    prob = np.clip(np.where(label == 1, 0.7, 0.3) + rng.normal(0, 0.25, len(label)), 0, 1)
    pred = np.where(rng.random(len(label)) < acc, label, 1 - label)
    score = np.where(label == 1, rng.integers(2, 5, len(label)), rng.integers(0, 2, len(label)))  # the rater's 0-4
    return pd.DataFrame({"video": [f"{task}{i}" for i in range(len(label))], "patient": patient, "task": task,
                         "label": label, "score": score, "pred": pred, "prob": prob,
                         "fold": np.repeat(np.arange(n_patients) % folds, per_patient)})


@pytest.fixture(scope="module")
def results():
    tasks = ("finger", "hand", "toe")
    return {"i3d_synact": SettingResult("i3d_synact", {t: oof(seed=i, task=t) for i, t in enumerate(tasks)}),
            "i3d_kinetics": SettingResult("i3d_kinetics", {}, NOTE),
            "tsa_synact": SettingResult("tsa_synact", {t: oof(acc=0.65, seed=10 + i, task=t)
                                                        for i, t in enumerate(tasks)})}


@pytest.fixture(scope="module")
def numbers(results):
    ceiling = pd.DataFrame({"task": ["finger", "hand", "toe"], "oracle_mcc": [0.7, 0.71, 0.69]})
    return tables.task_numbers(results, ceiling, **STATS)


def test_task_numbers_hold_the_pooled_estimator_and_its_ci(results, numbers):
    ran = numbers[numbers["task"].notna()]
    assert list(ran.columns[:len(tables.TASK_NUMERIC)]) == [c for c in tables.TASK_NUMERIC]
    for row in ran.itertuples():
        df = results[{"I3D (SynAct)": "i3d_synact", "TSA (SynAct)": "tsa_synact"}[row.setting]].predictions[row.task]
        # the primary number: one confusion matrix over every fold
        assert row.mcc == pytest.approx(matthews_corrcoef(df["label"], df["pred"]))
        assert row.acc_pct == pytest.approx(100 * accuracy_score(df["label"], df["pred"]))  # percent
        assert row.precision == pytest.approx(precision_score(df["label"], df["pred"]))
        assert row.recall == pytest.approx(recall_score(df["label"], df["pred"]))
        # its CI and p-value are of that same pooled MCC
        lo, hi = metrics.mcc_ci(df["label"], df["pred"], df["patient"], n_boot=200, seed=0)
        assert (row.ci_lo, row.ci_hi) == pytest.approx((lo, hi)) and lo <= row.mcc <= hi
        assert row.p_value == pytest.approx(metrics.permutation_pvalue(df["label"], df["pred"], 199, seed=0))
        # the study's fold mean ± std, in columns of its own
        assert (row.mcc_fold_mean, row.mcc_fold_std) == pytest.approx(metrics.fold_mean_std(df))
        assert row.acc_pct_fold_mean == pytest.approx(
            100 * np.mean([accuracy_score(g["label"], g["pred"]) for _, g in df.groupby("fold")]))
        assert (row.n, row.left_out, row.patients, row.folds) == (120, 0, 30, 5)
        assert row.of_ceiling == pytest.approx(row.mcc / row.oracle_mcc)
        # agreement with the rater: no item score predicted, so rho of P(severe); no MAE, no kappa
        assert row.spearman == pytest.approx(spearmanr(df["prob"], df["score"]).statistic)
        assert row.spearman_lo < row.spearman < row.spearman_hi and row.n_scored == 120
        assert np.isnan(row.mae) and np.isnan(row.qwk)
    assert not np.allclose(ran["mcc"], ran["mcc_fold_mean"])  # the two estimators are told apart
    assert numbers.loc[numbers["task"].isna(), ["setting", "note"]].values.tolist() == [["I3D (Kinetics)", NOTE]]


def test_table_iii_prints_the_pooled_mcc_beside_its_ci_and_the_fold_mean_apart(numbers):
    t = tables.table_iii(numbers)
    assert list(t.columns) == ["Method", "Metric", "finger", "hand", "toe"]
    assert list(t["Method"].unique()) == ["I3D (SynAct)", "TSA (SynAct)"]  # no row for the setting not run
    assert list(t.loc[t["Method"] == "I3D (SynAct)", "Metric"]) == [
        "n", "acc (%)", "precision", "recall", "MCC", "MCC 95% CI", "MCC p-value", "MCC fold mean±sd",
        "MCC / oracle MCC", "Spearman ρ", "Spearman ρ 95% CI", "MAE", "κ (quadratic)"]
    row = numbers[(numbers["setting"] == "TSA (SynAct)") & (numbers["task"] == "hand")].iloc[0]
    cell = t[t["Method"] == "TSA (SynAct)"].set_index("Metric")["hand"]
    assert cell["MCC"] == f"{row['mcc']:.2f}"
    assert cell["MCC 95% CI"] == f"[{row['ci_lo']:.2f}, {row['ci_hi']:.2f}]"
    assert cell["acc (%)"] == f"{row['acc_pct']:.1f}" and 50 < float(cell["acc (%)"]) <= 100
    assert cell["MCC fold mean±sd"] == f"{row['mcc_fold_mean']:.2f}±{row['mcc_fold_std']:.2f}"
    assert cell["Spearman ρ"] == f"{row['spearman']:.2f}" and cell["MAE"] == cell["κ (quadratic)"] == "-"
    assert cell["Spearman ρ 95% CI"] == f"[{row['spearman_lo']:.2f}, {row['spearman_hi']:.2f}]"
    assert not t.isin([NOTE]).any(axis=None)


def test_table_v_is_pivoted_to_mcc_and_ci_and_its_caption_says_the_rest_once(numbers):
    t = tables.table_v(numbers)
    assert list(t.columns) == ["task", "n", "I3D (SynAct) MCC [95% CI]", "TSA (SynAct) MCC [95% CI]",
                               "SynPD oracle MCC"]  # both settings saw the same videos: one n
    assert list(t["task"]) == ["finger", "hand", "toe", "average"]
    t = t.set_index("task")
    ran = numbers[numbers["task"].notna()]
    i3d = ran[ran["setting"] == "I3D (SynAct)"].set_index("task")
    assert t.loc["hand", "I3D (SynAct) MCC [95% CI]"] == (
        f"{i3d.loc['hand', 'mcc']:.2f} [{i3d.loc['hand', 'ci_lo']:.2f}, {i3d.loc['hand', 'ci_hi']:.2f}]")
    assert t.loc["average", "I3D (SynAct) MCC [95% CI]"] == f"{i3d['mcc'].mean():.2f}±{i3d['mcc'].std():.2f}"
    assert t.loc["finger", "n"] == "120" and t.loc["average", "n"] == "-"
    assert len(t.columns) <= 8  # fits a page
    caption = tables.task_caption("Table V: ...", numbers, pivoted=True, details="tables/x", **STATS)
    assert caption.count(NOTE.removeprefix("not run: ")) == 1 and "Not run: I3D (Kinetics)" in caption
    assert "same 120 videos of 30 patients" in caption and "5-fold" in caption and "200 resamples" in caption
    assert "pooled MCC [95% CI]" in caption and "tables/x" in caption
    long = tables.task_caption("Table III: ...", numbers, **STATS)
    assert "fold mean±sd" in long and "199 permutations" in long and "not the number the CI is of" in long
    assert "Spearman ρ: rank correlation" in long and "its P(severe), and the rater's item score" in long
    assert "official split" not in long and "official split" in tables.task_caption(
        "Table V", numbers.assign(folds=1), **STATS)  # PD4T: one held-out side


def test_left_out_videos_and_unequal_counts_are_said(results):
    res = dict(results)
    preds = {t: p.astype({"pred": "Int64"}) for t, p in results["tsa_synact"].predictions.items()}
    preds["finger"].loc[preds["finger"].index[:3], "pred"] = pd.NA
    res["tsa_synact"] = SettingResult("tsa_synact", preds)
    with pytest.warns(UserWarning, match="without prediction"):
        numbers = tables.task_numbers(res, **STATS)
    t = tables.table_v(numbers).set_index("task")
    assert t.loc["finger", "TSA (SynAct) n"] == "117 (+3 left out)" and t.loc["finger", "I3D (SynAct) n"] == "120"
    assert "n per setting in the table" in tables.task_caption("Table V", numbers, pivoted=True, **STATS)
    assert "SynPD oracle MCC" not in t.columns


def kinematics_cv(tmp_path, n_patients=26, per_patient=3, seed=0, scores=None):
    """The kinematics setting's rows from `cross_validate_setting` with the ordinal model, on simulated features
    (three of six follow the rater's score) of a stand-in dataset (meta, labels, skipped) and layout."""
    rng = np.random.default_rng(seed)
    patient = np.repeat([f"p{i}" for i in range(n_patients)], per_patient)
    latent = np.repeat(rng.normal(0, 1, n_patients), per_patient) + rng.normal(0, 0.5, len(patient))
    score = np.digitize(latent, [-1.0, -0.2, 0.6, 1.4]) if scores is None else scores
    x = rng.normal(size=(len(patient), 6))
    x[:, :3] += np.outer(latent, [1.0, -1.0, 1.0])
    meta = pd.DataFrame({"video": [f"v{i}" for i in range(len(patient))], "patient": patient, "exam": patient,
                         "task": "finger", "side": "R", "score": score, "label": (score >= 2).astype(int)})
    dataset = SimpleNamespace(meta=meta, labels=meta["label"].to_numpy(copy=True), skipped=None)
    folds = pd.Series(np.arange(n_patients) % 5, index=[f"p{i}" for i in range(n_patients)])
    layout = SimpleNamespace(predictions=lambda setting, task: tmp_path / setting / f"{task}.csv")
    scores = meta["score"].to_numpy(float)
    return task_level.cross_validate_setting(dataset, folds, layout, "kinematics", "finger",
                                             task_level._ordinal_fold(x, scores))


def test_kinematics_rows_carry_the_item_score_model_and_the_agreement_reads_them(tmp_path, results):
    preds = kinematics_cv(tmp_path)
    assert list(preds.columns[:len(PREDICTION_COLUMNS)]) == PREDICTION_COLUMNS
    assert {"score", *baselines.ITEM_SCORE_COLUMNS} <= set(preds.columns) and preds["pred"].notna().all()
    probs = preds[baselines.PROB_SCORE_COLUMNS].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1)
    np.testing.assert_allclose(preds["prob"], probs[:, 2:].sum(axis=1))  # P(severe) = P(score >= 2)
    assert preds.equals(pd.read_csv(tmp_path / "kinematics" / "finger.csv", keep_default_na=False).astype(
        preds.dtypes.to_dict()))  # written as returned
    res = dict(results) | {"kinematics": SettingResult("kinematics", {"finger": preds})}
    numbers = tables.task_numbers(res, **STATS)
    row = numbers[numbers["setting"] == SETTINGS["kinematics"][0]].iloc[0]
    assert row["spearman"] == pytest.approx(spearmanr(preds["score_expected"], preds["score"]).statistic)
    assert row["spearman"] > 0.4 and row["mae"] == pytest.approx(np.mean(np.abs(preds["score_pred"] - preds["score"])))
    assert row["qwk"] == pytest.approx(cohen_kappa_score(preds["score"], preds["score_pred"].astype(int),
                                                         weights="quadratic", labels=[0, 1, 2, 3, 4]))
    t = tables.table_v_agreement(numbers).set_index("task")
    k = SETTINGS["kinematics"][0]
    assert list(t.columns) == ["I3D (SynAct) n", "I3D (SynAct) Spearman ρ [95% CI]", "TSA (SynAct) n",
                               "TSA (SynAct) Spearman ρ [95% CI]", f"{k} n", f"{k} Spearman ρ [95% CI]", f"{k} MAE",
                               f"{k} κ"]  # MAE and kappa: the setting that predicts an item score
    assert t.loc["finger", f"{k} Spearman ρ [95% CI]"] == (
        f"{row['spearman']:.2f} [{row['spearman_lo']:.2f}, {row['spearman_hi']:.2f}]")
    assert t.loc["finger", f"{k} MAE"] == f"{row['mae']:.2f}" == t.loc["average", f"{k} MAE"]  # one task
    assert t.loc["hand", f"{k} κ"] == "-" and t.loc["hand", f"{k} n"] == "-"
    assert list(tables.table_v(numbers).columns).count(f"{k} MCC [95% CI]") == 1  # Table V: MCCs only
    caption = tables.agreement_caption("Table V: agreement", numbers, **STATS)
    assert "true joints: an ideal tracker" in caption and "quadratic weights over the scores 0-4" in caption
    assert "median of the ordinal model's predictive distribution" in caption and "200 resamples" in caption
    assert caption.count("Not run: I3D (Kinetics)") == 1


def test_a_fold_with_one_training_score_is_said_and_its_videos_left_out(tmp_path):
    fold = np.repeat(np.arange(26) % 5, 3)  # kinematics_cv's folds per video
    preds = kinematics_cv(tmp_path, scores=np.where(fold == 0, np.arange(78) % 5, 1))
    # every video outside fold 0 scored 1: fold 0's training side has one level, the others all five
    held = preds[preds["fold"] == 0]
    assert held["pred"].isna().all() and (held["note"] == "fold 0 not fitted: the training side has one item "
                                                              "score (1)").all()
    assert preds.loc[preds["fold"] != 0, "pred"].notna().all()


def test_old_prediction_files_without_scores_give_empty_agreement(results):
    old = {name: SettingResult(r.setting, {t: p.drop(columns="score") for t, p in r.predictions.items()}, r.note)
           for name, r in results.items()}
    numbers = tables.task_numbers(old, **STATS)
    ran = numbers[numbers["task"].notna()]
    assert (ran["n_scored"] == 0).all() and ran[["spearman", "spearman_lo", "mae", "qwk"]].isna().all(axis=None)
    assert ran["mcc"].notna().all()  # the rest as before
    t = tables.table_v_agreement(numbers)
    assert (t["I3D (SynAct) Spearman ρ [95% CI]"] == "-").all()
    details = tables.table_iii(numbers).set_index(["Method", "Metric"])
    assert (details.loc[("TSA (SynAct)", "Spearman ρ 95% CI")] == "-").all()


def test_table_ii_in_percent_and_its_missing_datasets_named_once():
    results = pd.DataFrame({"dataset": "SynAct", "method": ["I3D ResNet-18"] * 3 + ["TSA ResNet-18"] * 3,
                            "split": [1, 2, 3] * 2, "test": 12, "top1": [25.0, 50.0, 75.0, 10.0, 20.0, 30.0]})
    numbers = tables.table_ii_numbers(results)
    assert list(numbers.columns) == ["dataset", "method", "top1_pct_mean", "top1_pct_std", "splits"]
    assert numbers["top1_pct_mean"].tolist() == [50.0, 20.0]
    t = tables.table_ii(results)
    assert list(t.columns) == ["Method (scratch)", "SynAct top-1 (%)"]
    assert t["SynAct top-1 (%)"].tolist() == ["50.0 ± 25.0", "20.0 ± 10.0"]
    caption = tables.table_ii_caption(results)
    assert "Not run: UCF-101, HMDB-51" in caption and "3 splits of 12 test clips" in caption


def _exam_results():
    return pd.DataFrame({"method": ["single_task", "vector_averaging", "pixel_attention"],
                         "input": ["avgpool", "avgpool", "layer4"], "tasks": ["hand", "finger, hand", "finger, hand"],
                         "exams": [11, 18, 18], "acc_mean": [0.125, 0.5, 0.6], "acc_std": [0.0, 0.05, 0.1],
                         "mcc_mean": [0.1, 0.2, 0.3], "mcc_std": [0.01, 0.02, 0.03]})


def test_examination_tables_in_percent_with_counts_in_the_caption(tmp_path):
    results = _exam_results()
    exams = pd.DataFrame({"exam": [f"e{i}" for i in range(18)], "patient": [f"p{i // 3}" for i in range(18)]})
    preds = {"single_task": pd.DataFrame({"exam": [f"e{i}" for i in range(11)]}),
             "vector_averaging": pd.DataFrame({"exam": [f"e{i}" for i in range(18)] * 2})}
    preds["pixel_attention"] = tmp_path / "p.csv"
    preds["vector_averaging"].to_csv(preds["pixel_attention"], index=False)
    numbers = tables.table_viii_numbers(results, exams, preds)
    assert list(numbers.columns) == ["method", "input", "tasks", "exams", "patients", "acc_pct_mean", "acc_pct_std",
                                     "mcc_mean", "mcc_std"]
    assert numbers["acc_pct_mean"].tolist() == pytest.approx([12.5, 50.0, 60.0])  # percent, as in Tables III, V
    assert numbers["patients"].tolist() == [4, 6, 6]
    t = tables.table_viii(numbers)
    assert list(t.columns) == ["Method", "Input", "Tasks", "Exams", "Patients", "Accuracy (%)", "MCC"]
    assert t["Accuracy (%)"].tolist() == ["12.5±0.0", "50.0±5.0", "60.0±10.0"]  # one unit: no fraction printed
    assert t["MCC"].tolist() == ["0.10±0.01", "0.20±0.02", "0.30±0.03"]
    caption = tables.table_viii_caption("Table VIII: x", numbers, repeats=20)
    assert "baseline (hand, avgpool) on the 11 examinations of 4 patients" in caption
    assert "assembling methods (all tasks) on 18 examinations of 6 patients" in caption
    assert "mean ± sd (ddof 0) over 20 repeats" in caption and "not a confidence interval" in caption


def test_table_vii_in_percent():
    results = pd.DataFrame({"task": ["finger", "finger", "hand", "hand"], "input": ["avgpool", "layer4"] * 2,
                            "exams": [8, 8, 10, 10], "acc_mean": [0.125, 0.25, 0.5, 0.6], "acc_std": [0.0] * 4,
                            "mcc_mean": [-0.7, -0.5, 0.2, 0.3], "mcc_std": [0.0] * 4})
    numbers = tables.table_vii_numbers(results)
    assert list(numbers.columns) == ["task", "input", "exams", "acc_pct_mean", "acc_pct_std", "mcc_mean", "mcc_std",
                                     "rank"]
    t = tables.table_vii(numbers)
    assert list(t.columns) == ["Task", "Input", "Exams", "Accuracy (%)", "MCC", "Rank"]
    assert t["Accuracy (%)"].tolist() == ["12.5±0.0", "25.0±0.0", "50.0±0.0", "60.0±0.0"]
    assert t["Rank"].tolist() == [2, 2, 1, 1]
    exams = pd.DataFrame({"exam": ["a", "b", "c"], "patient": ["p", "p", "q"]})
    caption = tables.table_vii_caption(numbers, exams, 2, ("slight", "moderate", "severe"))
    assert "3 examinations of 2 patients" in caption and "3 classes" in caption and "over 2 repeats" in caption


def test_table_vi_units_and_conditions_explained():
    numbers = pd.DataFrame({"class": ["slight", "total"], "score_mean": [19.0, 30.0], "score_sd": [3.0, 10.0],
                            "patients": [3, 4], "age_mean": [60.0, 61.0], "age_sd": [5.0, 6.0], "male": [2, 3],
                            "female": [1, 1], "videos_all": [10, 20], "videos_L-OFF": [0, 5], "videos_A": [4, 8],
                            "videos_X": [1, 1]})
    t = tables.table_vi(numbers)
    assert list(t.columns) == ["class", "score", "patients", "age (years)", "male/female", "videos all",
                               "videos L-OFF", "videos A", "videos X"]
    caption = tables.table_vi_caption(numbers)
    assert "L-OFF: levodopa challenge test, OFF medication" in caption
    assert "A: medication OFF, stimulation ON" in caption and "4 patients in total" in caption
    assert "years" in caption and "X:" not in caption


def test_ceiling_table_explains_its_columns():
    raw = pd.DataFrame({"task": ["finger"], "videos_here": [12], "oracle_mcc": [0.7], "oracle_accuracy": [0.852],
                        "rater_noise_sd": [0.4], "class1_share": [0.573], "n_videos": [198000]})
    t = tables.ceiling_table(raw)
    assert list(t.columns) == ["task", "oracle_mcc", "oracle_acc_pct", "class_1_pct", "rater_noise_sd",
                               "videos_in_dataset", "simulated_videos"]
    assert t.loc[0, "oracle_acc_pct"] == pytest.approx(85.2) and t.loc[0, "class_1_pct"] == pytest.approx(57.3)
    for col in t.columns[1:]:
        assert col in tables.CEILING_CAPTION or col.startswith("oracle_")
