# Two entry points (see README): `make demo` and `make test`. Both set everything up from scratch:
# a virtualenv with Airflow and this provider, and a local Airflow home with its metadata database.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
AIRFLOW_VERSION := 3.3.2

export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/example_dags

# pip on this kind of machine warns about absent local mirrors; keep the real output readable.
QUIET_PIP := 2> >(grep -v "^WARNING: Location '" >&2)

.PHONY: setup lint test demo ui bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# A checkout installed before the rename holds the old distribution name: two would register twice.
	$(BIN)/pip uninstall --quiet --yes airflow-provider-braze 2>/dev/null || true
	$(BIN)/pip install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -e ".[test]" $(QUIET_PIP)
	# The editable build leaves its metadata here too; commands run from this directory (python -m
	# airflow, pytest) would then find the distribution twice and register its plugins twice.
	rm -rf *.egg-info
	touch $@

$(AIRFLOW_HOME)/airflow.db: $(BIN)/.installed
	mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || { cat $(AIRFLOW_HOME)/db-migrate.log; exit 1; }

setup: $(BIN)/.installed $(AIRFLOW_HOME)/airflow.db

# Static checks, configured in pyproject.toml: ruff over the whole repository, mypy over the package.
lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The suite also runs the state store and SQL sources against a real PostgreSQL on loopback, and the
# sync history page in a headless Chromium (installed with apt-get when absent). The static checks run
# first, so a lint or type error fails `make test` as a failing test would.
test: setup lint
	tools/test_browser.sh
	url="$$(tools/test_postgres.sh start)"; \
	rc=0; BRAZE_PROVIDER_TEST_POSTGRES_URL="$$url" $(BIN)/python -m pytest || rc=$$?; \
	tools/test_postgres.sh stop; exit $$rc

demo: setup
	$(BIN)/python -m demo

# The API server on the demo's Airflow home: the sync history at /braze/syncs (run `make demo` first).
ui: setup
	$(BIN)/python -m demo.ui

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(AIRFLOW_HOME) .demo test-artifacts *.egg-info
