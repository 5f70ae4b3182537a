"""Price coordination of the daily inventory: feasible, bounded by the Lagrangian, close to the joint optimum."""

from __future__ import annotations

import pandas as pd
import pytest

from optimizer.dosing import DosingOptions, optimize_heats
from optimizer.dosing.coordinate import coordinate, use_kg
from optimizer.dosing.inventory import solve_jointly
from optimizer.dosing.results import HeatPlanResult, Timings
from optimizer.simulator import draw_heats


def _choose(i: int, price_a: float) -> HeatPlanResult:
    """Heat i needs 100 kg of alloy: carrier A costs 1/kg (+ shadow price), B costs 1.5 + 0.1 i per kg."""
    b = 1.5 + 0.1 * i
    a_wins = 1.0 + price_a <= b
    kg = {"A": 100.0, "B": 0.0} if a_wins else {"A": 0.0, "B": 100.0}
    return HeatPlanResult(f"H{i}", True, additions_kg=kg, cost=100.0 if a_wins else 100.0 * b)


def test_analytic_case_feasible_and_bounded():
    initial = {f"H{i}": _choose(i, 0.0) for i in range(5)}
    calls = []

    def solve_heats(prices, ids):
        calls.append(list(ids))
        return {h: _choose(int(h[1:]), prices["A"]) for h in ids}

    co = coordinate({"A": 250.0}, {"A": 1.0}, initial, solve_heats)
    assert co is not None
    assert use_kg(co.plans, "A") <= 250.0
    assert sorted(h for h, p in co.plans.items() if p.additions_kg["A"] > 0) == ["H3", "H4"]  # dearest B first
    # joint LP optimum: A to H4, H3 and half of H2 -> 250 + 50 * 1.7 + 100 * (1.5 + 1.6) = 645
    assert co.bound <= 645.0 + 1e-6 <= co.cost + 1e-6
    assert co.cost == pytest.approx(680.0)
    assert all(len(c) <= 5 for c in calls) and any(len(c) < 5 for c in calls)  # heats without A not re-solved


def test_unreachable_stock_returns_none():
    initial = {f"H{i}": HeatPlanResult(f"H{i}", True, additions_kg={"A": 100.0}, cost=100.0) for i in range(3)}
    assert coordinate({"A": 50.0}, {"A": 1.0}, initial, lambda prices, ids: {h: initial[h] for h in ids}) is None


@pytest.mark.slow  # trains residual surrogates, coordinates and solves the joint MILP
def test_optimize_with_residual_models_coordinates_and_matches_joint_milp(cfg, residual_surrogates):
    """Additive GBM residuals (binaries per heat) + binding stock: the coordinated plan respects the stock, and
    its cost is within its own duality gap of the joint MILP's optimum."""
    sset = residual_surrogates
    day = [h.context for h in draw_heats(cfg, 6, 11, stream=1) if h.context.grade in ("S355J2", "S235JR")][:4]
    assert len(day) >= 2
    free = optimize_heats(cfg, day, sset, workers=1, explain=False)
    femn = sum(r.additions_kg.get("HC_FeMn", 0.0) for r in free.heats if r.feasible)
    assert femn > 0
    mats = [m.model_copy(update={"daily_inventory_kg": 0.9 * femn if m.name == "HC_FeMn" else float("inf")})
            for m in cfg.materials]
    tight = cfg.model_copy(update={"materials": mats})
    res = optimize_heats(tight, day, sset, workers=1, explain=False)
    assert res.joint and res.coordination, "expected price coordination"
    assert res.coordination["prices_per_kg"]["HC_FeMn"] > 0
    ok = [r for r in res.heats if r.feasible]
    assert sum(r.additions_kg.get("HC_FeMn", 0.0) for r in ok) <= 0.9 * femn + 1e-6
    feasible = [h for h, r in zip(day, res.heats, strict=True) if r.feasible]
    joint = solve_jointly(tight, feasible, sset, DosingOptions(), False, Timings())
    joint_cost = sum(r.cost for r in joint.values() if r.feasible)
    coord_cost = sum(r.cost for r in ok)
    mip = tight.solver.mip_gap
    assert res.coordination["bound"] <= joint_cost * (1 + mip) + 1e-6
    assert joint_cost * (1 - mip) - 1e-6 <= coord_cost <= joint_cost * (1 + res.coordination["duality_gap"] + mip)
    assert pd.notna(res.max_gap) and res.max_gap >= res.coordination["duality_gap"]
