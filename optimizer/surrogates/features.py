"""Features known at decision time, the prior mass balance, and time-ordered splits (no leakage)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
from sklearn.model_selection import TimeSeriesSplit

from optimizer.config import PlantConfig
from optimizer.schema import element_col, material_col

NUMERIC_CONTEXT = ["steel_weight_t", "initial_temperature_degC", "initial_oxygen_ppm"]


def context_features(cfg: PlantConfig) -> list[str]:
    """Context columns a surrogate may use: grade, weight, initial chemistry, temperature, oxygen.

    Not slag FeO (usually unmeasured at decision time) and nothing measured after the decision.
    """
    return ["grade", *NUMERIC_CONTEXT, *[element_col("initial", el) for el in cfg.elements]]


def decision_features(cfg: PlantConfig) -> list[str]:
    """Decision columns: additions per material, arc energy, number of samples."""
    return [material_col(m.name) for m in cfg.materials] + ["arc_energy_kWh", "n_samples"]


def prior_gain(cfg: PlantConfig, element: str) -> dict[str, float]:
    """wt% x t per kg of each material by the config's fixed yields (divide by steel t for wt% per kg)."""
    return {material_col(m.name): m.composition_wt_pct.get(element, 0.0) * m.prior_recovery.get(element, 0.0) / 1000.0
            for m in cfg.materials}


def as_frame(context: Mapping[str, float | str] | pd.DataFrame) -> pd.DataFrame:
    """One context mapping as a one-row frame (frames pass through)."""
    return context if isinstance(context, pd.DataFrame) else pd.DataFrame([dict(context)])


def time_order(heats: pd.DataFrame) -> pd.DataFrame:
    """Heats sorted by start time (stable), index reset."""
    return heats.sort_values("start_time", kind="stable").reset_index(drop=True)


def time_splits(n: int, n_folds: int = 4, min_train: float = 0.4) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window folds over time-ordered rows (sklearn ``TimeSeriesSplit``): train on the past, validate
    on the next block; the first fold trains on at least ``min_train`` of the rows. Never shuffled."""
    test_size = (n - int(n * min_train)) // n_folds
    if test_size < 1:
        raise ValueError(f"time_splits: {n} rows are too few for {n_folds} folds after a {min_train:.0%} "
                         "minimum training block; pass fewer folds or more heats")
    yield from TimeSeriesSplit(n_splits=n_folds, test_size=test_size).split(np.arange(n))


def holdout_split(n: int, calibration: float = 0.15, test: float = 0.15) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, calibration, test) index blocks in time order: the latest heats are the test."""
    n_test, n_cal = int(n * test), int(n * calibration)
    n_train = n - n_test - n_cal
    return np.arange(n_train), np.arange(n_train, n_train + n_cal), np.arange(n_train + n_cal, n)
