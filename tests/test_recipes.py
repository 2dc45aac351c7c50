"""The one staleness rule across the experiments, without a notebook: a recipe names what it consumed by
identity (the pretrained unit's recipe digest, the folds, the clips), so an upstream change rebuilds exactly
what depends on it; and `pdlib preprocess` fills the cache the notebooks read."""

import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from pdlib import pretraining, task_level
from pdlib.cli import main as cli_main
from pdlib.layout import ClipSpec, Layout
from pdlib.params import load_params
from pdlib.pretraining import ActionData, Pretraining
from pdlib.synth import make_synact, make_synpd
from pdlib.task_level import TaskExperiment
from pdlib.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
SPEC = ClipSpec(4, 16)
ARCH = "r3d10"
OPTIONS = {"widen": 0.125}
SETTINGS = ("i3d_scratch", "i3d_synact")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """SynAct (smoke) and the finger videos of SynPD (smoke): 36 action clips, 12 videos of 6 patients (rendered in
    this process: a pool's workers take longer to start than these few videos to render)."""
    root = tmp_path_factory.mktemp("recipes")
    synact = make_synact(root / "synact", size="smoke", seed=0, progress=False, workers=1)
    synpd = make_synpd(root / "synpd", size="smoke", seed=0, progress=False, tasks=["finger"], workers=1)
    return synact, synpd


@pytest.fixture
def counted(monkeypatch):
    """Counts the models trained (by setting; "pretrained" for notebook 01's) and the feature files written."""
    fits, features = Counter(), Counter()
    fit, extract = task_level.fit, task_level.extract_task_features

    def counting_fit(model, train, val, config):
        unit = Path(config.checkpoint_dir).parent if config.checkpoint_dir else None
        fits["pretrained" if unit is None else unit.parent.name] += 1
        return fit(model, train, val, config)

    def counting_extract(model, clips, path, config):
        features[Path(path).parent.parent.name] += 1
        return extract(model, clips, path, config)

    monkeypatch.setattr(task_level, "fit", counting_fit)
    monkeypatch.setattr(pretraining, "fit", counting_fit)
    monkeypatch.setattr(task_level, "extract_task_features", counting_extract)
    return fits, features


def notebooks_01_02(layout: Layout, synact: Path, pretrain_epochs: int = 1) -> TaskExperiment:
    """What notebooks 01 and 02 do, in small: pretrain on SynAct, cross-validate two settings, extract features."""
    config = TrainConfig(epochs=pretrain_epochs, batch_size=12, progress=False)
    Pretraining(layout, SPEC, config, OPTIONS).run(ActionData("SynAct", synact, "synact"), [ARCH], [1])
    experiment = TaskExperiment(layout, SPEC, TrainConfig(epochs=1, batch_size=12, progress=False), ARCH, OPTIONS)
    for setting in SETTINGS:
        experiment.run_setting(setting, ["finger"])
        experiment.extract_features(setting, ["finger"])
    return experiment


def test_an_upstream_change_rebuilds_exactly_what_consumed_it(data, counted, tmp_path):
    synact, synpd = data
    synpd = Path(shutil.copytree(synpd, tmp_path / "synpd"))  # this test gives the dataset its own folds
    layout = Layout("t", dataset=synpd, outputs=tmp_path / "out")
    fits, features = counted

    experiment = notebooks_01_02(layout, synact)
    folds = {s: len(layout.trained_folds(s, "finger")) for s in SETTINGS}  # folds with a trainable side
    assert folds["i3d_scratch"] == folds["i3d_synact"] >= 3
    assert fits == {"pretrained": 1, **folds} and features == folds
    preds = {s: layout.predictions(s, "finger").read_bytes() for s in SETTINGS}
    stamp = layout.recipe(layout.task_unit("i3d_synact", "finger"))
    assert stamp["pretrained"] == layout.digest(layout.pretrained("synact", ARCH, 1))

    fits.clear(), features.clear()
    notebooks_01_02(layout, synact)  # an unchanged rerun: nothing is rebuilt
    assert fits == {} and features == {}
    assert {s: layout.predictions(s, "finger").read_bytes() for s in SETTINGS} == preds

    notebooks_01_02(layout, synact, pretrain_epochs=2)  # notebook 01 with more epochs
    assert fits == {"pretrained": 1, "i3d_synact": folds["i3d_synact"]}  # scratch did not consume it
    assert features == {"i3d_synact": folds["i3d_synact"]}
    assert layout.recipe(layout.task_unit("i3d_synact", "finger"))["pretrained"] != stamp["pretrained"]
    assert layout.predictions("i3d_scratch", "finger").read_bytes() == preds["i3d_scratch"]

    fits.clear(), features.clear()
    own = experiment.folds.rename("fold").sort_index()
    ((own + 1) % 5).rename_axis("patient").to_csv(synpd / "folds.csv")  # the dataset's own folds, other ones
    notebooks_01_02(layout, synact, pretrain_epochs=2)
    assert "pretrained" not in fits and set(fits) == set(SETTINGS)  # everything downstream of the folds
    assert set(features) == set(SETTINGS)
    assert layout.recipe(layout.task_unit("i3d_scratch", "finger"))["folds"] != stamp["folds"]
    saved = pd.read_csv(layout.predictions("i3d_scratch", "finger"))
    assert (saved["fold"] == saved["patient"].astype(str).map((own + 1) % 5)).all()


def test_the_readme_order_decodes_each_video_once(data, tmp_path, monkeypatch, capsys):
    """`pdlib preprocess DIR --profile P`, then the notebooks of profile P: they read the clips it cached."""
    _, synpd = data
    monkeypatch.setenv("PDLIB_OUTPUTS", str(tmp_path))
    monkeypatch.setenv("PDLIB_ROOT", str(ROOT))
    assert cli_main(["preprocess", str(synpd), "--profile", "smoke", "--workers", "1"]) == 0
    assert "12 videos: 12 cached (12 decoded now)" in capsys.readouterr().out
    spec = ClipSpec.from_params(load_params("smoke"))
    experiment = TaskExperiment(Layout("smoke", dataset=synpd), spec, TrainConfig())
    assert experiment.clips["ok"].all() and not experiment.clips["decoded"].any()
    assert {Path(p).parent for p in experiment.clips["cache"]} == {tmp_path / "smoke" / "cache" / "clips" /
                                                                   f"{spec.tag}_v{_sampler_version()}"}


def _sampler_version() -> int:
    from pdlib.data.video import SAMPLER_VERSION

    return SAMPLER_VERSION
