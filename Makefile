# voice-onboarding — every target creates .venv and installs the project on first use.
.DEFAULT_GOAL := all
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME := $(VENV)/.runtime
# uv installs what pip would in a fraction of the time (parallel downloads, one shared cache);
# it is fetched once into .cache/ by pip. Where it cannot be fetched, pip does the same install.
UV := .cache/uv/bin/uv
INSTALL = if [ -x $(UV) ]; then VIRTUAL_ENV=$(CURDIR)/$(VENV) $(UV) pip install -q $(1); \
	else $(BIN)/python -m pip install -q --disable-pip-version-check $(1); fi

$(UV):
	@$(PYTHON) -m pip install -q --disable-pip-version-check --target .cache/uv uv >/dev/null 2>&1 \
	  || echo "note: could not fetch uv; installing with pip (slower)"

# The project is installed editable as a plain path in a .pth file (setuptools' "compat"
# mode): its default finder hook costs every Python process of the tool ~10 ms at start-up
# (it imports pathlib, re and urllib.parse from site), three processes in a cold `check`.
EDITABLE := --config-settings editable_mode=compat

# The runtime alone (what `make demo` needs); the development tools on top for test/lint.
$(RUNTIME): pyproject.toml | $(UV)
	@echo "make: installing voice-onboard and its runtime libraries into $(VENV) (first time only)"
	@if [ -x $(UV) ]; then $(UV) venv -q --allow-existing --seed --python $(PYTHON) $(VENV); \
	else $(PYTHON) -m venv $(VENV); fi
	@$(call INSTALL,$(EDITABLE) -e .)
	touch $(RUNTIME)

$(STAMP): $(RUNTIME)
	@echo "make: installing the development tools (pytest, mypy, ruff, the Huawei SDK …) into $(VENV)"
	@$(call INSTALL,$(EDITABLE) -e '.[dev]')
	touch $(STAMP)

# espeak-ng (Debian package) speaks the sample voices and the real-speech tests; installed like
# chromium where apt-get is usable as root.
ESPEAK_NG = command -v espeak-ng >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng; } >/dev/null 2>&1 || echo "note: espeak-ng not installed; sample voices are synthetic (the voice-activity checks reject them) and real-speech tests skip"; }

.PHONY: all install demo demo-check report-demo test test-deps soak lint typecheck check format bench

all: check

install: $(STAMP)

## make demo: sample voices → the whole pipeline against the in-process emulator.
demo: $(RUNTIME)
	@$(ESPEAK_NG)
	rm -rf var/demo
	$(BIN)/voice-onboard sample-data var/demo/inbox --voices 12 --profile huawei-basic --seed 7
	$(BIN)/voice-onboard run jobs/demo.toml

## make demo-check: the offline pre-flight on sample voices that include defects (exits 1).
demo-check: $(RUNTIME)
	@$(ESPEAK_NG)
	rm -rf var/demo
	$(BIN)/voice-onboard sample-data var/demo/inbox --voices 4 --profile huawei-basic --with-defects
	$(BIN)/voice-onboard check jobs/demo.toml || test $$? -eq 1

## make report-demo: a small batch with forced failures on the emulator, its HTML report, and a
## screenshot of it (headless Chromium) at var/report-demo/report.png.
report-demo: $(RUNTIME)
	$(BIN)/python -m pipeline.commands.report_demo var/report-demo

AZURITE := .cache/azurite/node_modules/.bin/azurite-blob

## Azurite (the Azure Storage emulator, from npm) for the blob-SAS tests, where Node.js is.
$(AZURITE):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --no-save --no-audit --no-fund --silent --prefix .cache/azurite azurite@3 \
	    >/dev/null 2>&1 || echo "note: could not install azurite; blob-SAS tests will skip"; \
	else echo "note: no Node.js here; blob-SAS tests will skip"; fi

test-deps: $(AZURITE)

## The suite mostly waits (emulated time, subprocess batches, servers), so it runs on
## TEST_WORKERS processes (pytest-xdist); tests marked `exclusive` restart a shared service
## (PostgreSQL) and run alone afterwards. Exit 5 is pytest's "no test selected".
TEST_WORKERS ?= 3

test: $(STAMP) test-deps
	@$(ESPEAK_NG)
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } >/dev/null 2>&1 || echo "note: chromium not installed; the report's browser tests will skip"; }
	$(BIN)/pytest -q -n $(TEST_WORKERS) -m 'not exclusive'
	$(BIN)/pytest -q -m exclusive || test $$? -eq 5

## make soak: the reliability soaks at the issue's sizes (200 voices under faults, 50 voices
## killed 20 times; 50 Huawei / 30 Azure voices through two provider outages and an emulator
## restart, a detached batch collected across restarts; PostgreSQL restarted under 3 workers
## and 60 voices — this one restarts the local server, so run it on a machine of your own) and
## the fuzzers with many more examples; figures land in var/soak.log.
SOAKS := tests/integration/test_crash_soak.py $(wildcard tests/integration/test_outages.py) \
	tests/integration/test_scaleout_pg_restart.py $(wildcard tests/fuzz)
soak: $(STAMP)
	mkdir -p var
	VOICE_ONBOARD_SOAK=1 VOICE_ONBOARD_FUZZ_EXAMPLES=5000 $(BIN)/pytest -q -s -p no:cacheprovider \
		$(SOAKS) > var/soak.log 2>&1; \
	status=$$?; grep -vE '^\{|^20[0-9][0-9]-' var/soak.log | tail -40; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check pipeline tests
	$(BIN)/ruff format --check pipeline tests
	$(BIN)/lint-imports  # the layer rules: [tool.importlinter] in pyproject.toml

format: $(STAMP)
	$(BIN)/ruff format pipeline tests
	$(BIN)/ruff check --fix pipeline tests

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

## make bench: benchmarks against sox and curl -> var/bench/results.json and a table (~10 min;
## corpora are generated into var/bench/ once). BENCH_ARGS="--only polling --rounds 1" narrows it.
bench: $(STAMP)
	@command -v sox >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" -eq 0 ]; then \
	    echo "bench: installing sox (apt-get)"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sox >/dev/null; } \
	      || echo "bench: could not install sox; the normalization benchmark will be skipped"; \
	  else \
	    echo "bench: sox is missing and apt-get is not usable; the normalization benchmark will be skipped"; \
	  fi; }
	$(BIN)/python -m bench.run $(BENCH_ARGS)
