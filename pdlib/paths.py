"""Where the suite lives: the repository root, the outputs root and parameter paths (the layout of
`outputs/<profile>/` is `pdlib.layout`'s)."""

import os
from pathlib import Path

WEIGHTS_SUFFIX = ".safetensors"  # the suite's saved weights (`models.pretrained.save_model`, `Layout.weights`)


def repo_root() -> Path:
    """The project root: $PDLIB_ROOT, else the nearest parent of the cwd holding pdlib's pyproject."""
    env = os.environ.get("PDLIB_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").is_file() and (d / "pdlib").is_dir():
            return d
    return here


def outputs_root() -> Path:
    """`outputs/` of the repository, or $PDLIB_OUTPUTS (the tests use a temporary one)."""
    env = os.environ.get("PDLIB_OUTPUTS")
    return Path(env).resolve() if env else repo_root() / "outputs"


def resolve(path: str | os.PathLike) -> Path:
    """A path from params: absolute as given, relative to the repository root otherwise."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else repo_root() / p
