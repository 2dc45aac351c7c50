"""The papermill runner behind `pdlib reproduce`: executes the notebooks in order with a profile's params."""

import contextlib
import difflib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pdlib import progress as progress_env
from pdlib.layout import Layout
from pdlib.params import ReproduceError, is_plumbing_check, load_params, plumbing_banner
from pdlib.paths import repo_root
from pdlib.provenance import git_revision


@dataclass
class NotebookRun:
    name: str
    parameters: dict
    seconds: float
    status: str = "ok"


@dataclass
class RunSummary:
    profile: str
    runs: list[NotebookRun] = field(default_factory=list)
    index: Path | None = None


def notebooks(root: Path | None = None) -> list[Path]:
    """The suite's notebooks in execution order: numbered ones first (00, 01, ...), then the rest by name."""
    nb_dir = (root or repo_root()) / "notebooks"
    found = sorted(p for p in nb_dir.glob("*.ipynb") if not p.name.startswith("."))
    return sorted(found, key=lambda p: (not p.stem[:2].isdigit(), p.stem))


def declared_parameters(notebook: Path) -> dict:
    """Names and defaults of the notebook's `parameters` cell (papermill.inspect_notebook)."""
    import papermill  # here, not at the top: `load_params` serves machines without papermill (gpu_check)

    return {name: info["default"] for name, info in papermill.inspect_notebook(str(notebook)).items()}


def select(all_nbs: list[Path], only: list[str] | None, start: str | None) -> list[Path]:
    """Notebooks to run: all, those named in `only`, or from `start` on. Names match stem or its prefix."""
    def find(name: str) -> Path:
        stem = Path(name).stem
        hits = [p for p in all_nbs if p.stem == stem] or [p for p in all_nbs if p.stem.startswith(stem)]
        if len(hits) != 1:
            known = ", ".join(p.stem for p in all_nbs)
            why = "no" if not hits else "more than one"
            raise ReproduceError(f"{why} notebook matches {name!r}; notebooks: {known}")
        return hits[0]

    chosen = all_nbs
    if start:
        chosen = chosen[chosen.index(find(start)):]
    if only:
        wanted = {find(n) for n in only}
        chosen = [p for p in chosen if p in wanted]
    return chosen


def _kernel_options() -> dict:
    """papermill's options for a kernel whose notebook stores no progress bars and no start-up noise.

    `IPKernelApp.capture_fd_output=False`: the kernel's file descriptor 2 stays the terminal's, not a pipe
    into the notebook, so pdlib.progress's bars (on `sys.__stderr__`) show there, live, and only there
    (Python's `sys.stdout`/`sys.stderr`, warnings included, still go to the notebook). The kernel manager
    provisions CurveZMQ keys where pyzmq can (`transport_encryption`), so the kernel's messages are encrypted
    and it no longer warns "Kernel is running over TCP without encryption".

    `IPKernelApp.log_level=CRITICAL`: the kernel's own log (not the notebook's output) stays off the terminal.
    jupyter_client 8 interrupts (SIGINT) every kernel it shuts down; when that lands while the kernel is still
    handling a message, ipykernel logs "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel." to fd 2 after
    a notebook that succeeded (seen once in CI, under load). A cell's error still reaches papermill, the
    executed copy and this run's message."""
    import zmq
    from traitlets.config import Config

    options: dict = {"extra_arguments": ["--IPKernelApp.capture_fd_output=False", "--IPKernelApp.log_level=CRITICAL"]}
    if zmq.has("curve"):
        options["config"] = Config({"KernelManager": {"transport_encryption": "auto"}})
    return options


