"""mypy is clean on ``optimizer/`` and ``connectors/``, so CI (``make test``) checks types as ``make lint`` does.

Settings live in pyproject.toml ``[tool.mypy]``: untyped third-party libraries are ignored module by module."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mypy_is_clean_on_optimizer_and_connectors() -> None:
    run = subprocess.run([sys.executable, "-m", "mypy", "optimizer", "connectors"], cwd=ROOT, capture_output=True,
                         text=True, timeout=540, check=False)
    assert run.returncode == 0, f"mypy optimizer connectors failed (exit {run.returncode}):\n{run.stdout}{run.stderr}"
