# The two commands of the README:
#   make demo   — set up, then run `billing demo` on generated data
#   make test   — set up, then run every test (this is what .ci/run runs)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-deps demo test lint bench clean

setup: system-deps $(STAMP)

# WeasyPrint needs Pango; libharfbuzz-subset0 makes font subsetting ~4x faster.
system-deps:
	@bash scripts/system-deps.sh

$(STAMP): pyproject.toml constraints.txt
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	@$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

demo: setup
	@$(BIN)/billing demo

test: setup
	@$(BIN)/ruff check src flows tests bench
	@$(BIN)/python bench/run.py --quick --workdir $(CURDIR)/data/bench-smoke
	@$(BIN)/python -m pytest -n 2 --dist loadfile -q

bench: setup
	@$(BIN)/python bench/run.py --events 1000000 --events 10000000 --entities 5000

lint: setup
	@$(BIN)/ruff check src flows tests bench
	@$(BIN)/ruff format --check src flows tests bench

clean:
	rm -rf $(VENV) target logs .prefect data/generated out
