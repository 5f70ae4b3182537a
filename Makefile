# Two commands on a fresh machine: `make demo` and `make test` (`make test-fast`: without the slow tests).
# All bootstrap .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: install demo test test-fast lint notebooks bench clean

# Both test targets run on PYTEST_WORKERS pytest-xdist workers (README "Development": how many and why);
# --dist loadgroup runs each group of tests/xdist_groups.py (tests sharing the MLflow server or a trained fixture)
# on one worker. `make test PYTEST_WORKERS=1`, or plain `pytest -q` without -n, runs in one process.
PYTEST_WORKERS ?= 3
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadgroup

# --compile-bytecode: uv (unlike pip) leaves site-packages uncompiled, and where PYTHONDONTWRITEBYTECODE is set
# every process (CLI, servers, notebook kernels, each test subprocess) compiled MLflow, sklearn, Pyomo again:
# importing them took 11.3 s of CPU instead of 5.6 s.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m connectors.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_PARALLEL)

test-fast: $(STAMP)  # everything but the tests marked slow (servers, clusters, notebooks, watchdog kills)
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_PARALLEL)

notebooks: $(STAMP)
	$(BIN)/jupyter lab notebooks/

lint: $(STAMP)  # ruff on everything, mypy on optimizer and connectors (settings in pyproject.toml [tool.mypy])
	$(BIN)/ruff check optimizer connectors tests experiments
	$(BIN)/python -m mypy optimizer connectors

clean:
	rm -rf $(VENV) .dosing build *.egg-info .pytest_cache .mypy_cache
