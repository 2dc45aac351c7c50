"""pdlib.task_level: every Table V setting is either a deep setting (trained, its unit kept) or a refitted one
registered by name (`refitted_setting`), and the registry is what `TaskExperiment.run_setting` calls."""

import pandas as pd

from pdlib import task_level
from pdlib.tasks import SETTINGS


def test_every_setting_is_deep_or_registered_as_refitted():
    deep = {s for s, (_, kind, _) in SETTINGS.items() if kind in ("i3d", "tsa")}
    assert set(task_level.REFITTED) == {"probe", "kinematics"}
    assert deep | set(task_level.REFITTED) == set(SETTINGS) and not deep & set(task_level.REFITTED)


def test_a_refitted_setting_is_one_registered_function(monkeypatch):
    """What adding a setting takes: one function under `@refitted_setting(name)`; run_setting dispatches to it
    without touching the deep settings' training (a stand-in experiment: no dataset is read)."""
    monkeypatch.setitem(SETTINGS, "constant", ("Constant (slight)", "constant", None))
    monkeypatch.setattr(task_level, "REFITTED", dict(task_level.REFITTED))

    @task_level.refitted_setting("constant")
    def _constant(experiment, tasks):
        return task_level.SettingResult("constant", {t: pd.DataFrame({"prob": [0.0], "pred": [0]}) for t in tasks})

    experiment = task_level.TaskExperiment.__new__(task_level.TaskExperiment)
    experiment.kinetics_checkpoint = ""
    result = task_level.TaskExperiment.run_setting(experiment, "constant", ["finger", "toe"])
    assert result.label == "Constant (slight)" and sorted(result.predictions) == ["finger", "toe"]
    assert result.predictions["toe"]["pred"].tolist() == [0]
