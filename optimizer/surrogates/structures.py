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

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin, clone
from sklearn.exceptions import NotFittedError
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


class ContextEncoder(TransformerMixin, BaseEstimator):
    """Standardised ``numeric`` context columns and one indicator per grade seen in ``fit``.

    Fitted attributes: ``grades_`` (sorted), and per numeric column ``mean_``, ``scale_`` (std, 1.0 when
    zero) and ``fill_`` (median, for missing values)."""

    def __init__(self, numeric: Sequence[str] = ()) -> None:
        self.numeric = numeric

    def fit(self, df: pd.DataFrame, y: object = None) -> Self:  # noqa: ARG002 (scikit-learn's signature)
        self.grades_: list[str] = sorted(df["grade"].astype(str).unique())
        self.mean_: dict[str, float] = {}
        self.scale_: dict[str, float] = {}
        self.fill_: dict[str, float] = {}
        for c in self.numeric:
            col = pd.to_numeric(df[c], errors="coerce")
            self.fill_[c] = float(col.median())
            self.mean_[c] = float(col.mean())
            self.scale_[c] = float(col.std()) or 1.0
        return self

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        require_fitted(self, "grades_")
        cols = [(_filled(df[c], self.fill_[c]) - self.mean_[c]) / self.scale_[c] for c in self.numeric]
        grade = df["grade"].astype(str).to_numpy(dtype=object)  # cast once, compare in numpy (8x the pandas ==)
        cols += [(grade == g).astype(float) for g in self.grades_]
        return np.column_stack(cols) if cols else np.zeros((len(df), 0))

    def transform_one(self, context: Mapping[str, float | str]) -> np.ndarray:
        """``transform`` of one heat's context mapping, without building a frame (the dosing model asks this
        for every heat and outcome)."""
        require_fitted(self, "grades_")
        cols = [(_number(context.get(c), self.fill_[c]) - self.mean_[c]) / self.scale_[c] for c in self.numeric]
        grade = str(context.get("grade"))
        return np.array(cols + [float(grade == g) for g in self.grades_], dtype=float)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Load a pickle made before the scikit-learn conventions, when the fitted grades were ``grades``."""
        if "grades" in state:  # the old layout: fitted if it saw a grade, else drop its empty fitted fields
            grades = state.pop("grades")
            if grades:
                state["grades_"] = grades
            else:
                for k in ("mean_", "scale_", "fill_"):
                    state.pop(k, None)
        super().__setstate__(state)


def require_fitted(estimator: object, attribute: str) -> None:
    """scikit-learn's ``NotFittedError`` unless ``fit`` set ``attribute``: a cheap check for the paths the dosing
    model calls per heat and outcome (``check_is_fitted`` scans every attribute, ~10 us a call)."""
    if attribute not in vars(estimator):
        raise NotFittedError(f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
                             "appropriate arguments before using this estimator.")


def _filled(column: pd.Series, fill: float) -> np.ndarray:
    """A column as floats, missing or non-numeric values as ``fill`` (``pd.to_numeric`` + ``fillna``, in numpy)."""
    x = pd.to_numeric(column, errors="coerce").to_numpy(float, na_value=np.nan)
    return np.where(np.isnan(x), fill, x)


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


class FixedYield(RegressorMixin, BaseEstimator):
    """Today's calculation: fixed yields from the config (``gain`` per decision, kg of element per kg added).

    Nothing is learned; ``fit`` only records the decisions that add the element (``gain_``), so the structure
    is fitted like every other one before it predicts."""

    name = "fixed_yield"

    def __init__(self, element: str = "", gain: Mapping[str, float] | None = None) -> None:
        self.element = element
        self.gain = gain

    @classmethod
    def build(cls, cfg: PlantConfig, element: str) -> FixedYield:
        return cls(element, prior_gain(cfg, element))

    def fit(self, df: pd.DataFrame, y: np.ndarray) -> Self:  # noqa: ARG002 (nothing to learn)
        self.gain_: dict[str, float] = {d: g for d, g in (self.gain or {}).items() if g}
        return self

    def linear_terms(self, context: Mapping[str, float | str]) -> tuple[float, dict[str, float]]:
        require_fitted(self, "gain_")
        w = _weight_t(context)
        return float(context[element_col("initial", self.element)]), {d: g / w for d, g in self.gain_.items()}

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        require_fitted(self, "gain_")
        return df[element_col("initial", self.element)].to_numpy(float) + _mass_balance(df, self.gain_)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Load a pickle made before the scikit-learn conventions (then ``name`` was a field, and nothing was
        fitted: the structure predicted from ``gain`` as built)."""
        if state.pop("name", None) is not None:
            state["gain_"] = {d: g for d, g in (state.get("gain") or {}).items() if g}
        super().__setstate__(state)


