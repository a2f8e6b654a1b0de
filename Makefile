# Everything the project needs is installed from here: a fresh machine needs only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint typecheck pytest bench migrate seed clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/salesboost db upgrade

seed: migrate
	$(BIN)/salesboost db seed

run: seed
	$(BIN)/salesboost serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check src tests bench

typecheck: install
	$(BIN)/mypy src

pytest: install
	$(BIN)/pytest --cov=salesboost --cov-report=term --cov-report=xml:var/coverage.xml $(PYTEST_ARGS)

test: lint typecheck pytest

bench: install
	$(BIN)/python bench/executor_overhead.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
