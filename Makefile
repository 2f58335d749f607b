# Two commands: `make run` and `make test`. Everything else is set up on the way.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test

.PHONY: run test test-sqlite test-postgres lint typecheck bench services clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/smartpay serve --demo-processors

services:
	@bash scripts/services.sh

test: $(STAMP) services lint typecheck test-sqlite test-postgres

test-sqlite: $(STAMP)
	$(BIN)/pytest -q

test-postgres: $(STAMP) services
	SMARTPAY_TEST_DATABASE_URL=$(PG_URL) $(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP) services
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/payments.py

clean:
	rm -rf $(VENV) .smartpay .pytest_cache .mypy_cache .ruff_cache
