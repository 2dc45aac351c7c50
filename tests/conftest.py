"""What several test modules read and is slow to make, made once per pytest run (session scope).

- `smoke_outputs`: a fresh `pdlib reproduce --profile smoke` in a temporary outputs folder; its `<outputs>/smoke`
  tree (3-6 minutes on a 2-core CPU, the longest step of `make test`). Only tests/test_notebooks.py reads it (its
  tables, and the interrupted and resumed run of notebook 02 compared to it), so under pytest-xdist's
  `--dist loadfile` it is made once, on one worker; tests/test_dataset_runs.py makes its own smaller start.
- `explorer_outputs`: the outputs folder holding tests/explorer_fixture.py's fake `smoke` run (tiny TSA models,
  videos, predictions, features, heads), read by tests/test_widgets.py and tests/test_scoring.py.
- The data tests' small videos (tests/video_samples.py): `truncated` (a cut mp4), `video_files` (a<n>.mp4 of n
  frames, b.avi) per module, and `dataset`, a test's own small PD dataset of them.

Both are shared, so both are read-only: a test that changes a file, or runs something that writes into the
tree (a clip cache, a score), works on a copy (`shutil.copytree`, seconds against a retrain), which keeps one
test's writes out of every other's.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from video_samples import FASTSTART, VIDEOS, encode, write_dataset

ROOT = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two workers on two cores: one torch thread each (and in every process they start: the
    # smoke run, its kernels), else each worker's two OpenMP threads spin against the other's and the training
    # tests run 10-30x slower. The numbers the tests pin hold on any thread count (test_notebooks.py).
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


# The order in which `make test` hands files to its two workers (`--dist loadfile --no-loadscope-reorder`; by
# default xdist orders them by their number of tests): the longest first, so that the smoke run's file starts at
# once on one worker while the other works through the rest, and the short files fill in at the end (longest
# processing time first). Seconds alone, one worker, 2-core machine, 2026-12-07: notebooks ~340 (the smoke run),
# dataset runs 91, cohorts 41, tracking 36, the explorer's browser 25, report 21, exam level 21, score_kinematics
# 28, widgets 16; the files not named here (under 15 s each) follow in file-name order.
FIRST = ("test_notebooks.py", "test_dataset_runs.py", "test_cohorts.py", "test_tracking.py",
         "test_score_kinematics.py", "test_explorer_browser.py", "test_report.py", "test_exam_level.py",
         "test_widgets.py")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: FIRST.index(item.path.name) if item.path.name in FIRST else len(FIRST))
    if not os.environ.get("PDLIB_COMPAT_LANE"):  # benchmark twins: `.ci/run`'s compat lane runs them
        lane = pytest.mark.skip(reason="runs in .ci/run's compat lane (nox -s compat; PDLIB_COMPAT_LANE=1 here)")
        for item in items:
            if item.get_closest_marker("compat_lane"):
                item.add_marker(lane)


@pytest.fixture(scope="session")
def smoke_outputs(tmp_path_factory) -> Path:
    """Runs `pdlib reproduce --profile smoke` once per session, writing into a temporary outputs folder;
    returns its `smoke` profile folder. PDLIB_TEST_SMOKE_RUN=<outputs>/smoke reuses a finished run of the same
    code instead (a developer's shortcut while editing a test; `make test` always runs it afresh)."""
    if os.environ.get("PDLIB_TEST_SMOKE_RUN"):
        return Path(os.environ["PDLIB_TEST_SMOKE_RUN"])
    out = tmp_path_factory.mktemp("smoke_outputs")
    env = {**os.environ, "PDLIB_OUTPUTS": str(out), "PDLIB_ROOT": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "pdlib.cli", "reproduce", "--profile", "smoke"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, f"reproduce failed:\n{res.stderr[-4000:]}"
    return out / "smoke"


@pytest.fixture(scope="session")
def explorer_outputs(tmp_path_factory) -> Path:
    """The outputs folder holding the fake `smoke` run of tests/explorer_fixture.py, built once per session."""
    from explorer_fixture import build_outputs

    root = tmp_path_factory.mktemp("explorer_outputs")
    build_outputs(root)
    return root


@pytest.fixture(scope="module")
def truncated(tmp_path_factory) -> Path:
    path = encode(tmp_path_factory.mktemp("t") / "full.mp4", n=30, noise=20, options=FASTSTART)
    data = path.read_bytes()
    out = path.with_name("truncated.mp4")
    out.write_bytes(data[: int(len(data) * 0.6)])
    return out


@pytest.fixture(scope="module")
def video_files(tmp_path_factory) -> Path:
    """Videos of distinct content (the cache is keyed by content): a<n>.mp4 has n frames."""
    d = tmp_path_factory.mktemp("v")
    for n in (10, 11, 12):
        encode(d / f"a{n}.mp4", n=n)
    encode(d / "b.avi", "mjpeg", n=12, pix_fmt="yuvj420p")
    return d


@pytest.fixture
def dataset(tmp_path, video_files) -> Path:
    root = write_dataset(tmp_path / "ds")
    for (video, *_), source in zip(VIDEOS, ("a12.mp4", "a11.mp4", "a10.mp4", "b.avi"), strict=True):
        shutil.copy(video_files / source, root / video)
    return root
