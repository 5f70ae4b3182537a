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

try:  # pytest-xdist (the dev extra) runs make test in parallel; without it pytest runs in one process as ever
    from tests.xdist_groups import GroupScheduling
except ImportError:
    GroupScheduling = None


@pytest.hookimpl(optionalhook=True)  # xdist's hook: ignored where xdist is missing or disabled (-p no:xdist)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist loadgroup``: each group of tests/xdist_groups.py on one worker; other modes as xdist has them."""
    if GroupScheduling is None or config.getvalue("dist") != "loadgroup":
        return None
    return GroupScheduling(config, log)


@pytest.fixture(scope="session")
def cfg() -> PlantConfig:
    """The shipped example ~100 t ladle furnace config."""
    return load_config()
