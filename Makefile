# Two commands for a fresh Debian machine with Python 3.11:
#   make demo   - everything embedded, simulated faulty devices, tickets within a minute
#   make test   - the whole suite against real Mosquitto, InfluxDB, SQLite and PostgreSQL

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint system-deps bench dashboards clean web

# The board's, KPI page's and reports' libraries come from npm's registry through the
# committed lockfile, and the service serves them itself (api/static/vendor/).
WEB_VENDOR := api/static/vendor/echarts.min.js

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_VENDOR): web/node_modules/.installed
	mkdir -p api/static/vendor
	cp web/node_modules/echarts/dist/echarts.min.js $@

web: $(WEB_VENDOR)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.base-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.base-installed

demo: $(VENV)/.base-installed $(WEB_VENDOR)
	$(BIN)/facmon demo

system-deps:
	@sh .ci/system-deps

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy contract gateway storage observability detectors quality ingest api dashboards simulators facmon tools
	$(BIN)/lint-imports

test: $(VENV)/.test-installed system-deps $(WEB_VENDOR) lint
	$(BIN)/python -m pytest -q

bench: $(VENV)/.test-installed system-deps
	$(BIN)/facmon bench ingest

dashboards: $(VENV)/.base-installed
	$(BIN)/facmon dashboards build

clean:
	rm -rf $(VENV) .data test-output web/node_modules api/static/vendor
