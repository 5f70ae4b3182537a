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
                       "grade": ["S235JR", "S355J2"], "steel_weight_t": [100.0, 98.0],
                       "initial_temperature_degC": [1601.0, None]})
    with pytest.raises(DataFileError, match="schedule columns missing"):
        parse_schedule(df, cfg)
    sched = parse_schedule(df, cfg, arrival_optional=True)
    assert sched.report.empty and set(sched.missing_arrival) == {"A", "B"}
    assert "initial_temperature_degC" not in sched.missing_arrival["A"]
    filled = sched.fill_arrival(GradeMean())
    a, b = filled.heats
    assert a.initial_temperature_degC == 1601.0 and b.initial_temperature_degC == 1590.0  # given value kept
    assert a.initial_wt_pct["Mn"] == 0.05 and a.initial_oxygen_ppm == 400.0
    assert "initial_temperature_degC" not in a.sd and b.sd["initial_temperature_degC"] == 12.0
    assert not filled.missing_arrival and all(not math.isnan(v) for v in b.initial_wt_pct.values())


def test_a_given_arrival_value_out_of_range_is_still_a_row_error(cfg):
    df = pd.DataFrame({"heat_id": ["A"], "grade": ["S235JR"], "steel_weight_t": [100.0],
                       "initial_temperature_degC": [1900.0]})
    sched = parse_schedule(df, cfg, arrival_optional=True)
    assert not sched.heats and sched.report["field"].tolist() == ["initial_temperature_degC"]
