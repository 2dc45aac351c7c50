"""pdlib.layout: the artefact paths of a run and the staleness rule (a read-only check, then a reset)."""

from pathlib import Path

from pdlib.layout import Layout, recipe_text
from pdlib.paths import WEIGHTS_SUFFIX


def test_is_current_only_reads_and_reset_clears_the_unit_and_what_was_derived(tmp_path):
    layout = Layout("p", outputs=tmp_path)
    unit = layout.task_unit("tsa_synact", "finger")
    derived = layout.predictions("tsa_synact", "finger")
    assert not layout.is_current(unit, {"epochs": 6}) and not unit.exists()  # a check creates nothing

    assert layout.reuse_or_reset(unit, {"epochs": 6}, derived=[derived]) is False  # new: stamped, to build
    assert (unit / "recipe.json").read_text() == recipe_text({"epochs": 6})
    (unit / "fold0.json").write_text("{}")
    derived.parent.mkdir(parents=True)
    derived.write_text("video,prob\n")
    assert layout.is_current(unit, {"epochs": 6}) and layout.reuse_or_reset(unit, {"epochs": 6}, [derived])
    assert (unit / "fold0.json").is_file() and derived.is_file()  # current: reused as it is

    assert not layout.is_current(unit, {"epochs": 8}) and (unit / "fold0.json").is_file()  # stale, untouched
    assert layout.reuse_or_reset(unit, {"epochs": 8}, [derived]) is False
    assert not (unit / "fold0.json").exists() and not derived.exists()  # the unit and its predictions cleared
    assert layout.recipe(unit) == {"epochs": 8} and len(layout.digest(unit)) > 8


def test_every_artefact_path_is_under_the_profile(tmp_path):
    layout = Layout("mine", outputs=tmp_path)
    base = tmp_path.resolve() / "mine"
    paths = [layout.cache_dir, layout.folds_csv, layout.pretrained_history("synact", "r3d18", 1),
             layout.pretrained_model("synact", "r3d18", 1), layout.fold_model("probe", "hand", 2),
             layout.fold_history("probe", "hand", 2), layout.features("tsa_synact", "toe", 0),
             layout.head_file("assembling", "vector_weighting"), layout.head_standardisation("assembling"),
             layout.table("t"), layout.figure("f"), layout.dir("scores"), layout.runs_json, layout.index_md]
    assert all(Path(p).resolve().is_relative_to(base) for p in paths), paths
    assert layout.pretrained_history("synact", "r3d18", 1).parent == layout.pretrained("synact", "r3d18", 1)
    model = layout.fold_model("probe", "hand", 2)
    assert layout.weights(model) == model.parent / f"fold2{WEIGHTS_SUFFIX}" and not layout.saved(model)
    layout.weights(model).parent.mkdir(parents=True)
    layout.weights(model).write_bytes(b"")
    assert layout.saved(model) and layout.trained_folds("probe", "hand") == [2]
