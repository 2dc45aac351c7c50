"""What the end-to-end tests share: the repository root, the kinematics row's label, a suite root of one
profile, `pdlib reproduce` in a subprocess, a table read back as its numbers or as printed."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from pdlib.tasks import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
KINEMATICS = SETTINGS["kinematics"][0]


def read_table(outputs: Path, name: str) -> pd.DataFrame:
    """A table's tidy numeric CSV."""
    return pd.read_csv(outputs / "tables" / f"{name}.csv")


def read_printed(outputs: Path, name: str) -> pd.DataFrame:
    """A table as printed (its Markdown), every cell a string."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in (outputs / "tables" / f"{name}.md").read_text().splitlines() if line.startswith("|")]
    return pd.DataFrame(rows[2:], columns=rows[0])


def copy_suite(dest: Path, profile: str, params: dict) -> Path:
    """A suite root beside the repository's: its notebooks and one params file."""
    (dest / "params").mkdir(parents=True)
    shutil.copytree(ROOT / "notebooks", dest / "notebooks")
    (dest / "params" / f"{profile}.yaml").write_text(yaml.safe_dump(params))
    return dest


def reproduce(root: Path, outputs: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PDLIB_OUTPUTS": str(outputs), "PDLIB_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "pdlib.cli", "reproduce", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=900)
