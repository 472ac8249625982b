# Two commands matter: `make run` (local mode, the seed's example on :8000) and `make test`.
# Each bootstraps .venv on first use; the stamps make later runs start at once.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint typecheck pytest bench fuzz synth cost clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Local mode: only the package's core dependencies, pinned through requirements.txt.
$(VENV)/.core: $(BIN)/python pyproject.toml requirements.txt
	$(BIN)/pip install -q -c requirements.txt -e .
	touch $@

# Everything: tests, AWS adapters, CDK.
$(VENV)/.all: $(BIN)/python pyproject.toml requirements.txt
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@ $(VENV)/.core

run: $(VENV)/.core
	$(BIN)/modalkit serve examples/async_uppercase/app.py --port 8000

lint: $(VENV)/.all
	$(BIN)/ruff check .

typecheck: $(VENV)/.all
	$(BIN)/mypy

pytest: $(VENV)/.all
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(VENV)/.all
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/worker_batching.py
	$(BIN)/python bench/lambda_init.py
	$(BIN)/python bench/cost.py

fuzz: $(VENV)/.all
	$(BIN)/python bench/fuzz.py

cost: $(VENV)/.all
	$(BIN)/python bench/cost.py

synth: $(VENV)/.all
	$(BIN)/python app.py

clean:
	rm -rf $(VENV) cdk.out .modalkit .mypy_cache .ruff_cache .pytest_cache
