"""What the end-to-end tests share: the repository root, the kinematics row's label, a suite root of one
profile, `pdlib reproduce` in a subprocess (run through, or started as from a terminal to be stopped), a table
read back as its numbers or as printed."""

import os
import shutil
import signal
import subprocess
import sys
import time
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


def start_reproduce(root: Path, outputs: Path, *args: str) -> subprocess.Popen:
    """`pdlib reproduce` started as from a terminal: Ctrl-C (SIGINT) stops it even when pytest itself runs in
    the background (`make test &`, nohup), where SIGINT is ignored and a child would inherit that: a signal
    this process catches is reset to the default in the child."""
    env = {**os.environ, "PDLIB_OUTPUTS": str(outputs), "PDLIB_ROOT": str(root)}
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen([sys.executable, "-m", "pdlib.cli", "reproduce", *args], cwd=root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, previous)


def wait_for(proc: subprocess.Popen, outputs: Path, pattern: str, timeout: float = 600) -> Path:
    """The first file matching `pattern` under `outputs` once it appears while `proc` runs."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        hits = sorted(outputs.glob(pattern))
        if hits:
            return hits[0]
        assert proc.poll() is None, f"the run ended before {pattern} appeared:\n{proc.stderr.read()[-3000:]}"
        time.sleep(0.005)
    raise TimeoutError(pattern)
