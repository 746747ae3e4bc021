# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.hyperwatt-installed

.PHONY: demo test clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[workloads,test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/hyperwatt run plans/quickstart.toml

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) results .pytest_cache
