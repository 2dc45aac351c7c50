"""Parameter files checked when loaded (unknown keys, types, the profile's name), the smoke profile's banner, and
what a run leaves in its terminal and its executed notebooks (progress bars, kernel start-up noise)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from suite_runs import start_reproduce, wait_for

from pdlib import outputs, progress, run
from pdlib.cli import main as cli_main
from pdlib.params import ReproduceError, is_plumbing_check, load_params, plumbing_banner

ROOT = Path(__file__).resolve().parents[1]


def _suite(root: Path, **files: str) -> Path:
    """A suite root with the repository's params/default.yaml (the reference of every key) and `files`."""
    (root / "params").mkdir(parents=True, exist_ok=True)
    (root / "params" / "default.yaml").write_text((ROOT / "params" / "default.yaml").read_text())
    for name, text in files.items():
        (root / "params" / f"{name}.yaml").write_text(text)
    return root


def _error(root: Path, profile: str) -> str:
    with pytest.raises(ReproduceError) as err:
        load_params(profile, root)
    return str(err.value)


def test_the_shipped_profiles_load_and_are_named_by_their_files():
    for profile in ("default", "smoke", "paper"):
        params = load_params(profile, ROOT)
        assert params["profile"] == profile and "extends" not in params
        assert set(params) == set(load_params("default", ROOT))


def test_an_unknown_key_says_did_you_mean(tmp_path):
    root = _suite(tmp_path, mine="extends: default\nepoch: 2\n", far="extends: default\nzzz_qqq: 1\n")
    assert _error(root, "mine") == "params/mine.yaml: unknown key 'epoch' (did you mean 'epochs'?)"
    assert _error(root, "far") == "params/far.yaml: unknown key 'zzz_qqq'; the keys are params/default.yaml's"


@pytest.mark.parametrize(("line", "message"), [
    ("epochs: two", "epochs: expected an integer, found 'two'"),
    ("epochs: 2.5", "epochs: expected an integer, found 2.5"),
    ("epochs: true", "epochs: expected an integer, found True"),
    ("lr: 1e-3", "lr: expected a number, found '1e-3' (YAML reads 1e-3 as text: write it with a decimal point, "
                 "e.g. 0.001)"),
    ("frame_diff: 'yes'", "frame_diff: expected true or false, found 'yes'"),
    ("tasks: finger", "tasks: expected a list, found 'finger'"),
    ("tasks: [finger, 3]", "tasks: expected a list of strings, found 3 in ['finger', 3]"),
    ("splits: [1, two]", "splits: expected a list of integers, found 'two' in [1, 'two']"),
    ("dataset:", "dataset: expected a string (quoted, e.g. \"\" when empty), found None"),
    ("clip_window: fast", "clip_window: expected \"\" (frames spread over the video), \"middle\", a start frame or "
                          "\"windows<K>\" (K windows over the video), found 'fast'"),
    ("clip_window: windows3", "ClipSpec: 3 windows need a number of frames divisible by 3, found 16"),
    ("clip_views: true", "ClipSpec: views need a clip of windows (window 'windows<K>'), found 'middle'"),
])
def test_a_wrong_type_names_the_file_the_key_and_the_expected_type(tmp_path, line, message):
    root = _suite(tmp_path, mine=f"extends: default\n{line}\n")
    assert _error(root, "mine") == f"params/mine.yaml: {message}"


def test_the_documented_alternatives_are_accepted(tmp_path):
    root = _suite(tmp_path, mine="extends: default\nlr: 1\nwiden: 1\nclip_window: 4\nlr: 0.5\ntasks: []\n")
    params = load_params("mine", root)
    assert params["lr"] == 0.5 and params["widen"] == 1 and params["clip_window"] == 4 and params["tasks"] == []
    root = _suite(tmp_path / "w", mine="extends: default\nclip_window: windows4\nclip_views: true\n")
    assert load_params("mine", root)["clip_window"] == "windows4"


def test_the_file_that_sets_a_bad_key_is_named_not_the_one_loaded(tmp_path):
    root = _suite(tmp_path, base="extends: default\nepochs: two\n", mine="extends: base\nseed: 1\n")
    assert _error(root, "mine") == "params/base.yaml: epochs: expected an integer, found 'two'"


def test_the_profile_is_the_file_name(tmp_path):
    root = _suite(tmp_path, mine="extends: default\nprofile: smoke\nepochs: 1\n",
                  ok="extends: default\nprofile: ok\n", bare="extends: default\n")
    assert _error(root, "mine") == ("params/mine.yaml: profile: 'smoke', but a profile is named by its file, "
                                    "'mine': delete the `profile:` line (it is not needed)")
    assert load_params("ok", root)["profile"] == "ok"
    assert load_params("bare", root)["profile"] == "bare"


