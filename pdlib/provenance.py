"""Provenance of an artefact: the git revision, who made it (profile, notebook, its parameters, time) and its
`<name>.json` sidecar. The runner passes the notebook's name and parameters through the environment
(PDLIB_NOTEBOOK, PDLIB_PARAMS)."""

import json
import os
import subprocess
import time
from pathlib import Path

from pdlib.paths import repo_root


def git_revision() -> str:
    """Short git revision of the repository, with `+dirty` when the work tree has changes."""
    try:
        root = repo_root()
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (rev or "unknown") + ("+dirty" if dirty else "")


def provenance(profile: str, **extra) -> dict:
    """Who made an artefact: profile, notebook, its parameters, git revision, time."""
    params = json.loads(os.environ.get("PDLIB_PARAMS", "{}"))
    return {"profile": profile, "notebook": os.environ.get("PDLIB_NOTEBOOK", "interactive"),
            "parameters": params, "git_revision": git_revision(),
            "created": time.strftime("%Y-%m-%d %H:%M:%S"), **extra}


def write_sidecar(path: Path, meta: dict) -> None:
    Path(f"{path}.json").write_text(json.dumps(meta, indent=2, default=str))
