# The two commands of the README:
#   make demo   set everything up (first run) and run the demo
#   make test   set everything up (first run) and run lint, types, layers and all tests
# For the edit-test loop: make check (the same checks, the slow tests left out).
# With a Maya: MAYAPY=/usr/autodesk/maya2025/bin/mayapy make test-maya (the mayapy lane, tests/maya/).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp
DEMO_DIR ?= demo_output
# pytest over the cores (pytest-xdist), at most 4 workers: each imports torch (~0.3 GB), and
# the process and race tests start their own processes. Two workers on two cores: 22 → 12 min.
PARALLEL ?= -n auto --maxprocesses 4 --dist worksteal

.PHONY: demo test check test-maya lint bench bench-core bench-scatter bench-texture bench-noise bench-browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "OpenPipeline needs Python 3.10 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

demo: $(STAMP)
	$(BIN)/openpipeline demo $(DEMO_DIR)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest $(PARALLEL)

check: lint
	$(BIN)/python -m pytest $(PARALLEL) -q -m "not slow"

# The mayapy lane: loads the plug-ins, computes both nodes, masters a scene in a real Maya.
# Finds mayapy as $$MAYAPY or on PATH (skipped, and says so, without one); mayapy needs the
# dependencies first (README, "Maya 2024-2026").
test-maya: $(STAMP)
	$(BIN)/python -m pytest -v -rs tests/maya

# Every benchmark; each also runs alone. bench-texture runs the texture set's held-out
# split (about half an hour on two cores; the earlier 3-photo grid, --part earlier, takes
# hours: see bench/dip_bench.py).
bench: bench-core bench-scatter bench-texture bench-noise bench-browser

bench-core: $(STAMP)
	$(BIN)/python bench/core_bench.py

bench-scatter: $(BENCH_STAMP)
	$(BIN)/python bench/scatter_bench.py

bench-browser: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python bench/browser_bench.py

bench-texture: $(BENCH_STAMP)
	$(BIN)/python bench/dip_bench.py --part all

bench-noise: $(STAMP)
	$(BIN)/python bench/noise_estimate_bench.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
