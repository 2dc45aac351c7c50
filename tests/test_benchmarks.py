"""The GPU check's CPU twin: every section of benchmarks/gpu_check.py runs at toy sizes and prints its figures."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.compat_lane  # 36 s of both cores: out of make test's budget, into the second lane's
def test_gpu_check_runs_every_section_on_the_cpu():
    res = subprocess.run([sys.executable, "-W", "ignore", "benchmarks/gpu_check.py", "--cpu-small"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    out = res.stdout
    assert res.returncode == 0 and "Traceback" not in out + res.stderr, (out + res.stderr)[-3000:]
    for mode in ("strict fp32", "tf32", "bf16+cl"):
        assert re.search(rf"r3d18_tsa +{re.escape(mode)} +\d+\.\d", out), mode
    assert len(re.findall(r"engine, (resident|host) clips: \d+\.\d clips/s", out)) == 4
    assert re.search(r"decoded 12 finger videos to 4x16x16 in [\d.]+ s on \d+ cores", out)
    assert re.search(r"finger 5-fold CV, 12 clips, 1 epochs per fold", out)
    minutes = re.search(r"paper profile, extrapolated: ([\d.]+) min", out)
    assert minutes and float(minutes.group(1)) > 0
