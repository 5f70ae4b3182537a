"""Shared fixtures: the shipped example plant config and a tiny canonical plant."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from optimizer.config import PlantConfig, load_config  # noqa: E402


@pytest.fixture(scope="session")
def cfg() -> PlantConfig:
    """The shipped example ~100 t ladle furnace config."""
    return load_config()
