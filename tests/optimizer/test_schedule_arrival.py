"""A schedule without arrival values: accepted only when asked for, filled from a forecast, given values kept."""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pytest

from optimizer.errors import DataFileError
from optimizer.schedule import HeatContext, parse_schedule


class GradeMean:
    """A stand-in forecast with known values (the real one is optimizer.stages.arrival)."""

    def expect(self, context: HeatContext) -> HeatContext:
        return replace(context, initial_wt_pct={el: 0.05 for el in context.initial_wt_pct},
                       initial_temperature_degC=1590.0, initial_oxygen_ppm=400.0,
                       sd={"initial_temperature_degC": 12.0, "initial_Mn_wt_pct": 0.03})


def test_four_columns_are_enough_when_the_arrival_is_forecast(cfg):
    df = pd.DataFrame({"heat_id": ["A", "B"], "planned_time": ["2026-12-02T06:00Z"] * 2,
                       "grade": ["S235JR", "S355J2"], "steel_weight_t": [100.0, 98.0]})
    with pytest.raises(DataFileError, match="schedule columns missing"):
        parse_schedule(df, cfg)
    sched = parse_schedule(df, cfg, arrival_optional=True)
    assert sched.report.empty and set(sched.missing_arrival) == {"A", "B"}
    a, b = sched.fill_arrival(GradeMean()).heats
    assert a.initial_wt_pct["Mn"] == 0.05 and a.initial_oxygen_ppm == 400.0 and b.initial_temperature_degC == 1590.0
    assert b.sd["initial_temperature_degC"] == 12.0


def _full(cfg, temperature: float | None) -> pd.DataFrame:  # noqa: ANN001
    row = {"heat_id": "A", "grade": "S235JR", "steel_weight_t": 100.0, "initial_temperature_degC": temperature,
           **{f"initial_{el}_wt_pct": 0.02 for el in cfg.elements}}
    return pd.DataFrame([row])


def test_blank_arrival_cells_are_forecast_and_given_values_kept(cfg):
    sched = parse_schedule(_full(cfg, None), cfg, arrival_optional=True)
    assert sched.missing_arrival == {"A": ["initial_temperature_degC", "initial_oxygen_ppm"]}
    (a,) = sched.fill_arrival(GradeMean()).heats
    assert a.initial_temperature_degC == 1590.0 and a.initial_wt_pct["Mn"] == 0.02  # given chemistry kept
    assert "initial_Mn_wt_pct" not in a.sd and a.sd["initial_temperature_degC"] == 12.0
    assert all(not math.isnan(v) for v in a.initial_wt_pct.values())


def test_a_given_arrival_value_out_of_range_is_still_a_row_error(cfg):
    sched = parse_schedule(_full(cfg, 1900.0), cfg, arrival_optional=True)
    assert not sched.heats and sched.report["field"].tolist() == ["initial_temperature_degC"]


def test_some_arrival_columns_without_the_others_is_a_file_error(cfg):
    df = pd.DataFrame({"heat_id": ["A"], "grade": ["S235JR"], "steel_weight_t": [100.0],
                       "initial_temperature_degC": [1590.0], "initial_Mn_wt_pct": [0.1]})
    with pytest.raises(DataFileError, match=r"schedule columns missing: \['initial_C_wt_pct'"):
        parse_schedule(df, cfg, arrival_optional=True)
