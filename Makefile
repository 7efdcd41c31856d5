# One task runner for the project. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench train evaluate clean lock docker-test scaleout load fuzz audit

# The locked releases (hash-checked), then the project itself, editable. Its dependencies are
# then already satisfied; one added to pyproject.toml but not yet locked is still installed (pip
# check below lists none missing) until `make lock` pins it.
$(STAMP): pyproject.toml requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip check
	touch $(STAMP)

# Pin every dependency with its hashes (service: requirements.lock, used by the Dockerfile;
# development: requirements-dev.lock, used by the venv and CI). Needs uv (pip install uv).
UV_COMPILE = uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --index-url https://pypi.org/simple \
	--custom-compile-command "make lock" --quiet
lock:
	$(UV_COMPILE) --extra postgres -o requirements.lock
	$(UV_COMPILE) --extra postgres --extra dev -o requirements-dev.lock

run: $(STAMP)
	$(BIN)/mastering-trainer serve --host 127.0.0.1 --port 8000

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: $(STAMP)
	$(BIN)/ruff check app tests bench ops
	$(BIN)/ruff format --check app tests bench ops
	$(BIN)/mypy app

format: $(STAMP)
	$(BIN)/ruff check --fix app tests bench ops
	$(BIN)/ruff format app tests bench ops

bench: $(STAMP)
	$(BIN)/python -m bench.analysis
	$(BIN)/python -m bench.service
	$(BIN)/python -m bench.response
	$(BIN)/python -m bench.recognition
	$(BIN)/python -m bench.transfer
	$(BIN)/python -m bench.training

train: $(STAMP)
	$(BIN)/mastering-trainer corpus fetch
	$(BIN)/mastering-trainer dataset build --all
	$(BIN)/mastering-trainer train --all

evaluate: $(STAMP)
	$(BIN)/mastering-trainer evaluate

# The Docker image and the compose stack, built and run from nothing (engine, base image, checks,
# cleanup): ops/docker-test.sh. Needs root (it may install and start Debian's docker.io).
docker-test: $(STAMP)
	bash ops/docker-test.sh

# Two server processes on two ports against one PostgreSQL (DATABASE_URL_POSTGRES), rating
# traffic to both at once; every 2xx rating stored exactly once. No Docker.
scaleout: $(STAMP)
	$(BIN)/python ops/scaleout.py $(SCALEOUT_ARGS)

# The load and fault scenarios (tests/load/scenarios.py; not part of make test), figures as JSON
# lines; docs/reliability.md has a run. LOAD_ARGS="--sustained-s 60 --only read,overload".
load: $(STAMP)
	$(BIN)/python -m tests.load.scenarios $(LOAD_ARGS)

# Bounded fuzzing of upload parsing and audio decoding (hypothesis), more examples than make test.
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-400} $(BIN)/python -m pytest -q -p no:randomly \
		tests/audio/test_io_fuzz.py tests/rating/test_uploads_fuzz.py

# pip-audit over the installed dependencies (ops/audit.sh; accepted ones in ops/audit-ignore.txt).
audit: $(STAMP)
	bash ops/audit.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
