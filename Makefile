# scorehouse — the commands the README names. Everything runs from the repository root.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
DBT := $(VENV)/bin/dbt
SCOREHOUSE := $(VENV)/bin/scorehouse
export DBT_PROFILES_DIR ?= $(CURDIR)
# The BI marts carry keys hashed with this salt (docs/privacy.md). DEMO ONLY: it is public
# here; a real warehouse sets its own secret in the environment, never in a file.
export SCOREHOUSE_PSEUDONYM_SALT ?= demo-only-salt-not-a-secret
# Demo size: about two minutes end to end on 2 cores.
SUBSCRIBERS ?= 50000
MONTHS ?= 12

.PHONY: help venv browser demo bank-demo bank-files test lint pytest test-duckdb test-postgres test-spark test-engines docs clean pg-start pg-stop

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# uv from PATH, else as a module of the system Python (installed on first use)
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

$(VENV)/.installed: pyproject.toml
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet "uv==0.13.8"
	$(UV) venv --quiet --allow-existing --python 3.11 $(VENV)
	$(UV) pip install --quiet --python $(PY) -e ".[dev]"
	@touch $@

venv: $(VENV)/.installed  ## create .venv and install scorehouse with its pinned dependencies

browser:  ## install Debian's Chromium for the report's browser test (once)
	@bash scripts/install_chromium.sh

profiles.yml:
	cp profiles_example.yml profiles.yml

demo: venv profiles.yml  ## generate operator data, then the monthly cycle (dbt build, train, score, marts) and a summary
	$(SCOREHOUSE) generate --subscribers $(SUBSCRIBERS) --months $(MONTHS)
	$(SCOREHOUSE) run --train --history 2

bank-demo: venv profiles.yml  ## the bank cycle on generated data (docs/bank.md), into the same warehouse
	$(SCOREHOUSE) generate --domain bank
	$(SCOREHOUSE) run --domain bank --train

# The README's file-in/file-out example, line for line: generated sample files, then the
# four jobs (and the groceries baskets) from files, each into its own embedded DuckDB.
# GROCERIES: the public groceries basket file (README, "Example data"), path from bank_files/.
BANK_CLI := ../$(SCOREHOUSE) --project-dir ..
GROCERIES ?= ../../shared/data/groceries/groceries.csv
bank-files: venv  ## the bank jobs from files (README): bank_files/*.csv in, results out
	$(SCOREHOUSE) generate --domain bank --csv-dir bank_files
	cd bank_files && $(BANK_CLI) bank churn-warning  --input corporate_monthly.csv --output churn_warnings.csv
	cd bank_files && $(BANK_CLI) bank potential      --input corporate_monthly.csv --related corporate_registrations.csv --output potential_ids.csv
	cd bank_files && $(BANK_CLI) bank cross-sell     --input retail_customers.csv --output cross_sell.csv
	cd bank_files && $(BANK_CLI) bank product-mining --input retail_customers.csv --output product_mining.csv
	@cd bank_files && if [ -f $(GROCERIES) ]; then \
		$(BANK_CLI) bank cross-sell --baskets --input $(GROCERIES) --output groceries_cross_sell.csv; \
	else echo "groceries baskets skipped: no $(GROCERIES) (README: Example data; make bank-files GROCERIES=...)"; fi

lint: venv profiles.yml  ## ruff and sqlfluff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	SCOREHOUSE_DUCKDB_PATH=$$(mktemp -d)/lint.duckdb $(VENV)/bin/sqlfluff lint models tests/dbt analyses

# Two pytest workers (the machine's two cores); a test file's tests stay on one worker, so
# a module's warehouse is built once (a session fixture: once per worker that needs it).
# Files run in the order tests/python/conftest.py gives them: the Spark files first.
XDIST := -n 2 --dist loadfile --no-loadscope-reorder

pytest: venv profiles.yml browser  ## the three engines' test suites in one run (each worker its own servers)
	$(VENV)/bin/pytest $(XDIST)

test-duckdb: venv profiles.yml browser  ## the suite on the embedded DuckDB (Python tests, dbt builds, e2e)
	$(VENV)/bin/pytest -m "not postgres and not spark" $(XDIST)

test-engines: venv profiles.yml  ## the PostgreSQL and Spark suites side by side (each worker its own server)
	$(VENV)/bin/pytest -m "postgres or spark" $(XDIST)

test-postgres: venv profiles.yml  ## end to end on PostgreSQL 15 (starts its own throwaway server)
	$(VENV)/bin/pytest -m "postgres and not spark"

test-spark: venv profiles.yml  ## end to end on Spark (dbt-spark session) and parity of all three engines
	$(VENV)/bin/pytest -m spark

test: lint pytest  ## lint, then every engine's test suite

docs: venv profiles.yml  ## dbt docs (lineage from raw tables to composite scores) into target/
	$(DBT) docs generate

pg-start:  ## start a throwaway local PostgreSQL 15 (prints the SCOREHOUSE_PG_* env to export)
	@bash scripts/local_postgres.sh start

pg-stop:  ## stop it and delete its data directory
	@bash scripts/local_postgres.sh stop

clean:  ## remove build outputs, the demo warehouse and artifacts (keeps .venv)
	rm -rf target logs artifacts scorehouse.duckdb scorehouse.duckdb.wal .pytest_cache .scorehouse-bank bank_files
