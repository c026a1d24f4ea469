# One command per task: run, test, lint, bench. Each creates what it needs (.venv,
# node_modules, the built front end) on a fresh machine.
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
UI_DEPS := frontend/node_modules/.installed
UI_BUILT := backend/sockscope/static/index.html
UI_SOURCES := $(shell find frontend/src frontend/index.html frontend/vite.config.ts frontend/package.json -type f 2>/dev/null)

.PHONY: run test lint bench ui venv types clean browser wire-reader lock check-installed docker-test fuzz proxy-test

run: $(PY_STAMP) $(UI_BUILT)
	$(BIN)/sockscope --host $(HOST) --port $(PORT)

test: $(PY_STAMP) $(UI_BUILT) browser wire-reader
	cd frontend && npm test
	$(BIN)/pytest

lint: $(PY_STAMP) $(UI_DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check backend tests bench
	$(BIN)/mypy
	cd frontend && npm run check

bench: $(PY_STAMP)
	$(BIN)/python -m bench

venv: $(PY_STAMP)

# The front end's wire types (src/protocol/events.ts), generated from the JSON Schema that
# backend/sockscope/contract prints (kept as src/protocol/wire.schema.json).
types: $(PY_STAMP) $(UI_DEPS)
	cd frontend && PYTHON=../$(BIN)/python npm run types

ui: $(UI_BUILT)

# Pinned, hashed dependencies (requirements/*.txt, made by `make lock`), then the project
# itself without resolving anything again.
$(PY_STAMP): pyproject.toml requirements/dev.txt requirements/build.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt -r requirements/build.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Re-pin every dependency after a change to pyproject.toml (or to take newer releases).
lock: $(PY_STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile -q --generate-hashes --python-version 3.11 pyproject.toml -o requirements/run.txt
	$(BIN)/uv pip compile -q --generate-hashes --python-version 3.11 pyproject.toml --extra dev -o requirements/dev.txt
	$(BIN)/uv pip compile -q --generate-hashes --python-version 3.11 requirements/build.in -o requirements/build.txt

# Fuzz the API harder than `make test` does: the REST and websocket command fuzzers with
# more cases, then schemathesis against the OpenAPI document (both bounded in time).
FUZZ_EXAMPLES ?= 2000
FUZZ_SECONDS ?= 240
fuzz: $(PY_STAMP)
	SOCKSCOPE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/fuzz -q
	$(BIN)/python tests/fuzz/run_schemathesis.py --max-examples 50 --max-time $(FUZZ_SECONDS)

# The package as a user gets it: the wheel, installed into a fresh virtual environment
# (not editable), then the workshop smoke check against its `sockscope` command.
check-installed: $(PY_STAMP) $(UI_BUILT)
	$(BIN)/python tests/installed/check_wheel.py

# The image and compose file, for real: needs a Docker engine (CI starts one with the
# scripts in ../shared/ci/docker when they are there; DOCKER_TOOLS=... to point elsewhere).
DOCKER_TOOLS ?= ../shared/ci/docker
docker-test: $(PY_STAMP)
	@if [ -d "$(DOCKER_TOOLS)" ]; then \
	  bash "$(DOCKER_TOOLS)/start-dockerd" && bash "$(DOCKER_TOOLS)/standin-bases"; \
	else docker info >/dev/null || { echo "docker-test: no Docker engine answers"; exit 1; }; fi
	$(BIN)/python tests/installed/check_docker.py

# Two rooms behind nginx, routed by host name, with the server block docs/api.md shows
# ("Beyond one machine"). Installs nginx-light with apt when run as root.
proxy-test: $(PY_STAMP)
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null; \
	  else \
	    echo "proxy-test needs nginx: sudo apt-get install -y nginx-light"; exit 1; \
	  fi; }
	$(BIN)/python tests/installed/check_proxy.py

$(UI_DEPS): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

$(UI_BUILT): $(UI_DEPS) $(UI_SOURCES)
	cd frontend && npm run build

# The browser tests drive Debian's Chromium; install it when missing and allowed.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser tests need Debian's chromium: sudo apt-get install -y chromium"; exit 1; \
	  fi; }

# tshark reads the wire lane's pcapng export in the tests, as Wireshark would open it.
wire-reader:
	@command -v tshark >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tshark >/dev/null; \
	  else \
	    echo "The capture tests read pcapng with tshark: sudo apt-get install -y tshark"; exit 1; \
	  fi; }

clean:
	rm -rf $(VENV) frontend/node_modules backend/sockscope/static .pytest_cache .mypy_cache .ruff_cache
