"""Heat-level features for the decision at the first measurement, split by what is known then.

Known when the first temperature is measured (history):

* ``initial_temperature_degC`` and its time; ``pre_arc_kWh`` (arc energy before it, already in that temperature);
  ``add_before_kg`` (additions recorded before it, also already in it);
* ``prev_gap_min`` / ``prev_final_degC``: minutes since the previous heat (by start time) had its final
  measurement, and that temperature - only if it ended before this heat's first measurement, otherwise NaN
  (the furnace was still busy; the value is not known yet); ``hour`` of the day.

Planned for the heat (the decision view of the public case; in the data they are what the plant then did):

* ``arc_after_kWh`` / ``arc_after_min``: arc energy and time after the first measurement (the energy before it
  no longer counts, unlike the heat total ``arc_energy_kWh``); ``add_<kind>_<n>_after_kg`` and
  ``add_after_kg``: additions after it; ``gas_1_m3``; ``treatment_time_min`` and ``n_samples`` (the route's
  length and measurement count); ``idle_after_min`` = treatment minutes without arc.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.ladle.model import features
from optimizer.ladle.stage_model import addition_columns

PHYSICS = ("arc_after_kWh", "treatment_time_min", "gas_1_m3", "initial_temperature_degC")


def after_name(col: str) -> str:
    return col.removesuffix("_kg") + "_after_kg"


def plan_features(heats: pd.DataFrame, stages: pd.DataFrame) -> pd.DataFrame:
    """The heat-level plan features plus the columns above, one row per heat of ``heats`` (same order)."""
    keys = heats["heat_id"].astype(int).to_numpy()
    x = heats[features(heats)].copy()
    x.index = keys
    g = stages.groupby("key")
    adds = addition_columns(stages)
    x["arc_after_kWh"] = g["arc_kWh"].sum().reindex(keys).fillna(0.0).to_numpy()
    x["arc_after_min"] = g["arc_min"].sum().reindex(keys).fillna(0.0).to_numpy()
    x["pre_arc_kWh"] = g["pre_arc_kWh"].first().reindex(keys).fillna(0.0).to_numpy()
    after = g[adds].sum().reindex(keys).fillna(0.0)
    for c in adds:
        x[after_name(c)] = after[c].to_numpy()
    x["add_after_kg"] = after.sum(axis=1).to_numpy()
    total = [c for c in adds if c in x.columns]
    x["add_before_kg"] = (x[total].sum(axis=1) - after[total].sum(axis=1)).clip(lower=0.0).to_numpy()
    x["idle_after_min"] = (x["treatment_time_min"] - x["arc_after_min"]).clip(lower=0.0)
    prev = _previous_heat(stages).reindex(keys)
    x["prev_gap_min"] = prev["gap_min"].to_numpy()
    x["prev_final_degC"] = prev["final_degC"].to_numpy()
    x["hour"] = pd.to_datetime(heats["start_time"]).dt.hour.to_numpy(float)
    return x


def _previous_heat(stages: pd.DataFrame) -> pd.DataFrame:
    """Per heat key: gap (min) since the previous heat's final measurement and its final temperature, when that
    heat ended before this one's first measurement (NaN otherwise)."""
    last = stages[stages["is_last"]].sort_values(["heat_start", "key"], kind="stable")
    start = last["heat_start"].to_numpy("datetime64[ns]")
    prev_end = np.roll(last["time_next"].to_numpy("datetime64[ns]"), 1)
    prev_final = np.roll(last["temp_next_degC"].to_numpy(float), 1)
    gap = (start - prev_end) / np.timedelta64(1, "m")
    known = np.arange(len(last)) > 0
    known &= gap >= 0
    return pd.DataFrame({"gap_min": np.where(known, gap, np.nan), "final_degC": np.where(known, prev_final, np.nan)},
                        index=last["key"].to_numpy())
