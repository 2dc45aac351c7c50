"""Notebooks 00 and 02 on datasets as users bring them: unusable videos among the rest, a PD4T folder with its
official split. Both start from a smoke profile's SynPD data and SynAct-pretrained models (split 1, the one
notebook 02 fine-tunes), made once here in this process by the library calls notebooks 00 and 01 make: not
taken from tests/test_notebooks.py's full smoke run (under pytest-xdist this file runs on the other worker,
beside it), nor made by `pdlib reproduce` of notebooks 00 and 01 (two kernels, ~30 s more; test_notebooks.py
runs those notebooks)."""

import shutil
from pathlib import Path

import pandas as pd
import pytest
from suite_runs import KINEMATICS, ROOT, copy_suite, read_printed, read_table, reproduce

from pdlib.layout import ClipSpec, Layout
from pdlib.params import load_params
from pdlib.pretraining import ActionData, Pretraining, arch_name
from pdlib.synth import make_synact, make_synpd
from pdlib.train import TrainConfig

# What these runs test is reading the folder, not learning: one epoch, small bootstraps.
QUICK = {"epochs": 1, "n_boot": 50, "n_resamples": 49}


@pytest.fixture(scope="module")
def smoke_start(tmp_path_factory) -> Path:
    """The smoke profile's `outputs/smoke` after its first two notebooks: data/synpd and models/pretrained."""
    params = load_params("smoke", ROOT)
    layout = Layout("smoke", outputs=tmp_path_factory.mktemp("smoke_start"))
    make_synpd(layout.synth_dir("synpd"), size=params["synpd_size"], seed=params["seed"], progress=False)
    synact = make_synact(layout.synth_dir("synact"), size=params["synact_size"], seed=params["seed"], progress=False)
    config = TrainConfig(epochs=params["pretrain_epochs"], batch_size=params["pretrain_batch_size"],
                         lr=params["pretrain_lr"], weight_decay=params["pretrain_weight_decay"], seed=params["seed"],
                         progress=False)
    pretraining = Pretraining(layout, ClipSpec(params["pretrain_frames"], params["pretrain_size"]), config,
                              {"widen": params["widen"], "frame_diff": params["frame_diff"]})
    pretraining.run(ActionData("SynAct", synact, "synact"),
                    [arch_name(params["pretrain_depth"], kind) for kind in ("i3d", "tsa")], [1])
    return layout.base


