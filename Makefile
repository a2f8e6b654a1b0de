# Everything the project needs is installed from here: a fresh machine needs only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint typecheck layers pytest bench bench-crm bench-kb bench-http migrate seed model clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench,otel]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/salesboost db upgrade

seed: migrate
	$(BIN)/salesboost db seed

# The models are built from data/stage/ and data/compliance/ when absent (var/ is not committed).
model: install
	$(BIN)/salesboost train stage-classifier --if-missing
	$(BIN)/salesboost train compliance --if-missing

run: model seed
	$(BIN)/salesboost serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check src tests bench examples

typecheck: install
	$(BIN)/mypy src

# The import contracts of pyproject.toml ([tool.importlinter]): which layer may import which.
layers: install
	$(BIN)/lint-imports

pytest: model
	$(BIN)/pytest --cov=salesboost --cov-report=term --cov-report=xml:var/coverage.xml $(PYTEST_ARGS)

test: lint typecheck layers pytest

bench: install
	$(BIN)/python bench/executor_overhead.py

# The scale benchmarks take minutes (a million customers, 100,000 chunks); pass ARGS="--rows 20000" for a quick look.
bench-crm: install
	$(BIN)/python bench/crm_scale.py $(ARGS)

bench-kb: install
	$(BIN)/python bench/kb_scale.py $(ARGS)

bench-http: model seed
	$(BIN)/python bench/http_load.py $(ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
