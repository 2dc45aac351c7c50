# pdlib: two commands from a fresh clone, `make reproduce` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= default
PYTEST_ARGS ?=
# Two pytest-xdist workers, a test file on one worker, files handed out in tests/conftest.py's order (longest
# first; xdist would otherwise order them by their number of tests): the smoke run's tests
# (tests/test_notebooks.py) on one, the other files on either; `make test PYTEST_WORKERS=0` runs it in one process.
PYTEST_WORKERS ?= 2
unexport PDLIB_TEST_SMOKE_RUN

.PHONY: setup reproduce test lint lab browser clean-outputs

setup: $(STAMP)

# Re-installs only when pyproject.toml changes; a second `make setup` is a file-date check.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,pose]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

reproduce: setup
	$(BIN)/pdlib reproduce --profile $(PROFILE)

# Headless Chromium for the attention-explorer browser test (Debian's package; the test skips
# with a message when it cannot be installed).
browser:
	@command -v chromium >/dev/null 2>&1 || \
	  { (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) >/dev/null 2>&1 \
	    || echo "chromium could not be installed: the browser test will be skipped"; }

test: setup browser
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check pdlib tests benchmarks

lab: setup
	$(BIN)/jupyter lab notebooks

clean-outputs:
	rm -rf outputs/*/
