"""The install contract (pyproject vs environment.yml), the runner's errors and the output helpers."""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
import yaml

from pdlib import outputs, run
from pdlib.layout import Layout
from pdlib.params import ReproduceError, load_params, profiles

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {"pytorch": "torch"}


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_names_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pypi = {_name(r) for r in project["dependencies"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {CONDA_TO_PYPI.get(_name(d), _name(d)) for d in env["dependencies"] if isinstance(d, str)}
    conda -= {"python", "pip"}
    assert conda == pypi
    pip_entries = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert any(".[dev]" in e for e in pip_entries)
    assert project["scripts"]["pdlib"] == "pdlib.cli:main"


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "pdlib.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)


def test_unknown_profile_is_a_short_error():
    """A fresh interpreter, as a user runs it: one line on stderr, nothing else (the other mistakes are said by
    the same code path, tested in process: test_unknown_notebook_in_only_is_a_short_error, tests/test_params.py)."""
    res = _cli("reproduce", "--profile", "nosuch")
    assert res.returncode == 2 and res.stdout == ""
    assert "unknown profile 'nosuch'" in res.stderr and "smoke" in res.stderr
    assert res.stderr.startswith("pdlib reproduce: error: ") and res.stderr.count("\n") == 1


def test_help_says_the_defaults_and_the_exit_codes():
    from pdlib.cli import parser

    top = parser().format_help()
    top = " ".join(top.split())
    assert "runs --profile default unless told otherwise" in top and "--profile smoke, a plumbing check" in top
    sub = parser()._subparsers._group_actions[0].choices
    assert "(default: default)" in " ".join(sub["reproduce"].format_help().split())
    synth = " ".join(sub["synth"].format_help().split())
    assert "pd: SynPD (examinations); actions: SynAct" in synth
    assert "(default: default)" in synth and "(default: 0)" in synth
    preprocess = " ".join(sub["preprocess"].format_help().split())
    assert "Exit codes: 0 every video cached, 1 some videos skipped" in preprocess


def test_unknown_notebook_in_only_is_a_short_error(capsys, monkeypatch):
    from pdlib.cli import main

    monkeypatch.setenv("PDLIB_ROOT", str(ROOT))
    assert main(["reproduce", "--profile", "smoke", "--only", "99_nothing"]) == 2  # a traceback fails here
    err = capsys.readouterr().err
    assert "99_nothing" in err and "00_dataset" in err and err.count("\n") == 1


def _mini_repo(tmp_path: Path, cell: str, params: dict) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell("x = 1")
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell(cell)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    nbformat.write(nb, tmp_path / "notebooks" / "00_mini.ipynb")
    (tmp_path / "params" / "tiny.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def test_undeclared_parameter_key_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PDLIB_OUTPUTS", str(tmp_path / "out"))
    root = _mini_repo(tmp_path, "y = x + 1", {"x": 2, "bogus": 3})
    with pytest.raises(run.ReproduceError, match="bogus"):
        run.reproduce("tiny", root=root, progress=False)


def test_failing_notebook_names_notebook_cell_and_exception(tmp_path, monkeypatch):
    monkeypatch.setenv("PDLIB_OUTPUTS", str(tmp_path / "out"))
    root = _mini_repo(tmp_path, "raise ValueError('broken on purpose')", {"x": 2})
    with pytest.raises(run.ReproduceError) as err:
        run.reproduce("tiny", root=root, progress=False)
    msg = str(err.value)
    assert "00_mini.ipynb" in msg and "ValueError: broken on purpose" in msg and "cell" in msg
    assert (tmp_path / "out" / "tiny" / "index.md").is_file()


def test_runner_passes_declared_params_and_writes_index(tmp_path, monkeypatch):
    monkeypatch.setenv("PDLIB_OUTPUTS", str(tmp_path / "out"))
    cell = ("import pandas as pd\nfrom pdlib.outputs import save_table\n"
            "save_table(pd.DataFrame({'a': [x]}), 'table_x', 'tiny', caption='x table')")
    root = _mini_repo(tmp_path, cell, {"x": 7})
    summary = run.reproduce("tiny", root=root, progress=False)
    assert [r.name for r in summary.runs] == ["00_mini"]
    table = pd.read_csv(tmp_path / "out" / "tiny" / "tables" / "table_x.csv")
    assert table["a"].tolist() == [7]
    meta = json.loads((tmp_path / "out" / "tiny" / "tables" / "table_x.json").read_text())
    assert meta["parameters"] == {"x": 7} and meta["notebook"] == "00_mini"
    index = summary.index.read_text()
    assert "table_x" in index and "00_mini" in index and '{"x": 7}' in index


def test_save_table_and_figure_write_all_formats(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setenv("PDLIB_OUTPUTS", str(tmp_path))
    df = pd.DataFrame({"task": ["finger", "hand"], "MCC": [0.5, 0.25]})
    outputs.save_table(df, "t", Layout("p"), caption="Table")
    for ext in ("csv", "md", "tex", "json"):
        assert (tmp_path / "p" / "tables" / f"t.{ext}").stat().st_size > 0
    assert "0.25" in (tmp_path / "p" / "tables" / "t.md").read_text()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    outputs.save_figure(fig, "f", Layout("p"))
    assert (tmp_path / "p" / "figures" / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "p" / "figures" / "f.pdf").read_bytes()[:4] == b"%PDF"


def test_select_by_prefix_and_from():
    nbs = [Path(f"{n}.ipynb") for n in ("00_dataset", "01_pretraining", "02_task_level")]
    assert run.select(nbs, None, "01") == nbs[1:]
    assert run.select(nbs, ["02_task_level", "00"], None) == [nbs[0], nbs[2]]
    with pytest.raises(run.ReproduceError, match="no notebook matches"):
        run.select(nbs, ["zz"], None)


def test_every_notebook_parameter_default_is_the_smoke_profile_value():
    import ast

    smoke = load_params("smoke", ROOT)
    for nb in run.notebooks(ROOT):
        for key, default in run.declared_parameters(nb).items():
            if key in smoke:
                value = ast.literal_eval(default)
                assert value == smoke[key] and type(value) is type(smoke[key]), \
                    f"{nb.name}: {key} = {default} in its parameters cell, {smoke[key]!r} in params/smoke.yaml"


def _params(root: Path, **files: str) -> Path:
    (root / "params").mkdir(exist_ok=True)
    for name, text in files.items():
        (root / "params" / f"{name}.yaml").write_text(text)
    return root


def test_extends_starts_from_the_base_profile(tmp_path):
    root = _params(tmp_path, base="profile: base\nseed: 0\nepochs: 6\ntasks: [finger, hand]\n",
                   child="extends: base\nprofile: child\nepochs: 2\n",
                   grandchild="extends: child\nprofile: grandchild\nseed: 3\nlr: 0.5\n")
    assert load_params("base", root) == {"profile": "base", "seed": 0, "epochs": 6, "tasks": ["finger", "hand"]}
    assert load_params("child", root) == {"profile": "child", "seed": 0, "epochs": 2, "tasks": ["finger", "hand"]}
    assert load_params("grandchild", root) == {"profile": "grandchild", "seed": 3, "epochs": 2,
                                               "tasks": ["finger", "hand"], "lr": 0.5}
    assert profiles(root) == ["base", "child", "grandchild"]


def test_extends_an_unknown_profile_or_a_cycle_is_an_error(tmp_path):
    root = _params(tmp_path, orphan="extends: nosuch\nseed: 1\n", a="extends: b\nseed: 1\n", b="extends: a\n",
                   nested="extends: orphan\n", self="extends: self\n")
    with pytest.raises(ReproduceError) as err:
        load_params("orphan", root)
    assert str(err.value) == ("params/orphan.yaml: extends unknown profile 'nosuch' (no params/nosuch.yaml); "
                              "profiles: a, b, nested, orphan, self")
    with pytest.raises(ReproduceError, match=r"^params/orphan\.yaml: extends unknown profile 'nosuch'"):
        load_params("nested", root)
    with pytest.raises(ReproduceError) as err:
        load_params("a", root)
    assert str(err.value) == "params/b.yaml: extends forms a cycle: a -> b -> a"
    with pytest.raises(ReproduceError) as err:
        load_params("self", root)
    assert str(err.value) == "params/self.yaml: extends forms a cycle: self -> self"
