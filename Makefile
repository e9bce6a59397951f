# tsukuba-gis: `make run` installs, loads the sample data and serves; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install run etl serve test test-deps lint clean bench

help:  ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/tsukuba-gis: pyproject.toml
	@PY=$$(tools/find-python) && echo "using $$PY" && \
	  { [ -x $(BIN)/python ] || $$PY -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q -e . --group test
	@touch $@

viewer/node_modules/.package-lock.json: viewer/package.json viewer/package-lock.json
	cd viewer && npm ci --no-audit --no-fund
	@touch $@

install: $(BIN)/tsukuba-gis viewer/node_modules/.package-lock.json  ## Install Python (.venv) and viewer (npm) dependencies

etl: install  ## Load every layer of layers/ into the store (data/)
	$(BIN)/tsukuba-gis etl

serve: install  ## Serve on http://$(HOST):$(PORT)
	$(BIN)/tsukuba-gis serve --host $(HOST) --port $(PORT)

run: install  ## Install, load the sample data, serve on http://127.0.0.1:8000
	$(BIN)/tsukuba-gis etl
	$(BIN)/tsukuba-gis serve --host $(HOST) --port $(PORT)

test-deps:  ## System packages the tests need (Chromium), from Debian
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: install test-deps  ## Run the whole test suite
	$(BIN)/python -m pytest -q

lint:  ## ruff
	$(BIN)/python -m ruff check tsukuba_gis etl server tests bench tools

clean:  ## Remove the venv, npm packages and generated data
	rm -rf $(VENV) viewer/node_modules data
