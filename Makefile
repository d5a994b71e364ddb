# The set-up commands of README.md: `make demo`, `make demo-team` and `make test`. Each creates the venv on a fresh
# machine (`make demo-team` also needs Debian's PostgreSQL server package: apt-get install -y postgresql).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: venv demo demo-team test bench types lint

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) -m sidecar.devtools.demo

# Two sidecars (two "desktops") sharing one pool on a throwaway PostgreSQL, against the bundled fake sf.
demo-team: venv
	$(PY) -m sidecar.devtools.demo_team

test: venv
	$(PY) -m pytest

bench: venv
	$(PY) -m bench

# ruff (lint and format check) and mypy --strict on sidecar/, as .ci/run runs them.
lint: venv
	scripts/lint
