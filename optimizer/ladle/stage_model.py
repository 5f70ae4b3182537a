"""Stage-wise temperature model: the next measured temperature from the previous one and what happened between.

Physics part (a ridge on the stage's temperature change, units in the names)::

    T_next - T_prev = eta * arc_kWh                      heating: degC per kWh of arc energy
                    + sum_k c_k * add_k_kg               chill (or heat) per kg of each bulk/wire kind
                    - loss * minutes                     holding/radiation loss, degC per minute
                    + g * gas_m3 + r * (T_prev - 1590)   stirring; pull towards the usual level
                    + b_first * first_stage + b_last * last_stage + b0

The ladle mass is not in the export, so the heating term is degC per kWh (= efficiency / (mass x cp)), not
per kWh/t. Optional learned residual: gradient boosting (absolute loss) on the physics inputs plus the stage
number, arc/idle minutes, the previous temperature and the energy already put into the heat.

``compose`` runs a heat through its stages from the first measurement, feeding each predicted temperature to
the next stage; the composed final temperature is the first temperature plus the sum of the predicted stage
changes (``stage_delta_degC``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import RidgeCV

REFERENCE_DEGC = 1590.0
LOSS_COLUMNS = ("arc_kWh", "minutes", "gas_m3", "temp_dev_degC", "first_stage", "last_stage")
CONTEXT_COLUMNS = ("stage_no", "arc_min", "idle_min", "temp_prev_degC", "heat_arc_kWh_before", "heat_minutes_before")


def addition_columns(stages: pd.DataFrame) -> list[str]:
    """The addition kinds present (``add_bulk_<n>_kg``, ``add_wire_<n>_kg``), in a stable order."""
    return sorted((c for c in stages.columns if c.startswith("add_")),
                  key=lambda c: (c.split("_")[1], int(c.split("_")[2])))


def stage_inputs(stages: pd.DataFrame, temp_prev_degC: np.ndarray | None = None) -> pd.DataFrame:
    """Model inputs of each stage; ``temp_prev_degC`` overrides the measured previous temperature (composition)."""
    t_prev = stages["temp_prev_degC"].to_numpy(float) if temp_prev_degC is None else np.asarray(temp_prev_degC)
    x = stages[["arc_kWh", "minutes", "gas_m3", "stage_no", "arc_min", *addition_columns(stages)]].astype(float)
    x["temp_prev_degC"] = t_prev
    x["temp_dev_degC"] = t_prev - REFERENCE_DEGC
    x["first_stage"] = (stages["stage_no"] == 1).to_numpy(float)
    x["last_stage"] = stages["is_last"].to_numpy(float)
    x["idle_min"] = (stages["minutes"] - stages["arc_min"]).clip(lower=0.0)
    g = stages.groupby("key", sort=False)
    x["heat_arc_kWh_before"] = (g["arc_kWh"].cumsum() - stages["arc_kWh"]).to_numpy() + stages["pre_arc_kWh"]
    x["heat_minutes_before"] = (g["minutes"].cumsum() - stages["minutes"]).to_numpy()
    return x


@dataclass
class StageModel(BaseEstimator):
    """Physics ridge on the stage temperature change, plus an optional boosted residual (``residual=True``)."""

    residual: bool = True
    random_state: int = 0

    def fit(self, stages: pd.DataFrame) -> StageModel:
        if len(stages) < 20:
            raise ValueError(f"the stage model needs at least 20 stages to fit; got {len(stages)}")
        x = stage_inputs(stages)
        self.physics_columns_ = [*LOSS_COLUMNS, *addition_columns(stages)]
        self.residual_columns_ = [*self.physics_columns_, *CONTEXT_COLUMNS]
        delta = (stages["temp_next_degC"] - stages["temp_prev_degC"]).to_numpy(float)
        self.physics_ = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(x[self.physics_columns_], delta)
        self.booster_ = None
        if self.residual:
            rest = delta - self.physics_.predict(x[self.physics_columns_])
            self.booster_ = HistGradientBoostingRegressor(
                loss="absolute_error", max_iter=300, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=20,
                l2_regularization=1.0, random_state=self.random_state).fit(x[self.residual_columns_], rest)
        return self

    def predict_delta(self, stages: pd.DataFrame, temp_prev_degC: np.ndarray | None = None) -> np.ndarray:
        """Predicted temperature change (degC) of each stage."""
        return self._predict_inputs(stage_inputs(stages, temp_prev_degC))

    def _predict_inputs(self, x: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.physics_columns_ if c not in x.columns]
        if missing:
            raise ValueError(f"stages lack the columns the stage model was fitted on: {missing}")
        d = self.physics_.predict(x[self.physics_columns_])
        return d + self.booster_.predict(x[self.residual_columns_]) if self.booster_ is not None else d

    def predict_next(self, stages: pd.DataFrame) -> np.ndarray:
        """One step: the next measured temperature from the measured previous one (degC)."""
        return stages["temp_prev_degC"].to_numpy(float) + self.predict_delta(stages)

    def compose(self, stages: pd.DataFrame) -> pd.DataFrame:
        """Each heat from its first measurement through its actual stages: per stage the composed previous
        temperature and the predicted change; ``final`` rows sum them (see module doc)."""
        st = stages.sort_values(["key", "stage_no"], kind="stable")
        t_prev = st.groupby("key")["temp_prev_degC"].transform("first").to_numpy(float, copy=True)
        stage_no = st["stage_no"].to_numpy(int)
        x = stage_inputs(st)  # context columns do not depend on the temperatures; those two are replaced
        delta = np.zeros(len(st))
        for k in range(1, int(stage_no.max()) + 1):
            at = np.flatnonzero(stage_no == k)
            if len(at) == 0:  # a route that starts later (composition from a later measurement)
                continue
            xk = x.iloc[at].assign(temp_prev_degC=t_prev[at], temp_dev_degC=t_prev[at] - REFERENCE_DEGC)
            delta[at] = self._predict_inputs(xk)
            nxt = at + 1  # sorted by heat then stage: a heat's next stage is the next row
            nxt = nxt[nxt < len(st)]
            nxt = nxt[stage_no[nxt] == k + 1]
            t_prev[nxt] = t_prev[nxt - 1] + delta[nxt - 1]
        return pd.DataFrame({"key": st["key"].to_numpy(), "stage_no": st["stage_no"].to_numpy(),
                             "composed_prev_degC": t_prev, "stage_delta_degC": delta,
                             "composed_next_degC": t_prev + delta}, index=st.index)

    def compose_final(self, stages: pd.DataFrame) -> pd.Series:
        """Composed final temperature (degC) per heat key."""
        st = stages.sort_values(["key", "stage_no"], kind="stable")
        c = self.compose(st)
        return st.groupby("key")["temp_prev_degC"].first() + c.groupby("key")["stage_delta_degC"].sum()

    def coefficients(self) -> dict[str, float]:
        """The physics terms: degC per kWh, per kg of each addition kind, per minute, ..."""
        return dict(zip(self.physics_columns_, map(float, self.physics_.coef_), strict=True))
