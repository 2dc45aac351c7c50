"""The second CI lane, beside `make test` (the whole suite on the default Python): `nox -s compat`.

The newest Python (3.13 unless PDLIB_NEWEST_PYTHON names another) with the newest PyAV pip gives it, then the
lowest PyAV pyproject allows. On that Python: decoding, orientation, VFR and every gauntlet case
(tests/test_video.py, test_manifest.py, test_clip_cache.py), the models, and the tests that train under a second
CPU kernel path (ATEN_CPU_CAPABILITY=default: no AVX2, other rounding; issue 29), and the benchmark twins
`make test` skips (`compat_lane` marker: benchmarks/gpu_check.py's CPU run). `.ci/run` calls it; on a machine
without that Python nox reports the session skipped and passes (--no-error-on-missing-interpreters).
"""

import os

import nox

nox.options.default_venv_backend = "venv"

NEWEST = os.environ.get("PDLIB_NEWEST_PYTHON", "3.13")
LOWEST_PYAV = "18.0.0"  # pyproject.toml's bound: the lowest whose API the decoder and the tests' writer use
DATA = ["tests/test_video.py", "tests/test_manifest.py", "tests/test_clip_cache.py"]
DATA_AND_MODELS = [*DATA, "tests/test_synth.py", "tests/test_models.py", "tests/test_tsa.py",
                   "tests/test_pretrained.py", "tests/test_losses.py", "tests/test_kinematics.py",
                   "tests/test_tracking.py", "tests/test_benchmarks.py"]
TRAINING = ["tests/test_learning.py", "tests/test_train.py"]  # the rest: benchmarks/kernel_paths.sh


@nox.session(python=NEWEST)
def compat(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.install("--upgrade", "av")  # the newest, also in a venv reused (-r) after a run left it on LOWEST_PYAV
    versions = "import sys, av, torch; print('Python', sys.version.split()[0], 'PyAV', av.__version__, 'torch', " \
               "torch.__version__, 'kernels', torch.backends.cpu.get_cpu_capability())"
    session.run("python", "-c", versions)
    session.run("pytest", "-q", "-n", "2", "--dist", "loadfile", *DATA_AND_MODELS, env={"PDLIB_COMPAT_LANE": "1"})
    second_path = {"ATEN_CPU_CAPABILITY": "default"}
    session.run("python", "-c", versions, env=second_path)
    session.run("pytest", "-q", "-n", "2", "--dist", "loadfile", *TRAINING, env=second_path)
    session.install(f"av=={LOWEST_PYAV}")
    session.run("python", "-c", versions)
    session.run("pytest", "-q", "-n", "2", "--dist", "loadfile", *DATA)
