"""Shared fixtures: the shipped example plant config and a tiny canonical plant."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# One OpenMP/BLAS thread per process (inherited by the CLI, server, worker and kernel subprocesses the tests start):
# the tests fit small models, where a second thread mostly spin-waits; on a loaded 2-core machine that spinning
# took 5x the CPU (tests/optimizer/ladle/test_stage_model.py + test_tree_properties.py: 35 s -> 7 s CPU).
# Set before sklearn/numpy load their thread pools; an explicit value in the environment wins.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from optimizer.config import PlantConfig, load_config  # noqa: E402


@pytest.fixture(scope="session")
def cfg() -> PlantConfig:
    """The shipped example ~100 t ladle furnace config."""
    return load_config()