def _mass_balance(df: pd.DataFrame, gain: Mapping[str, float]) -> np.ndarray:
    w = np.maximum(df["steel_weight_t"].to_numpy(float), MIN_WEIGHT_T)
    return sum(df[d].to_numpy(float) * g for d, g in gain.items() if g) / w


def _encoder(encoder: ContextEncoder | None, numeric: Sequence[str]) -> ContextEncoder:
    """A fresh copy of the ``encoder`` hyper-parameter (scikit-learn never fits a parameter in place), or the
    structure's default encoder over ``numeric``."""
    return clone(encoder) if encoder is not None else ContextEncoder(list(numeric))


def _old_layout(state: dict[str, Any]) -> dict[str, Any]:
    """A structure pickled before the scikit-learn conventions, in today's layout: then ``name`` was an
    instance field, the fitted encoder was the ``encoder`` field itself and an unfitted one had ``ridge_ = None``."""
    if "name" not in state:
        return state
    del state["name"]
    if state.get("ridge_") is None:
        state.pop("ridge_", None)
        state.pop("p_scale_", None)
    else:
        state["encoder_"] = state["encoder"]
    return state


class ContextRecovery(RegressorMixin, BaseEstimator):
    """Element recovery learned from the context (see module doc). Fitted attributes: ``encoder_`` (a fitted
    copy of ``encoder``), ``p_scale_`` (RMS of the prior mass balance) and ``ridge_``."""

    name = "context_recovery"
    DEFAULT_CONTEXT = ("initial_oxygen_ppm", "initial_temperature_degC", "steel_weight_t")

    def __init__(self, element: str = "", gain: Mapping[str, float] | None = None,
                 encoder: ContextEncoder | None = None, alpha: float = 1.0) -> None:
        self.element = element
        self.gain = gain
        self.encoder = encoder
        self.alpha = alpha

    @classmethod
    def build(cls, cfg: PlantConfig, element: str, alpha: float = 1.0) -> ContextRecovery:
        return cls(element, prior_gain(cfg, element), ContextEncoder(list(cls.DEFAULT_CONTEXT)), alpha)

    def _design(self, df: pd.DataFrame) -> np.ndarray:
        phi = self.encoder_.transform(df)
        p = _mass_balance(df, self.gain or {})[:, None] / self.p_scale_  # unit scale: a fair ridge penalty
        return np.hstack([p, p * phi])

    def fit(self, df: pd.DataFrame, y: np.ndarray) -> Self:
        self.encoder_ = _encoder(self.encoder, self.DEFAULT_CONTEXT).fit(df)
        p = _mass_balance(df, self.gain or {})
        self.p_scale_ = float(np.sqrt(np.mean(p ** 2))) or 1.0
        target = (y - df[element_col("initial", self.element)].to_numpy(float)) / self.p_scale_
        self.ridge_ = Ridge(alpha=self.alpha, fit_intercept=False).fit(self._design(df), target)
        return self

    def _parts(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(offset, multiplier k(ctx)) per row. No free offset: with nothing added, nothing changes, so the
        structure extrapolates like the mass balance it is (an intercept let the optimizer exploit it)."""
        require_fitted(self, "ridge_")
        phi = self.encoder_.transform(df)
        coef = self.ridge_.coef_
        mult = coef[0] + phi @ coef[1:]
        return np.zeros(len(df)), mult

    def linear_terms(self, context: Mapping[str, float | str]) -> tuple[float, dict[str, float]]:
        require_fitted(self, "ridge_")
        coef = self.ridge_.coef_
        mult = float(coef[0] + self.encoder_.transform_one(context) @ coef[1:])  # as _parts, for one heat
        w = _weight_t(context)
        const = float(context[element_col("initial", self.element)])
        return const, {d: mult * g / w for d, g in (self.gain or {}).items() if g}

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        offset, mult = self._parts(df)
        return (df[element_col("initial", self.element)].to_numpy(float) + offset
                + mult * _mass_balance(df, self.gain or {}))

    def recovery_multiplier(self, df: pd.DataFrame) -> np.ndarray:
        """Learned recovery relative to the config's yields (1.0 = the config is right)."""
        return self._parts(df)[1]

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(_old_layout(state))


def _per_t(df: pd.DataFrame, decisions: Sequence[str]) -> np.ndarray:
    """Decision columns per t of steel (``n_samples`` as is)."""
    w = np.maximum(df["steel_weight_t"].to_numpy(float), MIN_WEIGHT_T)
    return np.column_stack([df[d].to_numpy(float) / w if d != "n_samples" else df[d].to_numpy(float)
                            for d in decisions])


class ContextHeatBalance(RegressorMixin, BaseEstimator):
    """Final temperature: Ridge on context and decisions per t of steel (see module doc). Fitted attributes:
    ``encoder_`` and ``ridge_``."""

    name = "heat_balance"
    DEFAULT_CONTEXT = ("initial_temperature_degC", "initial_oxygen_ppm", "steel_weight_t")

    def __init__(self, decisions: Sequence[str] = (), encoder: ContextEncoder | None = None,
                 alpha: float = 1.0) -> None:
        self.decisions = decisions
        self.encoder = encoder
        self.alpha = alpha

    @classmethod
    def build(cls, decisions: list[str], alpha: float = 1.0) -> ContextHeatBalance:
        return cls(decisions, ContextEncoder(list(cls.DEFAULT_CONTEXT)), alpha)

    def _design(self, df: pd.DataFrame) -> np.ndarray:
        return np.hstack([self.encoder_.transform(df), _per_t(df, self.decisions)])

    def fit(self, df: pd.DataFrame, y: np.ndarray) -> Self:
        self.encoder_ = _encoder(self.encoder, self.DEFAULT_CONTEXT).fit(df)
        self.ridge_ = Ridge(alpha=self.alpha).fit(self._design(df), y)
        return self

    def linear_terms(self, context: Mapping[str, float | str]) -> tuple[float, dict[str, float]]:
        require_fitted(self, "ridge_")
        ridge = self.ridge_
        phi = self.encoder_.transform_one(context)
        m = len(phi)
        const = float(ridge.intercept_ + phi @ ridge.coef_[:m])
        w = _weight_t(context)
        coefs = {}
        for j, d in enumerate(self.decisions):
            b = float(ridge.coef_[m + j])
            coefs[d] = b if d == "n_samples" else b / w
        return const, coefs

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        require_fitted(self, "ridge_")
        return self.ridge_.predict(self._design(df))

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(_old_layout(state))


class EnergyBalance(RegressorMixin, BaseEstimator):
    """Arc energy needed per t for a final temperature (the heat balance solved the causal way round).

    Operators heat until the measured temperature reaches their aim, so in history the final temperature is the
    *controlled* variable and the energy follows from it. Regressing final temperature on energy ("forward")
    then learns a flat, attenuated energy effect that an optimizer would exploit. This structure regresses

        E/W = b0 + b_T (T_final - T_initial) + sum_m b_m add_m / W + b_n n_samples + b_phi . phi(ctx)

    and predicts the final temperature by solving it for T_final, which given the context is linear in the
    decisions: T_final = T_initial + (E/W - b0 - sum_m b_m add_m/W - b_n n - b_phi . phi) / b_T.

    ``decisions`` are the decisions other than the arc energy. Fitted attributes: ``encoder_`` and ``ridge_``
    (first coefficient b_T).
    """

    name = "energy_balance"
    DEFAULT_CONTEXT = ("initial_oxygen_ppm", "steel_weight_t")

    def __init__(self, decisions: Sequence[str] = (), encoder: ContextEncoder | None = None,
                 alpha: float = 1.0) -> None:
        self.decisions = decisions
        self.encoder = encoder
        self.alpha = alpha

    @classmethod
    def build(cls, decisions: list[str], alpha: float = 1.0) -> EnergyBalance:
        return cls([d for d in decisions if d != "arc_energy_kWh"], ContextEncoder(list(cls.DEFAULT_CONTEXT)),
                   alpha)

    def _others(self, df: pd.DataFrame) -> np.ndarray:
        return np.hstack([self.encoder_.transform(df), _per_t(df, self.decisions)])

    def fit(self, df: pd.DataFrame, y: np.ndarray) -> Self:
        self.encoder_ = _encoder(self.encoder, self.DEFAULT_CONTEXT).fit(df)
        w = np.maximum(df["steel_weight_t"].to_numpy(float), MIN_WEIGHT_T)
        rise = y - df["initial_temperature_degC"].to_numpy(float)
        x = np.hstack([rise[:, None], self._others(df)])
        ridge = Ridge(alpha=self.alpha).fit(x, df["arc_energy_kWh"].to_numpy(float) / w)
        if ridge.coef_[0] <= 0:
            del self.encoder_  # a failed fit leaves the structure unfitted
            raise ValueError("energy balance: energy does not rise with the temperature gain in this history")
        self.ridge_ = ridge
        return self

    def linear_terms(self, context: Mapping[str, float | str]) -> tuple[float, dict[str, float]]:
        require_fitted(self, "ridge_")
        ridge = self.ridge_
        b_t = float(ridge.coef_[0])
        phi = self.encoder_.transform_one(context)
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
        require_fitted(self, "ridge_")
        w = np.maximum(df["steel_weight_t"].to_numpy(float), MIN_WEIGHT_T)
        ridge = self.ridge_
        b_t = ridge.coef_[0]
        rest = ridge.intercept_ + self._others(df) @ ridge.coef_[1:]
        return df["initial_temperature_degC"].to_numpy(float) + (df["arc_energy_kWh"].to_numpy(float) / w - rest) / b_t

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(_old_layout(state))
