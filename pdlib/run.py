"""The papermill runner behind `pdlib reproduce`: executes the notebooks in order with a profile's params."""

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from tqdm.auto import tqdm

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


def load_params(profile: str, root: Path | None = None) -> dict:
    """The flat parameter dict of `params/<profile>.yaml`; an unknown profile lists the known ones.

    A file's top-level `extends: <base>` starts from the base profile's dict (itself possibly extending
    another) and updates it with the file's own keys; `extends` is not in the result.
    """
    root = root or repo_root()
    chain: list[str] = []  # the profiles read, child first
    layers: list[dict] = []
    while True:
        path = root / "params" / f"{profile}.yaml"
        if not path.is_file():
            if not chain:
                raise ReproduceError(f"unknown profile {profile!r}: no {path.relative_to(root)}; "
                                     f"profiles: {', '.join(profiles(root)) or 'none'}")
            raise ReproduceError(f"params/{chain[-1]}.yaml: extends unknown profile {profile!r} "
                                 f"(no {path.relative_to(root)}); profiles: {', '.join(profiles(root))}")
        if profile in chain:
            cycle = " -> ".join([*chain[chain.index(profile):], profile])
            raise ReproduceError(f"params/{chain[-1]}.yaml: extends forms a cycle: {cycle}")
        chain.append(profile)
        params = yaml.safe_load(path.read_text()) or {}
        if not isinstance(params, dict):
            raise ReproduceError(f"{path}: expected a flat mapping of parameters, found {type(params).__name__}")
        nested = [k for k, v in params.items() if isinstance(v, dict)]
        if nested:
            raise ReproduceError(f"{path}: parameters must be flat; nested keys: {nested}")
        layers.append(params)
        base = params.pop("extends", None)
        if base is None:
            break
        if not isinstance(base, str) or not base:
            raise ReproduceError(f"{path}: extends must name a profile (a file in params/), found {base!r}")
        profile = base
    merged: dict = {}
    for layer in reversed(layers):
        merged.update(layer)
    return merged


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


def reproduce(profile: str, only: list[str] | None = None, start: str | None = None,
              root: Path | None = None, progress: bool = True) -> RunSummary:
    """Execute the notebooks with `params/<profile>.yaml`, write executed copies and `index.md`.

    Each notebook receives only the parameters its `parameters` cell declares; a parameter-file key
    that no notebook declares is an error. Stops at the first failing notebook with its name, the
    failing cell and the exception.
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
    undeclared = sorted(set(params) - set().union(*map(set, declared.values())))
    if undeclared:
        raise ReproduceError(f"params/{profile}.yaml: keys declared by no notebook's parameters cell: "
                             f"{', '.join(undeclared)}")
    os.environ["PDLIB_ROOT"] = str(root)
    dest = Layout(profile).dir("notebooks")
    summary = RunSummary(profile)
    bar = tqdm(chosen, desc=f"reproduce [{profile}]", unit="notebook", disable=not progress)
    for nb in bar:
        bar.set_postfix_str(nb.stem)
        passed = {k: v for k, v in params.items() if k in declared[nb]}
        os.environ["PDLIB_NOTEBOOK"] = nb.stem
        os.environ["PDLIB_PARAMS"] = json.dumps(passed, default=str)
        t0 = time.perf_counter()
        try:
            papermill.execute_notebook(str(nb), str(dest / nb.name), parameters=passed, cwd=str(root),
                                       kernel_name="python3", progress_bar=progress, log_output=False)
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
    summary.index = write_index(summary, root)
    return summary


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

    lines = [f"# Outputs of profile `{summary.profile}`", "",
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
