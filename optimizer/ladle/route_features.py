"""Heat-balance features of the actual route after the first measurement (decision at the first measurement).

The route is taken as planned: when each later measurement is taken (the stage minutes), how much arc energy
goes into each stage and when the last arc of a stage ends, the additions of each stage, the arc's active and
apparent power. None of these needs an intermediate temperature. Per heat (units in the names):

* ``arc_x_remaining_kWh_min``: sum over stages of arc energy x minutes from the stage's midpoint to the final
  measurement. The steel loses heat in proportion to its excess temperature and time, so energy put in early is
  partly radiated away before the final measurement (the time integral of the heat balance);
* ``adds_x_remaining_kg_min``: the same for the additions (their chill lowers the loss that follows);
* ``first_dev_x_min``: (first temperature - 1590) x treatment minutes (the loss of a hotter start);
* ``after_last_arc_min``: minutes from the last arc's end to the final measurement (cooling and homogenising
  after heating; the whole treatment when there is no arc after the first measurement);
* ``last_arc_kWh``, ``last_arc_min``, ``last_stage_min``, ``last_adds_kg``: the final stage's inputs;
  ``max_stage_min``: the longest stage;
* ``power_factor`` (active / apparent energy) and ``mean_arc_MW`` of the arc after the first measurement
  (NaN without arc): a long or unstable arc heats less efficiently.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.ladle.stage_model import REFERENCE_DEGC, addition_columns

ROUTE_PHYSICS = ("arc_x_remaining_kWh_min", "adds_x_remaining_kg_min", "after_last_arc_min", "last_arc_kWh",
                 "first_dev_x_min")
ROUTE_CONTEXT = ("last_arc_min", "last_stage_min", "last_adds_kg", "max_stage_min", "power_factor", "mean_arc_MW")
REQUIRED = ("key", "stage_no", "is_last", "time_prev", "time_next", "minutes", "arc_kWh", "arc_kVAh", "arc_min",
            "arc_end_min", "temp_prev_degC")


def route_features(heats: pd.DataFrame, stages: pd.DataFrame) -> pd.DataFrame:
    """The columns above, one row per heat of ``heats`` (index: heat key, same order)."""
    missing = [c for c in REQUIRED if c not in stages.columns]
    if missing:
        raise ValueError(f"stages lack the columns the route features need: {missing} (use stages.build_stages)")
    keys = heats["heat_id"].astype(int).to_numpy()
    st = stages[stages["key"].isin(keys)].sort_values(["key", "stage_no"], kind="stable")
    g = st.groupby("key")
    t_final = st["key"].map(g["time_next"].max())
    remaining_min = (t_final - st["time_prev"]).dt.total_seconds() / 60 - st["minutes"] / 2
    adds_kg = st[addition_columns(st)].sum(axis=1)
    x = pd.DataFrame(index=keys)
    x["arc_x_remaining_kWh_min"] = _per_heat(st["arc_kWh"] * remaining_min, st, keys)
    x["adds_x_remaining_kg_min"] = _per_heat(adds_kg * remaining_min, st, keys)
    treatment_min = _per_heat(st["minutes"], st, keys)
    first = g["temp_prev_degC"].first().reindex(keys).to_numpy(float)
    x["first_dev_x_min"] = (first - REFERENCE_DEGC) * treatment_min
    arc_end = st["time_prev"] + pd.to_timedelta(st["arc_end_min"], unit="m")
    last_arc_end = arc_end.groupby(st["key"]).max().reindex(keys)
    to_final = (g["time_next"].max().reindex(keys) - last_arc_end).dt.total_seconds().to_numpy() / 60
    x["after_last_arc_min"] = np.where(np.isnan(to_final), treatment_min, to_final)
    last = st[st["is_last"]].set_index("key").reindex(keys)
    x["last_arc_kWh"] = last["arc_kWh"].to_numpy(float)
    x["last_arc_min"] = last["arc_min"].to_numpy(float)
    x["last_stage_min"] = last["minutes"].to_numpy(float)
    x["last_adds_kg"] = adds_kg.loc[st["is_last"]].groupby(st.loc[st["is_last"], "key"]).sum().reindex(keys) \
        .to_numpy(float)
    x["max_stage_min"] = g["minutes"].max().reindex(keys).to_numpy(float)
    kwh, kvah, arc_min = (_per_heat(st[c], st, keys) for c in ("arc_kWh", "arc_kVAh", "arc_min"))
    with np.errstate(divide="ignore", invalid="ignore"):
        x["power_factor"] = np.where(kvah > 0, kwh / kvah, np.nan)
        x["mean_arc_MW"] = np.where(arc_min > 0, kwh / (arc_min / 60) / 1000, np.nan)
    return x


def _per_heat(values: pd.Series, st: pd.DataFrame, keys: np.ndarray) -> np.ndarray:
    return values.groupby(st["key"]).sum().reindex(keys).fillna(0.0).to_numpy(float)