@pytest.mark.slow
def test_every_notebook_runs_on_a_dataset_with_unusable_videos(smoke_start, tmp_path):
    """Defect: one unusable video stopped notebook 00. Now notebooks 00 and 02 run on the rest, list the
    unusable videos with their reason and count them in the tables. (Notebook 01's models are the
    session's; 00 reads every task, 02 runs finger, the task that holds three of the four unusable videos: the
    other tasks would only repeat the smoke run's; 03-06 read only 02's outputs, in which the unusable videos
    are rows without prediction: the examination level's masking of a missing task is
    tests/test_exam_level.py's.)"""
    data = shutil.copytree(smoke_start / "data" / "synpd", tmp_path / "mine")
    videos = pd.read_csv(data / "videos.csv", dtype=str, keep_default_na=False)
    finger = videos.index[videos["task"] == "finger"]
    half = data / videos.loc[finger[0], "video"]
    half.write_bytes(half.read_bytes()[: half.stat().st_size // 2])  # truncated before its index (moov)
    (data / videos.loc[finger[1], "video"]).write_text("not a video\n" * 10)
    (data / videos.loc[finger[2], "video"]).unlink()
    videos.loc[videos.index[videos["task"] == "hand"][0], "video"] = "videos"  # a directory
    videos.to_csv(data / "videos.csv", index=False)
    params = load_params("smoke", ROOT) | {"profile": "mine", "dataset": str(data), "tasks": ["finger"],
                                           "transfer_tasks": ["finger"], **QUICK}
    root = copy_suite(tmp_path / "suite", "mine", params)
    shutil.copytree(smoke_start / "models" / "pretrained", tmp_path / "out" / "mine" / "models" / "pretrained")
    res = reproduce(root, tmp_path / "out", "--profile", "mine", "--only", "00_dataset", "02_task_level")
    assert res.returncode == 0, res.stderr[-4000:]
    out = tmp_path / "out" / "mine"
    unusable = read_table(out, "unusable_videos")
    assert unusable["row"].tolist() == [finger[0] + 2, videos.index[videos["task"] == "hand"][0] + 2,
                                        finger[1] + 2, finger[2] + 2]
    assert unusable["reason"].tolist() == [
        "cannot open as a video container (Invalid data found when processing input)",
        "a directory, not a video file",
        "cannot open as a video container (Invalid data found when processing input)", "missing file"]
    t4 = read_table(out, "table_iv_class_counts").set_index("task")
    assert t4.loc["finger", "unusable"] == 3 and t4.loc["hand", "unusable"] == 1 and t4["unusable"].sum() == 4
    assert t4.loc["finger", "total"] == (videos["task"] == "finger").sum() - 3
    numeric = read_table(out, "table_v_task_level").dropna(subset=["task"]).set_index(["setting", "task"])
    assert numeric.loc[("TSA (SynAct)", "finger"), "left_out"] == 3
    assert numeric.loc[("TSA (SynAct)", "finger"), "n"] == t4.loc["finger", "total"]
    t5 = read_printed(out, "table_v_task_level").set_index("task")
    assert t5.loc["finger", "n"] == f"{t4.loc['finger', 'total']} (+3 left out)"  # the same videos in every setting
    preds = pd.read_csv(out / "predictions" / "tsa_synact" / "finger.csv", keep_default_na=False)
    assert preds["note"].str.startswith("unusable video: ").sum() == 3


def _pd4t_from_synpd(synpd: Path, dest: Path, tasks=("finger", "hand", "leg")) -> Path:
    """A PD4T-shaped folder (Annotations/<Task>/{train,test}.csv headerless, Videos/<Task>/<side>/<visit>_<id>.mp4)
    made of SynPD's videos and their true keypoints; every third patient in the test split."""
    videos = pd.read_csv(synpd / "videos.csv", dtype=str)
    patients = sorted(videos["patient"].unique())
    test = set(patients[::3])
    for task in tasks:
        folder = {"finger": "Finger tapping", "hand": "Hand movement", "leg": "Leg agility"}[task]
        rows = {"train": [], "test": []}
        for v in videos[videos["task"] == task].itertuples():
            visit, side = v.exam.replace("_", "-"), v.side.lower()
            target = dest / "Videos" / folder / side / f"{visit}_{v.patient}.mp4"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(synpd / v.video, target)
            shutil.copy((synpd / v.video).with_suffix(".keypoints.npz"), target.with_suffix(".keypoints.npz"))
            rows["test" if v.patient in test else "train"].append(f"{visit}_{side}_{v.patient},75,{v.score}")
        (dest / "Annotations" / folder).mkdir(parents=True)
        for split, lines in rows.items():
            (dest / "Annotations" / folder / f"{split}.csv").write_text("\n".join(lines) + "\n")
    return dest


@pytest.mark.slow
def test_notebooks_00_and_02_run_on_a_pd4t_folder_with_its_official_split(smoke_start, tmp_path):
    data = _pd4t_from_synpd(smoke_start / "data" / "synpd", tmp_path / "PD4T", tasks=("finger", "leg"))
    tasks = ["finger"]  # leg's folder is read by notebook 00 (its annotations' names differ), trained by none
    params = load_params("smoke", ROOT) | {"profile": "pd4t", "dataset": str(data), "dataset_format": "pd4t",
                                           "tasks": tasks, "transfer_tasks": ["finger"], **QUICK}
    root = copy_suite(tmp_path / "suite", "pd4t", params)
    shutil.copytree(smoke_start / "models" / "pretrained", tmp_path / "out" / "pd4t" / "models" / "pretrained")
    res = reproduce(root, tmp_path / "out", "--profile", "pd4t", "--only", "00_dataset", "02_task_level")
    assert res.returncode == 0, res.stderr[-4000:]
    out = tmp_path / "out" / "pd4t"
    assert not (out / "tables" / "table_vi_clinical.csv").exists()  # PD4T has no totals
    t5 = read_printed(out, "table_v_task_level")
    assert list(t5["task"]) == [*tasks, "average"]
    agreement = read_printed(out, "table_v_agreement")
    assert f"{KINEMATICS} Spearman ρ [95% CI]" in agreement.columns and f"{KINEMATICS} κ" in agreement.columns
    assert "TSA (SynAct) Spearman ρ [95% CI]" in agreement.columns and f"{KINEMATICS} MAE" in agreement.columns
    numeric = read_table(out, "table_v_task_level").dropna(subset=["task"]).set_index(["setting", "task"])
    finger_test = len(pd.read_csv(data / "Annotations" / "Finger tapping" / "test.csv", header=None))
    assert numeric.loc[("TSA (SynAct)", "finger"), "n"] == finger_test  # scored: the test split only
    assert numeric["spearman"].dropna().between(-1, 1).all()
    assert numeric.xs("TSA (SynAct)")["n"].sum() == finger_test
    assert numeric.loc[(KINEMATICS, "finger"), "spearman"] > 0  # true keypoints rank the severity
    assert [p.name for p in (out / "models" / "tsa_synact" / "finger").glob("fold*.safetensors")] == [
        "fold0.safetensors"]  # one model per setting and task: trained on the official training split
