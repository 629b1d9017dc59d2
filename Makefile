# Everything a fresh machine needs, from Python alone: `make run`, `make test`.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV := .venv
# `make run` and `make ui` share one Dagster instance, so command-line runs show in the UI.
DAGSTER_HOME := $(CURDIR)/.dagster
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)

.PHONY: setup run test ui bench sample clean

# A .venv/ with the project installed from uv.lock, exactly (so .venv/bin/hiu works).
# uv is installed with pip when missing.
setup:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --python $(PYTHON)
	@$(VENV)/bin/python -m pipeline.instance $(DAGSTER_HOME)  # SQLite, or PostgreSQL when DAGSTER_PG_URL is set

run: setup
	DAGSTER_HOME=$(DAGSTER_HOME) $(VENV)/bin/hiu run

test: setup
	$(VENV)/bin/pytest -n 2 --dist loadgroup  # two workers; tests sharing an expensive fixture together (tests/conftest.py)

ui: setup
	DAGSTER_HOME=$(DAGSTER_HOME) $(VENV)/bin/dagster dev -m pipeline.definitions -h 127.0.0.1 -p 3000

bench: setup
	$(VENV)/bin/python -m tests.bench.run_bench

# Regenerate the committed sample drop (a test proves this gives the same content).
sample: setup
	rm -rf data/sample && $(VENV)/bin/hiu generate --population 20000 --seed 20250331 --out data/sample --no-progress

clean:
	rm -rf outputs data/warehouse.duckdb $(DAGSTER_HOME)
