"""Surrogate structures, all linear in the decisions once the heat's context is known.

* ``FixedYield`` (today's level-2): final = initial + sum_m add_m * gain_m / W with the config's yields.
* ``ContextRecovery`` for an element: the prior mass balance P = sum_m add_m * gain_m / W is scaled by a
  recovery multiplier learned from the context, k(ctx) = b0 + b . phi(ctx) (phi: standardised oxygen,
  temperature, weight and grade indicators):

      final = initial + k(ctx) * P          (Ridge without intercept on [P, P * phi])

  Given the context, k is a number, so the prediction is linear in every addition.
* ``ContextHeatBalance`` for the final temperature: Ridge on the context and on decisions divided by the steel
  weight (E/W, add_m/W, n_samples); given the weight the prediction is linear in the decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, Self

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

from optimizer.config import PlantConfig
from optimizer.schema import element_col
from optimizer.surrogates.features import prior_gain

MIN_WEIGHT_T = 1.0


class Structure(Protocol):
    """What training asks of a candidate structure: a name, ``fit`` on heats and an outcome, ``predict``, and
    the prediction as linear terms in the decisions once a heat's context is known."""

    @property
    def name(self) -> str: ...

    def fit(self, df: pd.DataFrame, y: np.ndarray) -> Self: ...

    def predict(self, df: pd.DataFrame) -> np.ndarray: ...

    def linear_terms(self, context: Mapping[str, float | str]) -> tuple[float, dict[str, float]]: ...


@dataclass
class ContextEncoder:
    """Standardised numeric context and one indicator per grade (fitted on training heats)."""

    numeric: list[str]
    grades: list[str] = field(default_factory=list)
    mean_: dict[str, float] = field(default_factory=dict)
    scale_: dict[str, float] = field(default_factory=dict)
    fill_: dict[str, float] = field(default_factory=dict)

    def fit(self, df: pd.DataFrame) -> ContextEncoder:
        self.grades = sorted(df["grade"].astype(str).unique())
        for c in self.numeric:
            col = pd.to_numeric(df[c], errors="coerce")
            self.fill_[c] = float(col.median())
            self.mean_[c] = float(col.mean())
            self.scale_[c] = float(col.std()) or 1.0
        return self

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        cols = [((pd.to_numeric(df[c], errors="coerce").fillna(self.fill_[c]) - self.mean_[c]) / self.scale_[c])
                .to_numpy(float) for c in self.numeric]
        cols += [(df["grade"].astype(str) == g).to_numpy(float) for g in self.grades]
        return np.column_stack(cols) if cols else np.zeros((len(df), 0))

    def transform_one(self, context: Mapping[str, float | str]) -> np.ndarray:
        """``transform`` of one heat's context mapping, without building a frame (the dosing model asks this
        for every heat and outcome)."""
        cols = [(_number(context.get(c), self.fill_[c]) - self.mean_[c]) / self.scale_[c] for c in self.numeric]
        grade = str(context.get("grade"))
        return np.array(cols + [float(grade == g) for g in self.grades], dtype=float)


def _number(value: object, fill: float) -> float:
    """A context value as a float; missing or non-numeric values become ``fill`` (as ``pd.to_numeric`` +
    ``fillna`` do for frames)."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return fill
    return fill if np.isnan(x) else x


def _weight_t(context: Mapping[str, float | str]) -> float:
    return max(float(context["steel_weight_t"]), MIN_WEIGHT_T)


@dataclass
class FixedYield:
    """Today's calculation: fixed yields from the config."""

    element: str
    gain: dict[str, float]
    name: str = "fixed_yield"

    @classmethod
    def build(cls, cfg: PlantConfig, element: str) -> FixedYield:
        return cls(element, prior_gain(cfg, element))

    def fit(self, df: pd.DataFrame, y: np.ndarray) -> FixedYield:
        return self

    def linear_terms(self, context: Mapping[str, float | str]) -> tuple[float, dict[str, float]]:
        w = max(float(context["steel_weight_t"]), MIN_WEIGHT_T)
        return float(context[element_col("initial", self.element)]), {d: g / w for d, g in self.gain.items() if g}

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        return df[element_col("initial", self.element)].to_numpy(float) + _mass_balance(df, self.gain)


