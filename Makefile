# The two set-up commands of README.md: `make demo` and `make test`. Each creates the venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: venv demo test bench types lint

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) -m sidecar.devtools.demo

test: venv
	$(PY) -m pytest

bench: venv
	$(PY) -m bench

# ruff (lint and format check) and mypy --strict on sidecar/, as .ci/run runs them.
lint: venv
	scripts/lint
