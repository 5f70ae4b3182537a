"""Fixtures shared by the dosing tests: the surrogates three test modules used to train again each."""

from __future__ import annotations

import pytest

from tests.optimizer.dosing.residuals import trained_history, with_residuals


@pytest.fixture(scope="session")
def trained_600(cfg):  # noqa: ANN001, ANN201
    """600 simulated heats (seed 4) and the surrogates trained on them, once per session; copy before changing
    the surrogates."""
    return trained_history(cfg)


@pytest.fixture(scope="session")
def residual_surrogates(trained_600):  # noqa: ANN001, ANN201
    """Those surrogates with boosted residuals on Mn and Si (residuals.py); tests only read them."""
    return with_residuals(*trained_600)