def _fitted(ridge: Ridge | None, name: str) -> Ridge:
    """The structure's fitted ridge; a clear error if `fit` was not called."""
    if ridge is None:
        raise RuntimeError(f"{name}: call fit() before using the structure")
    return ridge


def _mass_balance(df: pd.DataFrame, gain: dict[str, float]) -> np.ndarray:
    w = np.maximum(df["steel_weight_t"].to_numpy(float), MIN_WEIGHT_T)
    return sum(df[d].to_numpy(float) * g for d, g in gain.items() if g) / w


@dataclass
class ContextRecovery:
    """Element recovery learned from the context (see module doc)."""

    element: str
    gain: dict[str, float]
    encoder: ContextEncoder
    alpha: float = 1.0
    name: str = "context_recovery"
    ridge_: Ridge | None = None

    @classmethod
    def build(cls, cfg: PlantConfig, element: str, alpha: float = 1.0) -> ContextRecovery:
        enc = ContextEncoder(["initial_oxygen_ppm", "initial_temperature_degC", "steel_weight_t"])
        return cls(element, prior_gain(cfg, element), enc, alpha)

    p_scale_: float = 1.0

    def _design(self, df: pd.DataFrame) -> np.ndarray:
        phi = self.encoder.transform(df)
        p = _mass_balance(df, self.gain)[:, None] / self.p_scale_  # unit scale, so the ridge penalty is fair
        return np.hstack([p, p * phi])

    def fit(self, df: pd.DataFrame, y: np.ndarray) -> ContextRecovery:
        self.encoder.fit(df)
        p = _mass_balance(df, self.gain)
        self.p_scale_ = float(np.sqrt(np.mean(p ** 2))) or 1.0
        target = (y - df[element_col("initial", self.element)].to_numpy(float)) / self.p_scale_
        self.ridge_ = Ridge(alpha=self.alpha, fit_intercept=False).fit(self._design(df), target)
        return self

    def _parts(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(offset, multiplier k(ctx)) per row. No free offset: with nothing added, nothing changes, so the
        structure extrapolates like the mass balance it is (an intercept let the optimizer exploit it)."""
        phi = self.encoder.transform(df)
        coef = _fitted(self.ridge_, self.name).coef_
        mult = coef[0] + phi @ coef[1:]
        return np.zeros(len(df)), mult

    def linear_terms(self, context: Mapping[str, float | str]) -> tuple[float, dict[str, float]]:
        coef = _fitted(self.ridge_, self.name).coef_
        mult = float(coef[0] + self.encoder.transform_one(context) @ coef[1:])  # as _parts, for one heat
        w = _weight_t(context)
        const = float(context[element_col("initial", self.element)])
        return const, {d: mult * g / w for d, g in self.gain.items() if g}

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        offset, mult = self._parts(df)
        return df[element_col("initial", self.element)].to_numpy(float) + offset + mult * _mass_balance(df, self.gain)

    def recovery_multiplier(self, df: pd.DataFrame) -> np.ndarray:
        """Learned recovery relative to the config's yields (1.0 = the config is right)."""
        return self._parts(df)[1]


@dataclass
class ContextHeatBalance:
    """Final temperature: Ridge on context and decisions per t of steel (see module doc)."""

    decisions: list[str]
    encoder: ContextEncoder
    alpha: float = 1.0
    name: str = "heat_balance"
    ridge_: Ridge | None = None

    @classmethod
    def build(cls, decisions: list[str], alpha: float = 1.0) -> ContextHeatBalance:
        enc = ContextEncoder(["initial_temperature_degC", "initial_oxygen_ppm", "steel_weight_t"])
        return cls(decisions, enc, alpha)

    def _design(self, df: pd.DataFrame) -> np.ndarray:
        w = np.maximum(df["steel_weight_t"].to_numpy(float), MIN_WEIGHT_T)
        per_t = [df[d].to_numpy(float) / w if d != "n_samples" else df[d].to_numpy(float) for d in self.decisions]
        return np.hstack([self.encoder.transform(df), np.column_stack(per_t)])

    def fit(self, df: pd.DataFrame, y: np.ndarray) -> ContextHeatBalance:
        self.encoder.fit(df)
        self.ridge_ = Ridge(alpha=self.alpha).fit(self._design(df), y)
        return self

    def linear_terms(self, context: Mapping[str, float | str]) -> tuple[float, dict[str, float]]:
        ridge = _fitted(self.ridge_, self.name)
        phi = self.encoder.transform_one(context)
        m = len(phi)
        const = float(ridge.intercept_ + phi @ ridge.coef_[:m])
        w = _weight_t(context)
        coefs = {}
        for j, d in enumerate(self.decisions):
            b = float(ridge.coef_[m + j])
            coefs[d] = b if d == "n_samples" else b / w
        return const, coefs

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        return _fitted(self.ridge_, self.name).predict(self._design(df))


@dataclass
class EnergyBalance:
    """Arc energy needed per t for a final temperature (the heat balance solved the causal way round).

    Operators heat until the measured temperature reaches their aim, so in history the final temperature is the
    *controlled* variable and the energy follows from it. Regressing final temperature on energy ("forward")
    then learns a flat, attenuated energy effect that an optimizer would exploit. This structure regresses

        E/W = b0 + b_T (T_final - T_initial) + sum_m b_m add_m / W + b_n n_samples + b_phi . phi(ctx)

    and predicts the final temperature by solving it for T_final, which given the context is linear in the
    decisions: T_final = T_initial + (E/W - b0 - sum_m b_m add_m/W - b_n n - b_phi . phi) / b_T.
    """

    decisions: list[str]
    encoder: ContextEncoder
    alpha: float = 1.0
    name: str = "energy_balance"
    ridge_: Ridge | None = None

    @classmethod
    def build(cls, decisions: list[str], alpha: float = 1.0) -> EnergyBalance:
        enc = ContextEncoder(["initial_oxygen_ppm", "steel_weight_t"])
        return cls([d for d in decisions if d != "arc_energy_kWh"], enc, alpha)

    def _others(self, df: pd.DataFrame) -> np.ndarray:
        w = np.maximum(df["steel_weight_t"].to_numpy(float), MIN_WEIGHT_T)
        cols = [df[d].to_numpy(float) / w if d != "n_samples" else df[d].to_numpy(float) for d in self.decisions]
        return np.hstack([self.encoder.transform(df), np.column_stack(cols)])

    def fit(self, df: pd.DataFrame, y: np.ndarray) -> EnergyBalance:
        self.encoder.fit(df)
        w = np.maximum(df["steel_weight_t"].to_numpy(float), MIN_WEIGHT_T)
        rise = y - df["initial_temperature_degC"].to_numpy(float)
        x = np.hstack([rise[:, None], self._others(df)])
        ridge = Ridge(alpha=self.alpha).fit(x, df["arc_energy_kWh"].to_numpy(float) / w)
        self.ridge_ = ridge
        if ridge.coef_[0] <= 0:
            raise ValueError("energy balance: energy does not rise with the temperature gain in this history")
        return self

    def linear_terms(self, context: Mapping[str, float | str]) -> tuple[float, dict[str, float]]:
        ridge = _fitted(self.ridge_, self.name)
        b_t = float(ridge.coef_[0])
        phi = self.encoder.transform_one(context)
        m = len(phi)
        w = _weight_t(context)
        context_part = ridge.intercept_ + phi @ ridge.coef_[1:m + 1]
        const = float(context["initial_temperature_degC"]) - context_part / b_t
        coefs = {"arc_energy_kWh": 1.0 / (w * b_t)}
        for j, d in enumerate(self.decisions):
            b = float(ridge.coef_[1 + m + j])
            coefs[d] = -b / b_t if d == "n_samples" else -b / (w * b_t)
        return float(const), coefs

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        w = np.maximum(df["steel_weight_t"].to_numpy(float), MIN_WEIGHT_T)
        ridge = _fitted(self.ridge_, self.name)
        b_t = ridge.coef_[0]
        rest = ridge.intercept_ + self._others(df) @ ridge.coef_[1:]
        return df["initial_temperature_degC"].to_numpy(float) + (df["arc_energy_kWh"].to_numpy(float) / w - rest) / b_t
