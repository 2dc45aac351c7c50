"""Notebook hygiene, and the whole suite executed on the smoke profile with checks on what each produced.

A notebook without an entry in EXPECTED fails `test_every_notebook_is_tested`: every notebook is run
by `pdlib reproduce --profile smoke` here and its tables and figures are asserted on.
"""

import ast
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# notebook -> (tables, figures) it must write on the smoke profile
EXPECTED: dict[str, tuple[list[str], list[str]]] = {
    "00_dataset": (["table_iv_class_counts", "table_vi_clinical"], []),
    "01_pretraining": (["table_ii_pretraining"], []),
    "02_task_level": (["table_iii_transfer", "table_v_task_level"], ["fig5_roc_transfer", "fig6_roc_tasks"]),
    "03_single_task_baseline": (["table_vii_single_task"], []),
    "04_assembling": (["table_viii_assembling"], ["fig7_vector_weights"]),
    "05_slight_vs_severe": (["table_ix_slight_vs_severe"], []),
    "attention_explorer": ([], []),
}


def _cells(path: Path):
    return nbformat.read(path, as_version=4).cells


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_parameters_cell_of_flat_literals(path):
    tagged = [c for c in _cells(path) if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters', expected 1"
    for node in ast.parse(tagged[0].source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name), \
            f"{path.name}: parameters cell holds a statement that is not `name = literal`"
        ast.literal_eval(node.value)  # raises on anything but a flat literal


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_def_class_or_outputs(path):
    for i, cell in enumerate(_cells(path)):
        if cell.cell_type != "code":
            continue
        src = "\n".join(l for l in cell.source.splitlines() if not l.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(src)):
            assert not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda), \
                f"{path.name} cell {i}: defines {type(node).__name__}; logic with a name belongs in pdlib"
        assert cell.outputs == [] and cell.execution_count is None, f"{path.name} cell {i}: committed outputs"


def test_every_params_key_is_declared_by_a_notebook():
    import papermill

    declared = set().union(*(papermill.inspect_notebook(str(p)).keys() for p in NOTEBOOKS))
    for profile in ("smoke", "default", "paper"):
        keys = set(yaml.safe_load((ROOT / "params" / f"{profile}.yaml").read_text()))
        assert keys <= declared, f"params/{profile}.yaml keys declared by no notebook: {keys - declared}"


def test_every_notebook_is_tested():
    assert {p.stem for p in NOTEBOOKS} == set(EXPECTED)


@pytest.fixture(scope="module")
def smoke_outputs(tmp_path_factory):
    """Runs `pdlib reproduce --profile smoke` once, writing into a temporary outputs folder."""
    out = tmp_path_factory.mktemp("outputs")
    env = {**os.environ, "PDLIB_OUTPUTS": str(out), "PDLIB_ROOT": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "pdlib.cli", "reproduce", "--profile", "smoke"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, f"reproduce failed:\n{res.stderr[-4000:]}"
    return out / "smoke"


@pytest.mark.slow
def test_smoke_reproduce_runs_every_notebook_and_writes_index(smoke_outputs):
    runs = json.loads((smoke_outputs / "runs.json").read_text())
    assert set(runs) == {p.stem for p in NOTEBOOKS}
    assert all(r["status"] == "ok" for r in runs.values())
    index = (smoke_outputs / "index.md").read_text()
    for tables, figures in EXPECTED.values():
        for name in tables + figures:
            assert name in index


@pytest.mark.slow
@pytest.mark.parametrize("notebook", sorted(EXPECTED))
def test_notebook_outputs_exist_and_are_finite(smoke_outputs, notebook):
    assert (smoke_outputs / "notebooks" / f"{notebook}.ipynb").is_file()
    tables, figures = EXPECTED[notebook]
    for name in tables:
        df = pd.read_csv(smoke_outputs / "tables" / f"{name}.csv")
        assert len(df) > 0, name
        numeric = df.select_dtypes("number").to_numpy().ravel()
        assert all(math.isfinite(v) for v in numeric if not pd.isna(v)), name
        for ext in ("md", "tex", "json"):
            assert (smoke_outputs / "tables" / f"{name}.{ext}").is_file()
    for name in figures:
        assert (smoke_outputs / "figures" / f"{name}.png").stat().st_size > 1000
        assert (smoke_outputs / "figures" / f"{name}.pdf").is_file()
