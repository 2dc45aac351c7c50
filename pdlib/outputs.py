"""Saving tables (tidy numeric CSV, formatted Markdown and LaTeX) and figures (PNG, PDF) with provenance.

Each artefact gets a `<name>.json` sidecar (`pdlib.provenance`) with profile, notebook, parameters, git
revision and time; `pdlib.run` collects the sidecars into `outputs/<profile>/index.md`. The runner passes the
notebook's name and parameters through the environment (PDLIB_NOTEBOOK, PDLIB_PARAMS). The tables of the smoke
profile, and of every profile that extends it, start with a one-line banner (`pdlib.params`): a plumbing
check, not results.
"""

from pathlib import Path

import pandas as pd

from pdlib.layout import Layout
from pdlib.params import is_plumbing_check, plumbing_banner
from pdlib.provenance import provenance, write_sidecar


def _banner(profile: str) -> str:
    """The plumbing-check line of a smoke profile's (or a profile extending it) tables, else ""."""
    return plumbing_banner(profile) if is_plumbing_check(profile) else ""


def _layout(run: Layout | str) -> Layout:
    """The notebook's Layout; a profile name (as before) is still taken."""
    return run if isinstance(run, Layout) else Layout(run)


def save_table(df: pd.DataFrame, name: str, run: Layout | str, caption: str = "",
               numeric: pd.DataFrame | None = None, index: bool = False) -> Path:
    """Write `tables/<name>.md` and `.tex` (`df`, as the study prints it), `.csv` (`numeric`: one value per
    cell, mean and std in their own columns, what a script reads back; `df` itself when it is already
    numeric) and `.json` (provenance) under the run's Layout (`run`: the notebook's `layout`); returns the
    CSV path."""
    layout = _layout(run)
    profile = layout.profile
    stem = layout.table(name)
    banner = _banner(profile)
    meta = provenance(profile, kind="table", name=name, caption=caption, rows=len(df), plumbing_check=bool(banner))
    prov = f"profile={profile}, notebook={meta['notebook']}, git={meta['git_revision']}"
    csv = Path(f"{stem}.csv")
    (df if numeric is None else numeric).to_csv(csv, index=index and numeric is None)
    md = df.to_markdown(index=index)
    head = (f"{banner}\n\n" if banner else "") + (f"{caption}\n\n" if caption else "")
    Path(f"{stem}.md").write_text(f"{head}{md}\n\n<!-- {prov} -->\n")
    tex = df.to_latex(index=index, caption=caption or None, label=f"tab:{name}", escape=True)
    note = f"% {banner[2:].replace('**', '')}\n" if banner else ""
    Path(f"{stem}.tex").write_text(f"{note}% {prov}\n{tex}")
    write_sidecar(stem, meta)
    return csv


def save_figure(fig, name: str, run: Layout | str, caption: str = "") -> Path:
    """Write `figures/<name>.{png,pdf}` (matplotlib figure) plus provenance under the run's Layout (`run`: the
    notebook's `layout`); returns the PNG path."""
    layout = _layout(run)
    stem = layout.figure(name)
    meta = provenance(layout.profile, kind="figure", name=name, caption=caption)
    png = Path(f"{stem}.png")
    png.parent.mkdir(parents=True, exist_ok=True)  # a name may hold a folder: "kinematics/finger_score2_..."
    fig.savefig(png, dpi=150, bbox_inches="tight", metadata={"Software": f"pdlib git {meta['git_revision']}"})
    fig.set_layout_engine("none")  # keeps the places the PNG's layout found: the PDF and a notebook's copy skip it
    fig.savefig(Path(f"{stem}.pdf"), bbox_inches="tight")
    write_sidecar(stem, meta)
    return png

