# The two commands of the README, plus a few conveniences.
#   make book [PRESET=quick|paper|smoke]   set up .venv, execute every chapter, build _build/html
#   make test                              the test suite (every chapter under the smoke preset)
#   make bench                             speed benchmarks (ratios against a reference, same process)
#   make lab                               JupyterLab on the notebooks

PRESET ?= quick
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch goes in first, at the version pyproject.toml pins, so nothing pulls a different build.
TORCH := $(shell grep -o '"torch==[^"]*"' pyproject.toml | tr -d '"')

.PHONY: setup book execute test bench lab clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e .
	touch $@

book: $(STAMP)
	$(BIN)/python -m helpers.runner book --preset $(PRESET)

execute: $(STAMP)
	$(BIN)/python -m helpers.runner execute --preset $(PRESET)

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m helpers.bench

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf _build
