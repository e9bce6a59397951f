# tsukuba-gis: `make run` installs, loads the sample data and serves; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install run etl serve test test-fast test-deps lint format clean bench screenshots

help:  ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/tsukuba-gis: pyproject.toml
	@PY=$$(tools/find-python) && echo "using $$PY" && \
	  { [ -x $(BIN)/python ] || $$PY -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[all]' --group test
	@touch $@

viewer/node_modules/.package-lock.json: viewer/package.json viewer/package-lock.json
	cd viewer && npm ci --no-audit --no-fund
	@touch $@

VIEWER_SRC := $(shell find viewer/src -type f 2>/dev/null)
viewer/public/build/index.js: viewer/node_modules/.package-lock.json $(VIEWER_SRC)
	cd viewer && npm run build --silent

install: $(BIN)/tsukuba-gis viewer/public/build/index.js  ## Install Python (.venv) and viewer (npm) dependencies

etl: install  ## Load every layer of layers/ into the store (data/)
	$(BIN)/tsukuba-gis etl

serve: install  ## Serve on http://$(HOST):$(PORT)
	$(BIN)/tsukuba-gis serve --host $(HOST) --port $(PORT)

run: install  ## Install, load the sample data, serve on http://127.0.0.1:8000
	$(BIN)/tsukuba-gis etl
	$(BIN)/tsukuba-gis serve --host $(HOST) --port $(PORT)

TEST_PACKAGES := chromium fonts-ipafont-gothic postgresql-15-postgis-3 gdal-bin python3-qgis wrk
test-deps:  ## System packages the tests need (Chromium, a Japanese font), from Debian
	@missing=$$(for p in $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing from Debian: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# Two pytest processes (pytest-xdist), a test file each at a time: the suite keeps about one of
# the two cores busy when run alone (its servers, PostgreSQL and Chromium wait on each other).
# Each process has its own session set-ups (sample stores, PostGIS cluster, Chromium, servers);
# a file's tests stay together and in order, so its module-scoped set-ups are made once.
TEST_WORKERS ?= 2
PYTEST = $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile
test: install test-deps  ## Run the whole test suite (what CI runs)
	$(PYTEST)

FAST := not postgis and not browser and not live
test-fast: install  ## The edit-run loop: in-process tests only (no Chromium, PostgreSQL or server process)
	$(PYTEST) -m "$(FAST)"

# wrk and PostGIS; the C peers (MapServer 8 and QGIS Server as FastCGI under lighttpd; PyQGIS
# writes QGIS's project); nginx for the scale-out run.
BENCH_PACKAGES := wrk postgresql-15-postgis-3 mapserver-bin cgi-mapserver lighttpd qgis-server python3-qgis nginx
bench: install  ## Serving bench vs TiPg, pygeoapi, MapServer, QGIS Server; growth 20k-2M; nginx scale-out; live edits; deliveries (~60+ min, quiet machine)
	@missing=$$(for p in $(BENCH_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing from Debian: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	$(BIN)/pip install -q --group bench
	$(BIN)/python bench/serve.py
	$(BIN)/python bench/growth.py
	$(BIN)/python bench/scaleout.py --out bench/SCALEOUT.md
	$(BIN)/python bench/edits.py
	$(BIN)/python bench/notify.py

screenshots: install test-deps  ## Refresh the README's viewer pictures (docs/viewer*.png)
	TSUKUBA_GIS_UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/viewer/test_phone_print_access.py -k screenshots

PY_DIRS := tsukuba_gis etl server tests bench tools
lint:  ## ruff check and ruff format --check
	$(BIN)/python -m ruff check $(PY_DIRS)  # also a test: tests/test_style.py
	$(BIN)/python -m ruff format --check $(PY_DIRS)

format:  ## ruff format (the style the suite checks)
	$(BIN)/python -m ruff format $(PY_DIRS)

clean:  ## Remove the venv, npm packages and generated data
	rm -rf $(VENV) viewer/node_modules data