def reproduce(profile: str, only: list[str] | None = None, start: str | None = None,
              root: Path | None = None, progress: bool = True) -> RunSummary:
    """Execute the notebooks with `params/<profile>.yaml`, write executed copies and `index.md`.

    Each notebook receives only the parameters its `parameters` cell declares (`profile`, the file's name,
    to those that declare it); a parameter-file key that no notebook declares is an error. Stops at the first
    failing notebook with its name, the failing cell and the exception. With `progress`, a line per notebook
    and the notebooks' own progress bars go to this process's stderr (the terminal), not into the notebooks.
    """
    root = Path(root or repo_root()).resolve()
    params = load_params(profile, root)
    all_nbs = notebooks(root)
    if not all_nbs:
        raise ReproduceError(f"no notebooks in {root / 'notebooks'}")
    chosen = select(all_nbs, only, start)
    declared = {nb: declared_parameters(nb) for nb in all_nbs}
    names = set().union(*map(set, declared.values()))
    undeclared = sorted(set(params) - names - {"profile"})
    if undeclared:
        close = difflib.get_close_matches(undeclared[0], names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ReproduceError(f"params/{profile}.yaml: keys declared by no notebook's parameters cell: "
                             f"{', '.join(undeclared)}{hint}")
    summary = RunSummary(profile)
    said = _say if progress else (lambda _: None)
    if is_plumbing_check(profile, root):
        said(plumbing_banner(profile)[2:].replace("**", ""))
    env = {"PDLIB_ROOT": str(root), progress_env.ENV: progress_env.TERMINAL if progress else progress_env.OFF,
           "PDLIB_NOTEBOOK": "", "PDLIB_PARAMS": "{}"}
    with _environment(env):  # what the kernels read; restored after, so a caller in this process sees none of it
        dest = Layout(profile).dir("notebooks")
        for i, nb in enumerate(chosen, 1):
            said(f"[{i}/{len(chosen)}] {nb.stem} ...")
            passed = {k: v for k, v in params.items() if k in declared[nb]}
            t0 = time.perf_counter()
            try:
                _execute(nb, dest, passed, root, profile)
            except BaseException as err:  # the index says how the notebook ended, not an older run's "ok"
                status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
                summary.runs.append(NotebookRun(nb.stem, passed, time.perf_counter() - t0, status))
                write_index(summary, root)
                raise
            summary.runs.append(NotebookRun(nb.stem, passed, time.perf_counter() - t0))
            said(f"[{i}/{len(chosen)}] {nb.stem}: ok in {summary.runs[-1].seconds:.1f} s")
        summary.index = write_index(summary, root)
    return summary


def _execute(nb: Path, dest: Path, passed: dict, root: Path, profile: str) -> None:
    """Run one notebook with papermill into `dest`; a failing cell or a dead kernel is a ReproduceError in words."""
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    os.environ["PDLIB_NOTEBOOK"] = nb.stem
    os.environ["PDLIB_PARAMS"] = json.dumps(passed, default=str)
    t0 = time.perf_counter()
    try:
        papermill.execute_notebook(str(nb), str(dest / nb.name), parameters=passed, cwd=str(root),
                                   kernel_name="python3", progress_bar=False, log_output=False, **_kernel_options())
    except PapermillExecutionError as err:
        first_line = (err.source or "").strip().splitlines()[:1]
        raise ReproduceError(
            f"{nb.name} failed in cell {err.cell_index} (execution count {err.exec_count}"
            f"{': ' + first_line[0] if first_line else ''}): {err.ename}: {err.evalue}\n"
            f"executed copy with the traceback: {dest / nb.name}") from None
    except DeadKernelError:  # killed from outside, or by the kernel's memory: no cell to blame
        raise ReproduceError(
            f"{nb.name}: its kernel died after {time.perf_counter() - t0:.0f} s (killed, or out of memory); run it "
            f"again to resume where it stopped: `pdlib reproduce --profile {profile} --from "
            f"{nb.stem}`") from None


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """The environment variables `values` set inside the block and put back as they were after it."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def write_index(summary: RunSummary, root: Path) -> Path:
    """`outputs/<profile>/index.md`: the notebooks run and every table and figure with provenance."""
    layout = Layout(summary.profile)
    runs_file = layout.runs_json
    runs = json.loads(runs_file.read_text()) if runs_file.is_file() else {}
    rev = git_revision()
    for r in summary.runs:
        runs[r.name] = {"seconds": round(r.seconds, 1), "status": r.status, "parameters": r.parameters,
                        "git_revision": rev, "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    runs_file.write_text(json.dumps(runs, indent=2, default=str))

    banner = [plumbing_banner(summary.profile), ""] if is_plumbing_check(summary.profile, root) else []
    lines = [*banner, f"# Outputs of profile `{summary.profile}`", "",
             f"Git revision: `{rev}`. Regenerate with `pdlib reproduce --profile {summary.profile}`.",
             "", "## Notebooks", "", "| notebook | status | wall time (s) | parameters | git |",
             "|---|---|---|---|---|"]
    for name in sorted(runs):
        r = runs[name]
        lines.append(f"| [{name}](notebooks/{name}.ipynb) | {r['status']} | {r['seconds']} | "
                     f"`{json.dumps(r['parameters'], default=str)}` | {r['git_revision']} |")
    for kind, sub, ext in (("Tables", "tables", "csv"), ("Figures", "figures", "png")):
        lines += ["", f"## {kind}", "", "| name | notebook | caption | files | parameters | git | created |",
                  "|---|---|---|---|---|---|---|"]
        for meta_path in sorted(layout.dir(sub).glob("*.json")):
            m = json.loads(meta_path.read_text())
            others = "pdf" if ext == "png" else "md, tex"
            lines.append(f"| [{m['name']}]({sub}/{m['name']}.{ext}) | {m['notebook']} | {m.get('caption', '')} | "
                         f"{ext}, {others} | `{json.dumps(m['parameters'], default=str)}` | "
                         f"{m['git_revision']} | {m['created']} |")
    index = layout.index_md
    index.write_text("\n".join(lines) + "\n")
    return index
