# Two entry points: `make run` and `make test`. Both set everything up and are idempotent.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup lint clean soak

# Browser modules made from npm packages (signaling/web/bundles/ -> static/vendor/), one ES module
# each; the pages load them from this origin like any other (no CDN, strict CSP kept).
VENDOR := signaling/web/static/vendor
BUNDLES := $(patsubst signaling/web/bundles/%,$(VENDOR)/%,$(wildcard signaling/web/bundles/*.js))

setup: $(STAMP) node_modules/.installed $(BUNDLES)

# Debian's Chromium for the browser tests (Playwright drives it; no browser download).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-liberation >/dev/null

# setup.py builds the C extension sfu._fanout in place (editable install): edits rebuild it.
$(STAMP): pyproject.toml setup.py sfu/_fanout.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Dev chain (chopsticks) and front-end packages from the npm registry, pinned by the lockfile.
node_modules/.installed: package.json $(wildcard package-lock.json)
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p node_modules && touch node_modules/.installed

$(VENDOR)/%.js: signaling/web/bundles/%.js node_modules/.installed
	node_modules/.bin/esbuild $< --bundle --format=esm --minify --log-level=warning --outfile=$@

run: setup
	$(BIN)/vilokanam run

# Debian's GStreamer WHIP client and the plugins it needs, for tests/interop (run as root).
WHIP_CLIENT := /usr/bin/whip-client
$(WHIP_CLIENT):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	  --no-install-recommends simple-whip-client gstreamer1.0-plugins-base \
	  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly \
	  gstreamer1.0-nice gcc libc6-dev iproute2 >/dev/null

# Two workers: the suite mostly waits (on media, chain blocks, subprocesses), so it takes about half
# the time on two cores; each test file runs whole on one worker (its module fixtures stay shared).
# VILOKANAM_REQUIRE_NATIVE=1: the native fan-out is optional to build, never to test here
# (tests/sfu/test_fanout.py fails if sfu._fanout did not build instead of skipping it).
TEST_WORKERS ?= 2
test: lint $(CHROMIUM) $(WHIP_CLIENT)
	VILOKANAM_REQUIRE_NATIVE=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# The long money soak (tests/billing/support/soak.py): minutes of kill -9 on the dev chain.
# SOAK_ARGS="--seconds 1800 --kills 200 --seed 7" to change it; `make test` runs the short one.
soak: setup
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

# Style, formatting, the one-way layers (pyproject [tool.importlinter]) and types.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache $(VENDOR)
