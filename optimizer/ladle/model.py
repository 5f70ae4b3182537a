"""Final-temperature surrogate for the real ladle-furnace heats, evaluated in time order.

Decision-time view ("the plan"): the first temperature is measured; the arc energy, arc time, additions, gas and
the number of measurements (and so the treatment time) are what the heat is planned to get. The target is the
last measured temperature. Two structures:

* ``heat_balance``: ridge on the first temperature, arc energy, arc time, treatment time, additions, gas and
  measurement count: linear in the decisions (energy, measurements) given the heat, as the optimizer needs;
* ``gbm``: gradient boosting on the same features (the published-case approach), for comparison.

Intervals: split-conformal on the latest 20 % of the training heats, by number of measurements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import RidgeCV
from sklearn.metrics import mean_absolute_error
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from optimizer.surrogates.conformal import SampleWidths

BASE_FEATURES = ["initial_temperature_degC", "arc_energy_kWh", "arc_time_min", "n_arc_intervals",
                 "treatment_time_min", "gas_1_m3", "n_samples"]
TARGET = "final_temperature_degC"


def features(heats: pd.DataFrame) -> list[str]:
    """Model inputs: the base features plus every addition column present."""
    return BASE_FEATURES + sorted(c for c in heats.columns if c.startswith("add_"))


def make_model(kind: str):  # noqa: ANN201
    if kind == "heat_balance":
        return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 3, 12)))
    if kind == "gbm":
        return HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, max_leaf_nodes=15,
                                             min_samples_leaf=20, l2_regularization=1.0, random_state=0)
    raise ValueError(f"unknown model kind {kind!r}; use 'heat_balance' or 'gbm'")


class Regressor(Protocol):
    """A fitted scikit-learn regressor (or pipeline) as the ladle models use it."""

    def predict(self, X: pd.DataFrame) -> np.ndarray: ...


@dataclass
class LadleModel:
    """A fitted final-temperature model with its conformal widths and test figures."""

    kind: str
    feature_names: list[str]
    model: Regressor
    widths: SampleWidths
    metrics: dict[str, float] = field(default_factory=dict)

    def predict(self, heats: pd.DataFrame) -> np.ndarray:
        return self.model.predict(heats[self.feature_names])

    def interval(self, heats: pd.DataFrame, confidence: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = self.predict(heats)
        hw = np.array([self.widths.halfwidth(int(n), confidence) for n in heats["n_samples"]])
        return p, p - hw, p + hw


def time_split(heats: pd.DataFrame, test_fraction: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Earlier heats for training, the latest ``test_fraction`` by start time for testing."""
    h = heats.sort_values("start_time", kind="stable").reset_index(drop=True)
    cut = int(len(h) * (1 - test_fraction))
    return h.iloc[:cut], h.iloc[cut:]


def fit(heats: pd.DataFrame, kind: str, calibration_fraction: float = 0.2) -> LadleModel:
    """Fit on the earlier part of ``heats``, calibrate widths on its latest part (time order)."""
    h = heats.sort_values("start_time", kind="stable").reset_index(drop=True)
    cut = int(len(h) * (1 - calibration_fraction))
    feats = features(h)
    model = make_model(kind).fit(h.iloc[:cut][feats], h.iloc[:cut][TARGET])
    cal = h.iloc[cut:]
    widths = SampleWidths.fit(np.abs(cal[TARGET].to_numpy() - model.predict(cal[feats])),
                              cal["n_samples"].to_numpy(int))
    refit = make_model(kind).fit(h[feats], h[TARGET])  # final model uses all training heats
    return LadleModel(kind, feats, refit, widths)


def evaluate(heats: pd.DataFrame, kind: str) -> LadleModel:
    """Train on the earlier 80 %, test on the latest 20 %: MAE, RMSE and interval coverage."""
    train, test = time_split(heats)
    m = fit(train, kind)
    y = test[TARGET].to_numpy()
    p = m.predict(test)
    m.metrics = {"mae": float(mean_absolute_error(y, p)), "rmse": float(np.sqrt(np.mean((y - p) ** 2))),
                 "mae_predict_mean": float(np.mean(np.abs(y - train[TARGET].mean()))),
                 "n_train": float(len(train)), "n_test": float(len(test))}
    for c in (0.9, 0.95):
        _, lo, hi = m.interval(test, c)
        m.metrics[f"coverage_{int(c * 100)}"] = float(np.mean((y >= lo) & (y <= hi)))
    return m
