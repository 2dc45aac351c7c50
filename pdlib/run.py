"""The papermill runner behind `pdlib reproduce`: executes the notebooks in order with a profile's params."""

import contextlib
import difflib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pdlib import progress as progress_env
from pdlib.layout import Layout
from pdlib.outputs import git_revision
from pdlib.paths import repo_root


class ReproduceError(RuntimeError):
    """A profile, notebook name, parameter file or notebook run that `pdlib reproduce` cannot accept."""


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


def profiles(root: Path | None = None) -> list[str]:
    return sorted(p.stem for p in ((root or repo_root()) / "params").glob("*.yaml"))


REFERENCE = "default"  # params/default.yaml: every key a profile may set, and the type of its value
# Keys whose value may also be of another type than params/default.yaml's (as its comments say).
ALSO_ALLOWED: dict[str, tuple[type, ...]] = {"clip_window": (int,)}  # "", "middle" or a start frame
PLUMBING_PROFILE = "smoke"  # it, and every profile that extends it, is a plumbing check: deep numbers at chance


def _read(name: str, root: Path) -> dict:
    """The keys of `params/<name>.yaml` as written (a flat mapping), `extends` and `profile` included."""
    rel = f"params/{name}.yaml"
    try:
        params = yaml.safe_load((root / rel).read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ReproduceError(f"{rel}: not valid YAML{where}: {getattr(err, 'problem', None) or err}") from None
    params = {} if params is None else params
    if not isinstance(params, dict):
        raise ReproduceError(f"{rel}: expected a flat mapping of parameters (key: value lines), "
                             f"found {type(params).__name__}")
    nested = [k for k, v in params.items() if isinstance(v, dict)]
    if nested:
        raise ReproduceError(f"{rel}: parameters must be flat; nested keys: {', '.join(map(str, nested))}")
    if "profile" in params and params["profile"] != name:
        raise ReproduceError(f"{rel}: profile: {params['profile']!r}, but a profile is named by its file, "
                             f"{name!r}: delete the `profile:` line (it is not needed)")
    return params


def profile_chain(profile: str, root: Path | None = None) -> list[str]:
    """`profile` and the profiles it extends, child first (`params/<name>.yaml`'s top-level `extends`)."""
    return [name for name, _ in _layers(profile, Path(root or repo_root()))]


def _layers(profile: str, root: Path) -> list[tuple[str, dict]]:
    chain: list[tuple[str, dict]] = []  # (profile, its keys), child first
    while True:
        path = root / "params" / f"{profile}.yaml"
        if not path.is_file():
            if not chain:
                raise ReproduceError(f"unknown profile {profile!r}: no {path.relative_to(root)}; "
                                     f"profiles: {', '.join(profiles(root)) or 'none'}")
            raise ReproduceError(f"params/{chain[-1][0]}.yaml: extends unknown profile {profile!r} "
                                 f"(no {path.relative_to(root)}); profiles: {', '.join(profiles(root))}")
        names = [name for name, _ in chain]
        if profile in names:
            cycle = " -> ".join([*names[names.index(profile):], profile])
            raise ReproduceError(f"params/{names[-1]}.yaml: extends forms a cycle: {cycle}")
        params = _read(profile, root)
        chain.append((profile, params))
        base = params.get("extends")
        if base is None:
            return chain
        if not isinstance(base, str) or not base:
            raise ReproduceError(f"params/{profile}.yaml: extends must name a profile (a file in params/), "
                                 f"found {base!r}")
        profile = base


def _kind(t: type) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string",
            list: "a list", type(None): "nothing (null)"}.get(t, t.__name__)


def _fits(value, t: type) -> bool:
    """`value` is of the reference type `t` (an integer is a number; a bool is not an integer)."""
    if t is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, t)


def _type_error(key: str, value, ref) -> str | None:
    """Why `value` cannot stand for params/default.yaml's `ref` at `key`, or None when it can."""
    if ref is None:  # the reference leaves the type open
        return None
    allowed = (type(ref), *ALSO_ALLOWED.get(key, ()))
    if not any(_fits(value, t) for t in allowed):
        expected = " or ".join(_kind(t) for t in allowed)
        if isinstance(ref, str):
            expected += ' (quoted, e.g. "" when empty)' if ref == "" else ""
        hint = ""
        if isinstance(value, str) and float in allowed:
            try:
                float(value)
                hint = f" (YAML reads {value} as text: write it with a decimal point, e.g. {float(value)!r})"
            except ValueError:
                pass
        return f"{key}: expected {expected}, found {value!r}{hint}"
    if isinstance(ref, list) and ref and len({type(v) for v in ref}) == 1:
        item = type(ref[0])
        bad = [v for v in value if not _fits(v, item)]
        if bad:
            plural = {bool: "true or false values", int: "integers", float: "numbers", str: "strings"}
            return f"{key}: expected a list of {plural.get(item, item.__name__)}, found {bad[0]!r} in {value!r}"
    if key == "clip_window":
        from pdlib.data.spec import parse_window

        try:
            parse_window(value)
        except ValueError:
            return (f"{key}: expected \"\" (frames spread over the video), \"middle\", a start frame or "
                    f"\"windows<K>\" (K windows over the video), found {value!r}")
    return None


