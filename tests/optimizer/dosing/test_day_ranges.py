"""The night plan as the day's plan: ranges from the arrival spread, inventory risk, no spread without one."""

from __future__ import annotations

from dataclasses import replace

import pytest

from optimizer.config import PlantConfig
from optimizer.dosing import DosingResult, optimize_heats
from optimizer.dosing.ranges import expected_day_use
from optimizer.recommendation import DayUse
from optimizer.schedule import HeatContext
from optimizer.simulator import draw_heats, schedule_frame
from optimizer.stages.arrival import HistoryArrivals, learn_expected_arrival
from optimizer.surrogates import prior_surrogates

GRADES = ("S235JR", "S355J2", "C45", "S45C")
DRAWS = 5


@pytest.fixture(scope="module")
def day(cfg: PlantConfig):  # noqa: ANN201
    """Four heats planned from their grade's expected arrival (arrival states of 240 drawn heats as the history)."""
    history = schedule_frame(cfg, draw_heats(cfg, 240, 21))
    expected = learn_expected_arrival(cfg, history)
    heats = [expected.expect(HeatContext(f"H{i}", g, 100.0, {}, 1600.0)) for i, g in enumerate(GRADES)]
    sur = prior_surrogates(cfg)
    point = optimize_heats(cfg, heats, sur, workers=0)
    assert all(r.feasible for r in point.heats)
    arrivals = HistoryArrivals.learn(cfg, history)
    use = expected_day_use(cfg, heats, sur, point, arrivals, {h.heat_id for h in heats}, draws=DRAWS, seed=3)
    return heats, sur, point, arrivals, use


def test_the_day_has_ranges_from_the_arrival_spread(day):  # noqa: ANN001
    _, _, point, _, use = day
    assert use.draws_per_heat == DRAWS and use.no_plan_draws == 0
    for name, u in use.materials_kg.items():
        assert u.low <= u.expected <= u.high, name
        assert u.plan == pytest.approx(sum(r.additions_kg.get(name, 0.0) for r in point.heats))
    e = use.energy_kWh
    assert e is not None and e.low < e.high  # arrival temperatures differ: so does the energy
    assert e.plan == pytest.approx(sum(r.arc_energy_kWh for r in point.heats))
    assert not use.risks  # the shipped stock is far above one day of four heats


def test_a_material_whose_high_end_exceeds_its_stock_is_flagged(cfg: PlantConfig, day):  # noqa: ANN001
    heats, sur, point, arrivals, use = day
    name, u = max(((n, u) for n, u in use.materials_kg.items() if u.high > u.plan), key=lambda x: x[1].high - x[1].plan)
    stock = (max(u.plan, u.expected) + u.high) / 2  # the point plan fits, the high end does not
    short = cfg.model_copy(update={"materials": [m.model_copy(update={"daily_inventory_kg": stock})
                                                 if m.name == name else m for m in cfg.materials]})
    again = expected_day_use(short, heats, sur, point, arrivals, {h.heat_id for h in heats}, draws=DRAWS, seed=3)
    flagged = again.materials_kg[name]
    assert flagged.at_risk and 0.0 < flagged.p_over_stock < 1.0
    assert [r.split(":")[0] for r in again.risks] == [name] and "P(need > stock)" in again.risks[0]
    assert not any(m.at_risk for n, m in again.materials_kg.items() if n != name)
    assert DayUse.model_validate_json(again.model_dump_json()) == again  # goes into the recommendation JSON


def test_a_given_arrival_without_spread_gives_no_range(cfg: PlantConfig, day):  # noqa: ANN001
    heats, sur, point, arrivals, _ = day
    known = [replace(h, sd={}) for h in heats]  # the arrival given in the schedule, no sd columns
    use = expected_day_use(cfg, known, sur, point, arrivals, forecast=(), draws=2, seed=3)
    e = use.energy_kWh
    assert e is not None and e.low == pytest.approx(e.plan) and e.high == pytest.approx(e.plan)
    for u in use.materials_kg.values():
        assert u.low == pytest.approx(u.plan) and u.high == pytest.approx(u.plan)


def test_shadow_prices_are_empty_when_no_stock_binds(day):  # noqa: ANN001
    point: DosingResult = day[2]
    assert not point.joint and point.shadow_price_per_kg == {}
