"""Expected arrival states: the night plan sees the grade's history mean, never the heat's own arrival values."""

from __future__ import annotations

from dataclasses import replace

import pytest

from optimizer.config import PlantConfig
from optimizer.simulator import make_policy
from optimizer.simulator.heats import EVALUATION_STREAM, draw_heats
from optimizer.simulator.night_policy import NightPlanPolicy
from optimizer.stages.arrival import learn_expected_arrival


def test_expected_arrival_is_the_grades_history_mean(cfg: PlantConfig, history):
    heats, _ = history
    arrival = learn_expected_arrival(cfg, heats)
    ctx = draw_heats(cfg, 1, 3, EVALUATION_STREAM)[0].context
    got = arrival.expect(ctx)
    part = heats[heats["grade"] == ctx.grade]
    assert got.initial_wt_pct["Mn"] == pytest.approx(part["initial_Mn_wt_pct"].mean())
    assert got.initial_temperature_degC == pytest.approx(part["initial_temperature_degC"].mean())
    assert got.sd["initial_Mn_wt_pct"] == pytest.approx(part["initial_Mn_wt_pct"].std())
    assert (got.heat_id, got.grade, got.steel_weight_t) == (ctx.heat_id, ctx.grade, ctx.steel_weight_t)


def test_night_plan_does_not_depend_on_the_arrival_values(cfg: PlantConfig, history):
    heats, _ = history
    night = NightPlanPolicy(make_policy("baseline", cfg), learn_expected_arrival(cfg, heats))
    a, b = draw_heats(cfg, 2, 3, EVALUATION_STREAM, grades=["S235JR"])
    other_arrival = replace(a.context, initial_wt_pct=b.context.initial_wt_pct,
                            initial_temperature_degC=b.context.initial_temperature_degC,
                            initial_oxygen_ppm=b.context.initial_oxygen_ppm)
    assert a.context.initial_wt_pct != other_arrival.initial_wt_pct
    assert night.decide(a.context) == night.decide(other_arrival)
    today = make_policy("baseline", cfg)
    assert today.decide(a.context) != today.decide(other_arrival)  # the heat-by-heat plan does depend on them
