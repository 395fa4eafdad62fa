# Every target creates .venv by itself; `make demo` and `make test` are all a fresh machine needs.
PYTHON ?= python3
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
STAMP_BENCH := $(VENV)/.installed-bench
STAMP_DOCS := $(VENV)/.installed-docs
STAMP_RELEASE := $(VENV)/.installed-release
STAMP_MUTATION := $(VENV)/.installed-mutation
# How many processes run the suite (pytest-xdist): one per core by default;
# PYTEST_WORKERS=0 runs it in this one process.
PYTEST_WORKERS ?= auto
# What `make test-wheel` passes to pytest, e.g. PYTEST_ARGS="-q -m e2e".
PYTEST_ARGS ?= -q -n $(PYTEST_WORKERS) --dist worksteal
RESULTS := bench/results

.PHONY: demo serve test lint check build test-wheel bench docs docs-serve mutation native core clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The editable install's metadata holds the version, read from __init__.py at install.
$(STAMP_RUN): pyproject.toml asgi_audit/__init__.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[sql]' fastapi uvicorn httpx
	touch $@

$(STAMP_DEV): pyproject.toml asgi_audit/__init__.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

$(STAMP_BENCH): pyproject.toml asgi_audit/__init__.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@ $(STAMP_DEV) $(STAMP_RUN)

$(STAMP_DOCS): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $@

# build and twine, from the `release` dependency group (pip 25.1 or later).
$(STAMP_RELEASE): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --group release
	touch $@

$(STAMP_MUTATION): pyproject.toml | $(STAMP_DEV)
	$(BIN)/python -m pip install --quiet --group mutation
	touch $@

demo: $(STAMP_RUN)
	@$(MAKE) --no-print-directory core
	$(BIN)/python -m demo.traffic

# The demo on http://127.0.0.1:8000; demo/serve.py says why uvicorn's proxy headers are off.
serve: $(STAMP_RUN)
	$(BIN)/python -m demo.serve

# The whole suite. Where cargo is on PATH, the compiled scanner core is built and
# installed first (`make native`), so the suite runs on it and its property tests
# hold it to the pure-Python reference; without cargo the suite runs on the reference
# alone (and says so). `.ci/test-wheel` runs the suite on the pure wheel as well.
test: $(STAMP_DEV)
	@if command -v cargo >/dev/null 2>&1; then $(MAKE) --no-print-directory native; \
	else echo "make test: no cargo: the compiled scanner core is not built or tested"; fi
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist worksteal

lint: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check: lint test

# The sdist, and the wheel built from it, in dist/; checked as PyPI would
# (twine check --strict) and for what they hold (.ci/check_dist.py).
build: $(STAMP_RELEASE)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/python -m twine check --strict dist/*
	$(BIN)/python .ci/check_dist.py dist

# The suite against the built wheel installed in a fresh virtual environment made
# by $(PYTHON), run from the unpacked sdist (see .ci/test-wheel).
test-wheel: build
	.ci/test-wheel $(PYTHON) $(PYTEST_ARGS)

# Both benchmarks, side by side with the alternatives (about 7 minutes). The
# uvicorn + wrk part needs wrk (Debian: apt-get install wrk); without it, it is skipped.
bench: $(STAMP_BENCH)
	@$(MAKE) --no-print-directory core
	mkdir -p $(RESULTS)
	$(BIN)/python bench/emit.py --json $(RESULTS)/emit.json | tee $(RESULTS)/emit.md
	$(BIN)/python bench/middleware.py --json $(RESULTS)/middleware.json \
		$$(command -v wrk >/dev/null || echo --no-wrk) | tee $(RESULTS)/middleware.md

# The documentation site, built with every warning an error, into site/.
docs: $(STAMP_DOCS)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The site on http://127.0.0.1:8001, rebuilt on every change (8000 is `make serve`'s).
docs-serve: $(STAMP_DOCS)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

# Mutation testing of the modules and tests named in pyproject.toml's [tool.mutmut]
# (tens of minutes); `.venv/bin/mutmut results` lists the survivors afterwards.
mutation: $(STAMP_MUTATION)
	$(BIN)/mutmut run

# The optional compiled scanner core (native/: Rust, PyO3), built in release mode by
# maturin and installed into .venv; asgi_audit works without it (record/engine.py).
# Needs cargo; `ASGI_AUDIT_PURE=1` keeps the reference scanner even when it is there.
native: | $(BIN)/python
	@$(MAKE) --no-print-directory core
	cd native && cargo test --release --quiet

# The core for `make demo` and `make bench`: built and installed where cargo is on
# PATH (not tested: `make test` does that), else the pure-Python pipeline, said aloud.
core: | $(BIN)/python
	@if command -v cargo >/dev/null 2>&1; then \
	  $(BIN)/python -m pip install --quiet 'maturin>=1.9.4,<2' && \
	  VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/maturin develop --quiet --release -m native/Cargo.toml; \
	else echo "no cargo: the compiled core is not built; asgi_audit runs on its pure-Python pipeline"; fi

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis build dist mutants native/target
