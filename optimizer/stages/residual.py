"""A learned residual on the stage models: boosted trees per outcome for what the physics misses.

The trees see only the stage's context, never what is decided in it: the state at the last sample (temperature
and every element), the stage number, main stage or trim, arrival oxygen, slag FeO and steel weight. So for one
stage the residual is one number per outcome, evaluated once before the stage LP, and the LP stays linear in the
decision (no embedding needed).

An outcome gets its residual only when the residual beats the physics on a time-ordered split inside the training
heats: the physics fitted on the earlier heats, the trees on its residuals, both scored on the later heats; the
trees must lower the mean squared error of the stage change there by at least ``MIN_GAIN``. The chosen trees are
the ones checked (fitted on the earlier heats; no refit, a 200-tree fit costs seconds per outcome): the physics
and its intervals are then refitted on the change less the trees' prediction, and the interval scale is
calibrated on the later heats, where the trees are out of sample (so the intervals carry the residual's own error,
not its training fit).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import GradientBoostingRegressor

N_TREES = 200
MIN_GAIN = 0.02  # at least 2 % lower mean squared error on the later heats, else the physics alone
MISSING = -1.0  # a value the context does not have (slag FeO not measured): trees split it off
SEED = 0


@dataclass(frozen=True)
class ResidualCheck:
    """How physics alone and physics plus residual did on the later training heats (mean squared error of the
    stage change, the outcome's unit squared)."""

    mse_physics: float
    mse_with_residual: float
    n_validation: int

    @property
    def chosen(self) -> bool:
        return self.mse_with_residual < (1.0 - MIN_GAIN) * self.mse_physics


@dataclass
class StageResidual:
    """The trees of one outcome (fitted on the earlier training heats) and the check that chose them."""

    trees: GradientBoostingRegressor
    check: ResidualCheck

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.trees.predict(np.atleast_2d(features))


def feature_names(elements: Sequence[str]) -> list[str]:
    """Names of the context features (the order of :func:`context_features`)."""
    return ["steel_weight_t", "stage_no", "trim", "oxygen_ppm", "slag_feo_wt_pct", "before_temperature_degC",
            *[f"before_{el}_wt_pct" for el in elements]]


def context_features(elements: Sequence[str], steel_weight_t: float, stage_no: int, oxygen_ppm: float,
                     slag_feo_wt_pct: float, temperature_degC: float, before_wt_pct: dict[str, float]) -> np.ndarray:
    """One stage's context as the trees see it (see :func:`feature_names`)."""
    def known(v: float) -> float:
        return v if math.isfinite(v) else MISSING
    return np.array([steel_weight_t, float(stage_no), float(stage_no > 1), known(oxygen_ppm),
                     known(slag_feo_wt_pct), temperature_degC,
                     *[known(before_wt_pct.get(el, math.nan)) for el in elements]])


def _trees() -> GradientBoostingRegressor:
    return GradientBoostingRegressor(n_estimators=N_TREES, max_depth=3, learning_rate=0.05, subsample=0.5,
                                     min_samples_leaf=20, random_state=SEED)


def learn_residual(features: np.ndarray, resid: np.ndarray,
                   fit_rows: np.ndarray) -> tuple[StageResidual | None, np.ndarray, ResidualCheck]:
    """Trees on the physics residuals of ``fit_rows`` (the earlier heats), scored on the other rows. Returns the
    residual (None unless chosen), its prediction of every row (out of sample on the later heats, where the
    intervals are calibrated; zeros when not chosen) and the check."""
    trees = _trees().fit(features[fit_rows], resid[fit_rows])
    pred = trees.predict(features)
    val = ~fit_rows
    check = ResidualCheck(float(np.mean(resid[val] ** 2)), float(np.mean((resid[val] - pred[val]) ** 2)),
                          int(val.sum()))
    if not check.chosen:
        return None, np.zeros(len(resid)), check
    return StageResidual(trees, check), pred, check
