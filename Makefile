# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.hyperwatt-installed
LINT_STAMP := $(VENV)/.hyperwatt-lint-installed
# Files held to `ruff format`: new modules start here; the rest keeps its compact hand layout
# (a whole-tree reformat would rewrite ~7,600 lines). Add a file once it is formatted.
FORMATTED := src/hyperwatt/clock.py src/hyperwatt/errors.py src/hyperwatt/engine/context.py \
             src/hyperwatt/sensors/base.py src/hyperwatt/sensors/records.py \
             src/hyperwatt/dedup.py src/hyperwatt/engine/jobs.py src/hyperwatt/engine/executors.py \
             src/hyperwatt/engine/ray_executor.py src/hyperwatt/engine/node.py src/hyperwatt/engine/slots.py \
             src/hyperwatt/engine/window.py src/hyperwatt/engine/measurement.py src/hyperwatt/engine/recording.py \
             src/hyperwatt/engine/reverify.py

.PHONY: demo test test-fast lint lint-format clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[workloads,test]'
	touch $(STAMP)

$(LINT_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[workloads,test,lint]'
	touch $(LINT_STAMP)

demo: $(STAMP)
	$(VENV)/bin/hyperwatt run plans/quickstart.toml

# The suites start hundreds of Python processes (the CLI, trainings): each may cache its bytecode,
# whatever PYTHONDONTWRITEBYTECODE the shell sets (without the caches every one compiles hyperwatt anew).
test: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q

# Everything but the slow tests (real trainings, the Ray cluster, kill-and-resume), 4 workers:
# about 1:40 on a 2-core machine with load ~2 from other work (~165 s of CPU).
test-fast: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -m "not slow" -n 4

lint: $(LINT_STAMP)
	$(VENV)/bin/ruff check src
	$(VENV)/bin/ruff format --check $(FORMATTED)
	$(VENV)/bin/mypy

lint-format:  # for pre-commit: the format check alone, with whatever ruff is on PATH
	ruff format --check $(FORMATTED)

clean:
	rm -rf $(VENV) results .pytest_cache
