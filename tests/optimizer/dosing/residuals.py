"""Surrogates with additive boosted residuals on Mn and Si (binaries in every heat), for the dosing tests."""

from __future__ import annotations

import copy

import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from optimizer.config import PlantConfig
from optimizer.simulator import simulate_history
from optimizer.surrogates import train_surrogates

FEATURES = ["initial_oxygen_ppm", "initial_temperature_degC", "add_SiMn_kg", "add_HC_FeMn_kg"]


def trained_history(cfg: PlantConfig, heats: int = 600, seed: int = 4):  # noqa: ANN201
    """Simulated history and the surrogates trained on it: (history, surrogate set)."""
    history, _ = simulate_history(cfg, heats, seed=seed)
    sset, _ = train_surrogates(cfg, history)
    return history, sset


def with_residuals(history: pd.DataFrame, trained):  # noqa: ANN001, ANN201
    """A copy of the ``trained`` surrogates whose Mn and Si outcomes carry a 30-tree HistGradientBoosting
    residual, additive in the two additions given the context (as optimizer/surrogates/residual.py builds
    them)."""
    sset = copy.deepcopy(trained)
    for o in ("final_Mn_wt_pct", "final_Si_wt_pct"):
        sur = sset.outcomes[o]
        resid = history[o].to_numpy() - sur.structure.predict(history)
        sur.residual_model = HistGradientBoostingRegressor(max_iter=30, max_depth=3, random_state=0,
                                                           interaction_cst=[[0, 1, 2], [0, 1, 3]]).fit(
            history[FEATURES], resid)
        sur.residual_features = FEATURES
    return sset
