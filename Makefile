# Two commands on a fresh machine with Python 3.11+: `make demo` and `make test`.
# Each creates .venv on first use and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
TEST_STAMP := $(VENV)/.installed-test-stamp
# The [diffusion] extra's torch, CPU build: the CUDA build from PyPI is gigabytes the tests never use.
# `make TORCH=torch` takes whatever pip picks instead (e.g. on a GPU machine).
TORCH ?= torch==2.13.0+cpu
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
# the index only when it answers: pip retries an unreachable one for every package (minutes)
# before it takes torch from its other sources (a mirror, a wheel folder)
TORCH_INDEX_ARG = $(shell $(PYTHON) -c 'import sys, urllib.request as r; r.urlopen(sys.argv[1] + "/torch/", timeout=10)' \
	'$(TORCH_INDEX)' >/dev/null 2>&1 && echo '--extra-index-url $(TORCH_INDEX)')

.PHONY: install demo test lint format typecheck bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "videoai-ray needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[transcribe,postgres,notebooks,test]'
	@touch $(STAMP)

# the tests need the [diffusion] extra (tiny models built by the tests), the benchmarks [bench]
# (Ray Data); `make demo` needs neither
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet $(TORCH_INDEX_ARG) '$(TORCH)' -e '.[diffusion,bench,models]'
	@touch $(TEST_STAMP)

install: $(TEST_STAMP)

demo: $(STAMP)
	$(BIN)/videoai demo

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(TEST_STAMP)
	$(BIN)/videoai bench all --markdown

clean:
	rm -rf $(VENV) .videoai videoai-demo-output .pytest_cache .ruff_cache .mypy_cache
