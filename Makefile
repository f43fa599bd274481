# Shared commands: `make demo`, `make test`, `make lint`, `make bench`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench system-packages runtime-packages clean

$(STAMP): pyproject.toml
	@scripts/ensure-venv.sh "$(PYTHON)" "$(VENV)"
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP) runtime-packages
	$(BIN)/depesche demo

# What every run needs (PDF rendering); `system-packages` adds what only the tests use.
runtime-packages:
	@scripts/system-packages.sh runtime

system-packages:
	@scripts/system-packages.sh test

# The suite runs twice: on SQLite (the embedded default), then on a PostgreSQL server that the
# test session starts in a temporary directory (tests/services.py: PostgresServer).
test: $(STAMP) system-packages
	$(BIN)/pytest
	DEPESCHE_TEST_DATABASE=postgresql $(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check config campaigns content workers web
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) examples/*/var examples/*/out
