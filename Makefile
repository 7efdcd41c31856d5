# One task runner for the project. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench train evaluate clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mastering-trainer serve --host 127.0.0.1 --port 8000

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/mypy app

format: $(STAMP)
	$(BIN)/ruff check --fix app tests bench
	$(BIN)/ruff format app tests bench

bench: $(STAMP)
	$(BIN)/python -m bench.analysis
	$(BIN)/python -m bench.service

train: $(STAMP)
	$(BIN)/mastering-trainer corpus fetch
	$(BIN)/mastering-trainer dataset build --all
	$(BIN)/mastering-trainer train --all

evaluate: $(STAMP)
	$(BIN)/mastering-trainer evaluate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
