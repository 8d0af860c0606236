# The two commands of the README, plus a few conveniences.
#   make book [PRESET=quick|paper|smoke]   set up .venv, execute every chapter, build _build/html
#   make pdf [PRESET=quick]                the same executed chapters as a PDF (_build/latex/book.pdf), then
#                                          the HTML with a download entry for it (needs TeX Live: README)
#   make test                              ruff (lint and format check), then the test suite (every chapter
#                                          under the smoke preset)
#   make test-browser                      Chromium against the built book, and JupyterLab (needs make book)
#   make test-pdf                          the PDF read with poppler: chapters, numbers, pages (needs make pdf)
#   make bundle PRESET=study               copy a finished run's results into results/<preset>/ (committed)
#   make bench                             speed benchmarks (ratios against a reference, same process)
#   make corpus-en                         the Debian packages of the debian-en corpus (apt-get, sudo when not root)
#   make lab                               JupyterLab on the notebooks
#   make sync                              after editing a notebook or its MyST twin (notebooks/*.md): pair them
#   make format                            ruff's fixes and formatting, in place

PRESET ?= quick
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch goes in first, at the version pyproject.toml pins, so nothing pulls a different build.
# TORCH_INDEX (optional) is a package index for it, e.g. https://download.pytorch.org/whl/cpu.
TORCH := $(shell grep -o '"torch==[^"]*"' pyproject.toml | tr -d '"')

.PHONY: setup book pdf execute bundle test lint format sync test-browser test-pdf bench corpus-en lab clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e .
	touch $@

book: $(STAMP)
	BOOK_REPOSITORY_URL=$(BOOK_REPOSITORY_URL) $(BIN)/python -m helpers.runner book --preset $(PRESET)

pdf: $(STAMP)
	BOOK_REPOSITORY_URL=$(BOOK_REPOSITORY_URL) $(BIN)/python -m helpers.runner pdf --preset $(PRESET)

execute: $(STAMP)
	$(BIN)/python -m helpers.runner execute --preset $(PRESET)

bundle: $(STAMP)
	$(BIN)/python -m helpers.publish.bundle make --preset $(PRESET)

test: $(STAMP)
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Each notebook is paired with a MyST Markdown twin (what is reviewed and diffed); the newer of the
# two wins. The test suite fails while a pair disagrees.
sync: $(STAMP)
	$(BIN)/jupytext --sync notebooks/*.ipynb

# The browser tests are part of `make test` too, where they skip (saying why) without Chromium or a
# built book; here they must run.
test-browser: $(STAMP)
	REQUIRE_BROWSER=1 $(BIN)/python -m pytest -m browser

test-pdf: $(STAMP)
	REQUIRE_PDF=1 $(BIN)/python -m pytest -m pdf

bench: $(STAMP)
	$(BIN)/python -m helpers.publish.bench

# English prose for the corpus 'debian-en' (helpers.lm.corpus): the packages .ci/corpus-en-packages lists.
corpus-en:
	sudo_=""; [ "$$(id -u)" = 0 ] || sudo_="sudo"; \
	$$sudo_ apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$sudo_ apt-get install -y -qq --no-install-recommends $$(cat .ci/corpus-en-packages)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf _build