def test_invalid_yaml_is_one_line(tmp_path):
    root = _suite(tmp_path, mine="extends: default\nepochs: [\n", flat="- a\n- b\n")
    msg = _error(root, "mine")
    assert msg.startswith("params/mine.yaml: not valid YAML (line 3") and "\n" not in msg
    assert _error(root, "flat") == "params/flat.yaml: expected a flat mapping of parameters (key: value lines), " \
                                   "found list"


def test_without_the_reference_only_the_structure_is_checked(tmp_path):
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "tiny.yaml").write_text("x: 2\nanything: [1, a]\n")
    assert load_params("tiny", tmp_path) == {"x": 2, "anything": [1, "a"], "profile": "tiny"}


@pytest.mark.parametrize(("text", "message"), [
    ("extends: default\nepoch: 2\n", "params/mine.yaml: unknown key 'epoch' (did you mean 'epochs'?)"),
    ("extends: default\nepochs: two\n", "params/mine.yaml: epochs: expected an integer, found 'two'"),
    ("extends: default\nprofile: smoke\n", "params/mine.yaml: profile: 'smoke', but a profile is named by its file"),
])
def test_the_cli_prints_a_params_mistake_in_one_line(tmp_path, monkeypatch, capsys, text, message):
    """`pdlib reproduce`'s own code path, in this process (a fresh interpreter printing nothing else before
    its one line is tests/test_foundation.py's test_unknown_profile_is_a_short_error)."""
    root = _suite(tmp_path, mine=text)
    monkeypatch.setenv("PDLIB_ROOT", str(root))
    monkeypatch.setenv("PDLIB_OUTPUTS", str(tmp_path / "out"))
    assert cli_main(["reproduce", "--profile", "mine"]) == 2  # a traceback would fail the test here
    err = capsys.readouterr().err
    assert err.startswith(f"pdlib reproduce: error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


# ---- the smoke profile's banner ----

def test_smoke_and_the_profiles_extending_it_are_plumbing_checks(tmp_path):
    root = _suite(tmp_path, smoke="extends: default\nepochs: 2\n", mine="extends: smoke\nseed: 1\n")
    assert is_plumbing_check("smoke", root) and is_plumbing_check("mine", root)
    assert not is_plumbing_check("default", root) and not is_plumbing_check("nosuch", root)
    assert is_plumbing_check("smoke", ROOT) and not is_plumbing_check("paper", ROOT)
    banner = plumbing_banner("mine")
    assert banner.startswith("> **Plumbing check, not results:** profile `mine` (from `smoke`)")
    assert "\n" not in banner and "chance level by design" in banner


def test_smoke_tables_and_index_start_with_the_banner(tmp_path, monkeypatch):
    monkeypatch.setenv("PDLIB_ROOT", str(ROOT))
    monkeypatch.setenv("PDLIB_OUTPUTS", str(tmp_path))
    for profile in ("smoke", "default"):
        outputs.save_table(pd.DataFrame({"a": [1]}), "t", profile, caption="A table")
        summary = run.RunSummary(profile, [run.NotebookRun("00_x", {}, 1.0)])
        md = (tmp_path / profile / "tables" / "t.md").read_text().splitlines()
        tex = (tmp_path / profile / "tables" / "t.tex").read_text()
        meta = json.loads((tmp_path / profile / "tables" / "t.json").read_text())
        index = run.write_index(summary, ROOT).read_text().splitlines()
        if profile == "smoke":
            assert md[0] == index[0] == plumbing_banner("smoke") and md[2] == "A table"
            assert tex.startswith("% Plumbing check, not results:") and meta["plumbing_check"] is True
        else:
            assert md[0] == "A table" and index[0].startswith("# Outputs of profile `default`")
            assert "Plumbing" not in tex and meta["plumbing_check"] is False


# ---- progress bars and the run's notebooks ----

def test_progress_bars_go_to_the_terminal_only_under_the_runner(monkeypatch):
    from tqdm import std
    from tqdm.auto import tqdm as auto_tqdm

    monkeypatch.delenv(progress.ENV, raising=False)
    assert type(progress.progress_bar(range(2), disable=True)) is auto_tqdm
    monkeypatch.setenv(progress.ENV, progress.TERMINAL)
    bar = progress.progress_bar(range(2), desc="x")
    assert type(bar) is std.tqdm and bar.fp is not None and not bar.leave
    bar.close()
    nested = progress.progress_bar(range(2), leave=False)  # pytest's stderr is not a terminal: not drawn
    assert nested.disable
    monkeypatch.setenv(progress.ENV, progress.OFF)
    assert progress.progress_bar(range(2)).disable


def _tiny_suite(tmp_path, name: str, code: str) -> None:
    """A suite root of one notebook: a parameters cell (x = 1; params/tiny.yaml gives 2), then `code`."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell("x = 1")
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nb, tmp_path / "notebooks" / f"{name}.ipynb")
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "tiny.yaml").write_text(yaml.safe_dump({"x": 2}))


def _tiny_run(tmp_path, name: str, code: str) -> subprocess.CompletedProcess:
    """`pdlib reproduce --profile tiny` of `_tiny_suite`'s notebook, run through."""
    _tiny_suite(tmp_path, name, code)
    env = {**os.environ, "PDLIB_ROOT": str(tmp_path), "PDLIB_OUTPUTS": str(tmp_path / "out")}
    return subprocess.run([sys.executable, "-m", "pdlib.cli", "reproduce", "--profile", "tiny"], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)


def test_a_run_keeps_progress_and_kernel_noise_out_of_its_notebooks(tmp_path):
    """The bars of a notebook go to the terminal; the executed copy has no widget, no bar, no start-up
    warning of the kernel, and still shows a warning nobody expected."""
    import nbformat

    res = _tiny_run(tmp_path, "00_mini", "import warnings\nfrom pdlib.progress import progress_bar\n"
                    "for _ in progress_bar(range(3), desc='busy work'):\n    pass\n"
                    "print('done', x)\nwarnings.warn('nobody expected this')\n"
                    # what ipykernel logs when jupyter_client's shutdown SIGINT lands mid-message (as seen in CI)
                    "get_ipython().kernel.log.error('KeyboardInterrupt caught in kernel.')")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "[1/1] 00_mini ..." in res.stderr and "[1/1] 00_mini: ok in" in res.stderr
    assert "busy work" in res.stderr and "IPKernelApp" not in res.stderr and "KeyboardInterrupt" not in res.stderr
    executed = nbformat.read(tmp_path / "out" / "tiny" / "notebooks" / "00_mini.ipynb", as_version=4)
    printed = json.dumps([c.get("outputs", []) for c in executed.cells])
    assert "busy work" not in printed and "application/vnd.jupyter.widget" not in printed
    assert "IPKernelApp" not in printed and "Executing" not in res.stderr
    outs = executed.cells[-1].outputs
    assert [o.get("text", "").strip() for o in outs if o.get("name") == "stdout"] == ["done 2"]
    assert any("nobody expected this" in o.get("text", "") for o in outs if o.get("name") == "stderr")


def test_a_kernel_killed_mid_notebook_is_one_line_not_a_traceback(tmp_path):
    """A kernel killed from outside (or by the system's memory limit) mid-notebook: the run says which notebook,
    that its kernel died and how to resume; exit 2, no traceback; runs.json marks the notebook failed."""
    res = _tiny_run(tmp_path, "00_killed", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-3000:]
    assert "00_killed.ipynb: its kernel died" in res.stderr
    assert "pdlib reproduce --profile tiny --from 00_killed" in res.stderr
    runs = json.loads((tmp_path / "out" / "tiny" / "runs.json").read_text())
    assert runs["00_killed"]["status"] == "failed"


def test_ctrl_c_mid_notebook_is_one_line_and_marks_the_notebook_interrupted(tmp_path):
    """Ctrl-C (SIGINT to `pdlib reproduce`) while a cell runs: the run stops with exit 130 and one line saying
    how to resume, no traceback (nor asyncio's 'Task exception'); runs.json marks the notebook interrupted.
    What a stopped training leaves to resume from: test_notebooks.py's killed run."""
    started = tmp_path / "started"
    _tiny_suite(tmp_path, "00_long", f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\ntime.sleep(300)")
    run = start_reproduce(tmp_path, tmp_path / "out", "--profile", "tiny")
    wait_for(run, tmp_path, "started", timeout=120)
    run.send_signal(signal.SIGINT)  # what Ctrl-C in a terminal sends
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130 and "pdlib reproduce: interrupted" in err, err[-3000:]
    assert "Traceback" not in err and "Task exception" not in err, err[-3000:]
    assert json.loads((tmp_path / "out" / "tiny" / "runs.json").read_text())["00_long"]["status"] == "interrupted"


def test_default_yaml_matches_code_defaults():
    """params/default.yaml's setting and coverage are the code's own defaults (pdlib.tasks.DEFAULT_SETTING,
    pdlib.tasks.DEFAULT_COVERAGE), and so is `pdlib score --coverage`'s."""
    from pdlib.cli import parser
    from pdlib.tasks import DEFAULT_COVERAGE, DEFAULT_SETTING

    params = load_params("default", ROOT)
    assert params["setting"] == params["feature_setting"] == DEFAULT_SETTING
    assert params["coverage"] == DEFAULT_COVERAGE
    assert parser().parse_args(["score", "clip.mp4"]).coverage == DEFAULT_COVERAGE
