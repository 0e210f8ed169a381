# One task runner for people and CI. `make demo` runs the main job; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install setup demo test lint format unit eval bench-load fuzz clean-state browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Set up: Neo4j (resolve, start, schema) and the offline models.
setup: install
	$(BIN)/skg setup

## The main job: set up, ingest data/samples, answer the example question.
demo: install
	$(BIN)/skg demo

## The tests: ruff and mypy, then unit and integration tests against a real Neo4j and real models.
test: install browser
	$(BIN)/skg models prepare
	$(BIN)/skg neo4j resolve
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

## Debian's Chromium for the reps' page test (tests/integration/test_rep_page.py), with CJK and
## emoji fonts so its screenshots are legible. Never `playwright install`: it downloads.
BROWSER_PACKAGES := chromium fonts-wqy-microhei fonts-noto-color-emoji
browser:
	dpkg -s $(BROWSER_PACKAGES) >/dev/null 2>&1 || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES))

unit: install
	$(BIN)/python -m pytest -m unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Retrieval quality of the served ranking on every set and split, one table (docs/retrieval.md).
## Writes $(EVAL_OUT)/eval.json and each system's runs under $(EVAL_OUT)/runs; EVAL_ARGS="--no-cache".
EVAL_OUT ?= .skg/eval
eval: install
	$(BIN)/skg models prepare
	mkdir -p $(EVAL_OUT)
	$(BIN)/skg eval --suite --json $(EVAL_OUT)/eval.json --runs-dir $(EVAL_OUT)/runs $(EVAL_ARGS)

## Load test: 20 clients against `skg serve` (after `make demo`); LOAD_ARGS="--duration 30".
$(VENV)/.bench-stamp: pyproject.toml | $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	touch $@

bench-load: $(VENV)/.bench-stamp
	$(BIN)/python benchmarks/load_test.py $(LOAD_ARGS)

## API fuzz: schemathesis, all checks, on its own Neo4j (7694) and server; FUZZ_ARGS="--examples 50".
$(VENV)/.security-stamp: pyproject.toml | $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,security]"
	touch $@

fuzz: $(VENV)/.security-stamp
	$(BIN)/skg models prepare
	$(BIN)/skg neo4j resolve
	$(BIN)/python benchmarks/fuzz.py $(FUZZ_ARGS)

## Stop the local Neo4j and delete all project state (.skg/): data, models, indexes.
clean-state: install
	-$(BIN)/skg neo4j stop
	rm -rf .skg
