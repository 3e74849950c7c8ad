# pantry-mcp: every target sets up .venv from uv.lock first, so a fresh clone needs only
# python3 (3.11+) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
SYNCED := $(VENV)/.synced
PYTEST_ARGS ?=
VIEWS_DIR := src/pantry_mcp/views

.PHONY: install run test lint format bench clean views dist bundle

install: $(SYNCED)

$(SYNCED): pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv sync --frozen --inexact --python $(BIN)/python
	@touch $(SYNCED)

run: $(SYNCED)
	@$(BIN)/python scripts/run.py

test: $(SYNCED) tests/conformance/node_modules $(VIEWS_DIR)/node_modules bundle/node_modules
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# MCP Apps views: the bundle in $(VIEWS_DIR)/dist is committed (a clean clone and a wheel
# serve it without Node.js); `make views` type-checks and rebuilds it from the lock file,
# and a test fails when the committed bundle is not what the sources build.
$(VIEWS_DIR)/node_modules: $(VIEWS_DIR)/package.json $(VIEWS_DIR)/package-lock.json
	cd $(VIEWS_DIR) && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

views: $(VIEWS_DIR)/node_modules
	cd $(VIEWS_DIR) && npm run --silent check && npm run --silent build

# Node 22, the MCP conformance suite and the Inspector CLI for tests/e2e, from the lock file.
tests/conformance/node_modules: tests/conformance/package.json tests/conformance/package-lock.json
	cd tests/conformance && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

# What users install: the wheel and the sdist, built from pyproject.toml into dist/.
dist: $(SYNCED)
	$(BIN)/uv build --out-dir dist

# The Claude Desktop bundle, dist/pantry-mcp.mcpb (MCP Bundle manifest 0.4, server type "uv"):
# the wheel of `make dist` with a uv.lock pinning what uv.lock pins, validated and packed by
# the mcpb CLI pinned in bundle/package-lock.json.
bundle/node_modules: bundle/package.json bundle/package-lock.json
	cd bundle && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

bundle: dist bundle/node_modules
	$(BIN)/python bundle/build.py

lint: $(SYNCED)
	$(BIN)/ruff check src tests bench scripts bundle
	$(BIN)/ruff format --check src tests bench scripts bundle
	$(BIN)/mypy

format: $(SYNCED)
	$(BIN)/ruff check --fix src tests bench scripts bundle
	$(BIN)/ruff format src tests bench scripts bundle

# Benchmarks run our servers as users deploy them: runtime dependencies only (.venv-bench).
# fastmcp, the peer they are compared with, gets an environment of its own (.venv-fastmcp).
BENCH_VENV := .venv-bench
FASTMCP_VENV := .venv-fastmcp
BENCH_ARGS ?=

$(BENCH_VENV)/.synced: pyproject.toml uv.lock $(SYNCED)
	UV_PROJECT_ENVIRONMENT=$(BENCH_VENV) $(BIN)/uv sync --frozen --no-default-groups --python $(BIN)/python
	@touch $@

$(FASTMCP_VENV)/.synced: pyproject.toml uv.lock $(SYNCED)
	UV_PROJECT_ENVIRONMENT=$(FASTMCP_VENV) $(BIN)/uv sync --frozen --no-default-groups --group bench --python $(BIN)/python
	@touch $@

bench: $(BENCH_VENV)/.synced $(FASTMCP_VENV)/.synced
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BENCH_VENV)/bin/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(FASTMCP_VENV) dist .pytest_cache .mypy_cache .ruff_cache
