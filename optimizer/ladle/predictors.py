"""Final-temperature predictors for the two decision times, one interface (fit / predict by heat key).

Each is a scikit-learn estimator in form (``BaseEstimator``: ``__init__`` holds hyper-parameters only, fitted
attributes end in ``_`` and are set in ``fit``, so ``clone`` and ``check_is_fitted`` work), though ``fit`` takes
the heat and stage tables rather than ``X, y``: the features depend on the decision time.

Decided at the **first** measurement (the plan view; the public case's setting): the heat's route (when it is
measured), its arc energy, additions and gas are taken as planned.

* ``mean``: the training heats' mean final temperature;
* ``heat_balance`` / ``gbm``: ``model.make_model`` on the heat-level features (``model.features``);
* ``stage_composed``: the stage model run from the first measurement through the heat's stages;
* ``plan_hybrid``: a ridge heat balance of the change from the first temperature on the energy, additions, gas
  and minutes *after* the first measurement, plus boosting (absolute loss) on its residual with the history
  known then (previous heat, energy and additions before the first measurement): ``plan_features``;
* ``route_hybrid``: the same with the route's heat-balance terms (``route_features``: energy and additions x
  the minutes left after them, minutes after the last arc, the final stage's inputs, the arc's power factor);
* ``route_gbm``: boosting (squared loss) of the change from the first temperature on every plan and route
  feature, without a ridge part;
* ``plan_ensemble``: the mean of ``route_hybrid``, ``route_gbm`` and ``gbm`` (equal weights, not fitted).

Decided at the **penultimate** measurement (the last one before the final): that temperature is measured, and
the final stage's energy, additions, gas and minutes are planned (the earlier stages are known history).

* ``last_mean``: the training mean again (the same figure, for the table);
* ``last_ridge``: a ridge heat balance of the final stage, fitted on final stages only;
* ``last_gbm``: gradient boosting on the final stage's inputs, fitted on final stages only;
* ``stage_physics`` / ``stage``: the stage model (without / with its boosted residual) fitted on all stages,
  one step from the penultimate measurement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from optimizer.ladle.model import TARGET, features, make_model
from optimizer.ladle.plan_features import PHYSICS, after_name, plan_features
from optimizer.ladle.route_features import ROUTE_PHYSICS, route_features
from optimizer.ladle.stage_model import CONTEXT_COLUMNS, LOSS_COLUMNS, StageModel, addition_columns, stage_inputs

FIRST, PENULTIMATE = "first", "penultimate"


def heat_keys(heats: pd.DataFrame) -> pd.Series:
    """The integer heat key of each heat row (``heat_id`` is its text form)."""
    return heats["heat_id"].astype(int)


class FinalPredictor(Protocol):
    """Fitted on training heats and their stages; predicts the final temperature (degC) by heat key."""

    kind: str
    decided_at: str

    def fit(self, heats: pd.DataFrame, stages: pd.DataFrame) -> FinalPredictor: ...

    def predict(self, heats: pd.DataFrame, stages: pd.DataFrame) -> pd.Series: ...


@dataclass
class MeanPredictor(BaseEstimator):
    kind: str = "mean"
    decided_at: str = FIRST

    def fit(self, heats: pd.DataFrame, stages: pd.DataFrame) -> MeanPredictor:  # noqa: ARG002
        self.mean_degC_ = float(heats[TARGET].mean())
        return self

    def predict(self, heats: pd.DataFrame, stages: pd.DataFrame) -> pd.Series:  # noqa: ARG002
        return pd.Series(self.mean_degC_, index=heat_keys(heats).to_numpy(), dtype=float)


@dataclass
class PlanPredictor(BaseEstimator):
    """``heat_balance`` (ridge) or ``gbm`` on the heat-level plan features."""

    kind: str = "gbm"
    decided_at: str = FIRST

    def fit(self, heats: pd.DataFrame, stages: pd.DataFrame) -> PlanPredictor:  # noqa: ARG002
        self.features_ = features(heats)
        self.model_ = make_model(self.kind).fit(heats[self.features_], heats[TARGET])
        return self

    def predict(self, heats: pd.DataFrame, stages: pd.DataFrame) -> pd.Series:  # noqa: ARG002
        return pd.Series(self.model_.predict(heats[self.features_]), index=heat_keys(heats).to_numpy())


def _booster(loss: str = "absolute_error") -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(loss=loss, max_iter=300, learning_rate=0.05, max_leaf_nodes=15,
                                         min_samples_leaf=20, l2_regularization=1.0, random_state=0)


def first_features(heats: pd.DataFrame, stages: pd.DataFrame, route: bool) -> pd.DataFrame:
    """``plan_features``, joined with ``route_features`` when ``route``."""
    x = plan_features(heats, stages)
    return x.join(route_features(heats, stages)) if route else x


@dataclass
class PlanHybridPredictor(BaseEstimator):
    """``plan_hybrid`` / ``route_hybrid``: ridge heat balance after the first measurement + boosted residual."""

    kind: str = "plan_hybrid"
    decided_at: str = FIRST
    route: bool = False

    def fit(self, heats: pd.DataFrame, stages: pd.DataFrame) -> PlanHybridPredictor:
        x = first_features(heats, stages, self.route)
        self.physics_ = [*PHYSICS, *(after_name(c) for c in addition_columns(stages))]
        if self.route:
            self.physics_ += [*ROUTE_PHYSICS, "idle_after_min"]
        self.columns_ = list(x.columns)
        delta = heats[TARGET].to_numpy(float) - x["initial_temperature_degC"].to_numpy(float)
        self.ridge_ = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 3, 12))).fit(
            x[self.physics_], delta)
        self.booster_ = _booster().fit(x[self.columns_], delta - self.ridge_.predict(x[self.physics_]))
        return self

    def predict(self, heats: pd.DataFrame, stages: pd.DataFrame) -> pd.Series:
        x = first_features(heats, stages, self.route)
        p = x["initial_temperature_degC"] + self.ridge_.predict(x[self.physics_]) + self.booster_.predict(
            x[self.columns_])
        return pd.Series(p.to_numpy(float), index=x.index)


@dataclass
class RouteGbmPredictor(BaseEstimator):
    """``route_gbm``: boosting (squared loss) of the change from the first temperature, plan + route features."""

    kind: str = "route_gbm"
    decided_at: str = FIRST

    def fit(self, heats: pd.DataFrame, stages: pd.DataFrame) -> RouteGbmPredictor:
        x = first_features(heats, stages, route=True)
        self.columns_ = list(x.columns)
        delta = heats[TARGET].to_numpy(float) - x["initial_temperature_degC"].to_numpy(float)
        self.model_ = _booster("squared_error").fit(x[self.columns_], delta)
        return self

    def predict(self, heats: pd.DataFrame, stages: pd.DataFrame) -> pd.Series:
        x = first_features(heats, stages, route=True)
        p = x["initial_temperature_degC"] + self.model_.predict(x[self.columns_])
        return pd.Series(p.to_numpy(float), index=x.index)


@dataclass
class EnsemblePredictor(BaseEstimator):
    """``plan_ensemble``: the mean prediction of its members (equal weights)."""

    kind: str = "plan_ensemble"
    decided_at: str = FIRST
    members: tuple[str, ...] = ("route_hybrid", "route_gbm", "gbm")

    def fit(self, heats: pd.DataFrame, stages: pd.DataFrame) -> EnsemblePredictor:
        self.fitted_ = [make_predictor(k).fit(heats, stages) for k in self.members]
        if any(m.decided_at != self.decided_at for m in self.fitted_):
            raise ValueError(f"the members of {self.kind} must all be decided at the {self.decided_at} measurement")
        return self

    def predict(self, heats: pd.DataFrame, stages: pd.DataFrame) -> pd.Series:
        preds = [m.predict(heats, stages) for m in self.fitted_]
        return pd.concat(preds, axis=1).loc[preds[0].index].mean(axis=1)


@dataclass
class StagePredictor(BaseEstimator):
    """The stage model: composed from the first measurement, or one step from the penultimate one."""

    kind: str = "stage"
    decided_at: str = PENULTIMATE
    residual: bool = True

    def fit(self, heats: pd.DataFrame, stages: pd.DataFrame) -> StagePredictor:
        self.model_ = StageModel(residual=self.residual).fit(stages[stages["key"].isin(heat_keys(heats))])
        return self

    def predict(self, heats: pd.DataFrame, stages: pd.DataFrame) -> pd.Series:
        st = stages[stages["key"].isin(heat_keys(heats))]
        if self.decided_at == FIRST:
            return self.model_.compose_final(st)
        last = st[st["is_last"]]
        return pd.Series(self.model_.predict_next(last), index=last["key"].to_numpy())


@dataclass
class LastStagePredictor(BaseEstimator):
    """Ridge heat balance (``last_ridge``) or boosting (``last_gbm``) fitted on final stages only."""

    kind: str = "last_gbm"
    decided_at: str = PENULTIMATE

    def fit(self, heats: pd.DataFrame, stages: pd.DataFrame) -> LastStagePredictor:
        last = stages[stages["is_last"] & stages["key"].isin(heat_keys(heats))]
        x = stage_inputs(stages).loc[last.index]
        delta = (last["temp_next_degC"] - last["temp_prev_degC"]).to_numpy(float)
        if self.kind == "last_ridge":
            self.columns_ = [c for c in (*LOSS_COLUMNS, *addition_columns(stages)) if c != "last_stage"]
            self.model_ = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(x[self.columns_], delta)
        else:
            self.columns_ = [c for c in (*LOSS_COLUMNS, *addition_columns(stages), *CONTEXT_COLUMNS)
                             if c != "last_stage"]
            self.model_ = _booster().fit(x[self.columns_], delta)
        return self

    def predict(self, heats: pd.DataFrame, stages: pd.DataFrame) -> pd.Series:
        st = stages[stages["key"].isin(heat_keys(heats))]
        x = stage_inputs(st)[st["is_last"].to_numpy()]
        last = st[st["is_last"]]
        p = last["temp_prev_degC"].to_numpy(float) + self.model_.predict(x[self.columns_])
        return pd.Series(p, index=last["key"].to_numpy())


def make_predictor(kind: str) -> FinalPredictor:
    """A fresh predictor of ``kind`` (see the module doc for the kinds and their decision times)."""
    makers: dict[str, Callable[[], FinalPredictor]] = {
        "mean": lambda: MeanPredictor(), "heat_balance": lambda: PlanPredictor("heat_balance"),
        "gbm": lambda: PlanPredictor("gbm"), "stage_composed": lambda: StagePredictor("stage_composed", FIRST),
        "plan_hybrid": lambda: PlanHybridPredictor(),
        "route_hybrid": lambda: PlanHybridPredictor("route_hybrid", route=True),
        "route_gbm": lambda: RouteGbmPredictor(), "plan_ensemble": lambda: EnsemblePredictor(),
        "last_mean": lambda: MeanPredictor("last_mean", PENULTIMATE),
        "last_ridge": lambda: LastStagePredictor("last_ridge"), "last_gbm": lambda: LastStagePredictor(),
        "stage_physics": lambda: StagePredictor("stage_physics", PENULTIMATE, residual=False),
        "stage": lambda: StagePredictor("stage", PENULTIMATE)}
    if kind not in makers:
        raise ValueError(f"The 'kind' parameter must be one of {sorted(makers)}. Got {kind!r} instead.")
    return makers[kind]()


KINDS = ("mean", "heat_balance", "gbm", "stage_composed", "plan_hybrid", "route_hybrid", "route_gbm",
         "plan_ensemble", "last_mean", "last_ridge", "last_gbm",
         "stage_physics", "stage")
DECISION_CANDIDATES = ("last_ridge", "last_gbm", "stage_physics", "stage")
