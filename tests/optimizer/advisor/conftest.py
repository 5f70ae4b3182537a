"""A history of today's practice and the advisor learned from it, shared by the advisor tests."""

from __future__ import annotations

import pandas as pd
import pytest

from optimizer.advisor import Advisor, advisor_from_history
from optimizer.config import PlantConfig
from optimizer.simulator import simulate_history


@pytest.fixture(scope="session")
def history(cfg: PlantConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    return simulate_history(cfg, 600, 7)


@pytest.fixture(scope="session")
def advisor(cfg: PlantConfig, history: tuple[pd.DataFrame, pd.DataFrame]) -> Advisor:
    heats, samples = history
    return advisor_from_history(cfg, heats, samples)
