# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck check bench demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## the whole suite: lint, types, unit, contract and integration tests
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

## benchmark figures quoted in README.md
bench: install
	$(BIN)/hub bench

GOST_ENGINE := libengine-gost-openssl

## the main job end to end on the embedded default (installs OpenSSL's GOST engine when it can)
demo: install
	@dpkg -s $(GOST_ENGINE) >/dev/null 2>&1 \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	       && { apt-get install -y -qq $(GOST_ENGINE) || { apt-get update -qq && apt-get install -y -qq $(GOST_ENGINE); }; }; } \
	  || echo "make demo: cannot install $(GOST_ENGINE) here; the demo runs on pure-Python GOST"
	$(BIN)/hub demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
