# One task runner. `make` = test + lint, which is what CI runs (via .ci/run -> make test).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: all test lint setup demo bench eval clean

all: test lint

$(BIN)/stance: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

setup: $(BIN)/stance

test: setup  # the README's test command
	$(BIN)/python -m pytest
	$(BIN)/ruff check stance tests benchmarks
	$(BIN)/lint-imports

lint: setup
	$(BIN)/ruff check stance tests benchmarks
	$(BIN)/ruff format --check stance tests benchmarks || true
	$(BIN)/lint-imports
	$(BIN)/mypy stance

demo:
	$(PY) -m venv $(VENV) && $(BIN)/pip install -q -e . && $(BIN)/stance run examples/articles -o out

eval: setup
	$(BIN)/stance eval evals --model baseline -o reports/baseline

bench: setup
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) out dist build .pytest_cache .ruff_cache .mypy_cache