def _check(layers: list[tuple[str, dict]], root: Path) -> None:
    """Every key of every file is one of params/default.yaml's, its value of that key's type there."""
    ref_path = root / "params" / f"{REFERENCE}.yaml"
    if not ref_path.is_file():  # a suite without the reference (the tests' small ones): nothing to check against
        return
    reference = {k: v for k, v in _read(REFERENCE, root).items() if k not in ("extends", "profile")}
    for name, params in layers:
        for key, value in params.items():
            if key in ("extends", "profile"):
                continue
            if key not in reference:
                close = difflib.get_close_matches(str(key), reference, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; the keys are params/{REFERENCE}.yaml's"
                raise ReproduceError(f"params/{name}.yaml: unknown key {key!r}{hint}")
            why = _type_error(key, value, reference[key])
            if why:
                raise ReproduceError(f"params/{name}.yaml: {why}")


def load_params(profile: str, root: Path | None = None) -> dict:
    """The flat parameter dict of `params/<profile>.yaml`, checked; an unknown profile lists the known ones.

    A file's top-level `extends: <base>` starts from the base profile's dict (itself possibly extending
    another) and updates it with the file's own keys; `extends` is not in the result. The profile is named by
    its file: `profile` in the result is `profile`, and a file's `profile:` key, if any, must be its file name.
    Every key must be one of params/default.yaml's (else "did you mean"), its value of that key's type there
    (an integer is a number); every mistake is a ReproduceError naming the file and the key.
    """
    root = Path(root or repo_root())
    layers = _layers(profile, root)
    _check(layers, root)
    merged: dict = {}
    for _, layer in reversed(layers):
        merged.update(layer)
    merged.pop("extends", None)
    merged["profile"] = profile
    if {"frames", "size"} <= merged.keys():  # a clip spec that cannot be built, before any notebook runs
        from pdlib.data.spec import ClipSpec

        try:
            ClipSpec.from_params(merged)
        except ValueError as err:
            raise ReproduceError(f"params/{profile}.yaml: {err}") from None
    return merged


def is_plumbing_check(profile: str, root: Path | None = None) -> bool:
    """Whether `profile` is the smoke profile or extends it: its numbers are a plumbing check, not results."""
    try:
        return PLUMBING_PROFILE in profile_chain(profile, root)
    except ReproduceError:
        return False


def plumbing_banner(profile: str) -> str:
    """The one line that heads a plumbing-check profile's index.md and tables."""
    via = f" (from `{PLUMBING_PROFILE}`)" if profile != PLUMBING_PROFILE else ""
    return (f"> **Plumbing check, not results:** profile `{profile}`{via} runs every step at toy sizes to show "
            f"that the pipeline works; its deep models' and probe's numbers sit at chance level by design, while "
            f"the kinematics row reads SynPD's true joints (an ideal tracker), so it scores above chance. For results: "
            f"`pdlib reproduce --profile default`.")


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
    and it no longer warns "Kernel is running over TCP without encryption"."""
    import zmq
    from traitlets.config import Config

    options: dict = {"extra_arguments": ["--IPKernelApp.capture_fd_output=False"]}
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
    import papermill
    from papermill.exceptions import PapermillExecutionError

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
    kernel = _kernel_options()
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
            os.environ["PDLIB_NOTEBOOK"] = nb.stem
            os.environ["PDLIB_PARAMS"] = json.dumps(passed, default=str)
            t0 = time.perf_counter()
            try:
                papermill.execute_notebook(str(nb), str(dest / nb.name), parameters=passed, cwd=str(root),
                                           kernel_name="python3", progress_bar=False, log_output=False, **kernel)
            except KeyboardInterrupt:  # Ctrl-C: the index says so instead of keeping an older run's "ok"
                summary.runs.append(NotebookRun(nb.stem, passed, time.perf_counter() - t0, "interrupted"))
                write_index(summary, root)
                raise
            except PapermillExecutionError as err:
                summary.runs.append(NotebookRun(nb.stem, passed, time.perf_counter() - t0, "failed"))
                write_index(summary, root)
                first_line = (err.source or "").strip().splitlines()[:1]
                raise ReproduceError(
                    f"{nb.name} failed in cell {err.cell_index} (execution count {err.exec_count}"
                    f"{': ' + first_line[0] if first_line else ''}): {err.ename}: {err.evalue}\n"
                    f"executed copy with the traceback: {dest / nb.name}") from None
            summary.runs.append(NotebookRun(nb.stem, passed, time.perf_counter() - t0))
            said(f"[{i}/{len(chosen)}] {nb.stem}: ok in {summary.runs[-1].seconds:.1f} s")
        summary.index = write_index(summary, root)
    return summary


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
