"""Inventory stage: when the heats' independent plans together use more of a material than the day's stock,
plan the feasible heats together, by price coordination (heats with embedded residual models: one joint MILP
would be hard) or by one joint program."""

from __future__ import annotations

import math
import time
from dataclasses import replace

from optimizer.config import PlantConfig
from optimizer.costs import CostCoefficients
from optimizer.dosing.coordinate import Coordinated, coordinate
from optimizer.dosing.day import DayPlan
from optimizer.dosing.diagnose import diagnose
from optimizer.dosing.extract import solve_group
from optimizer.dosing.limits import MarginalKey
from optimizer.dosing.model import DosingOptions
from optimizer.dosing.results import HeatPlanResult, Timings
from optimizer.schedule import HeatContext
from optimizer.surrogates.surrogate import Surrogates


def plan_inventory(plan: DayPlan) -> DayPlan:
    """Re-plan the feasible heats together if their plans exceed a daily inventory (module doc); heats planned
    below their grade's confidence stay there."""
    feasible = [h for h in plan.heats if plan.results[h.heat_id].feasible]
    opts = plan.opts
    if not (opts.inventory and feasible and over_inventory(plan.cfg, [plan.results[h.heat_id] for h in feasible],
                                                           opts)):
        return plan
    plan.joint = True
    opts = replace(opts, confidence_by_heat=plan.lowered)
    co = by_prices(plan, feasible, opts) if plan.pool.keep_models else None
    if co is not None:
        plan.results.update(co.plans)
        plan.coordination = {"prices_per_kg": co.prices, "duality_gap": co.duality_gap, "bound": co.bound,
                             "evaluations": co.evaluations, "resolved_heats": co.resolved_heats}
    else:
        plan.results.update(solve_jointly(plan.cfg, feasible, plan.surrogates, opts, plan.explain, plan.timings))
    return plan


def hard_joint(surrogates: Surrogates) -> bool:
    """Heats carry binaries from embedded residual models: one joint MILP over the day would be hard."""
    return any(s.residual_model is not None for s in surrogates.outcomes.values())


def over_inventory(cfg: PlantConfig, plans: list[HeatPlanResult], opts: DosingOptions) -> bool:
    for mt in cfg.materials:
        used = sum(p.additions_kg.get(mt.name, 0.0) for p in plans) + opts.inventory_used_kg.get(mt.name, 0.0)
        if used > mt.daily_inventory_kg + 1e-6:
            return True
    return False


def by_prices(plan: DayPlan, heats: list[HeatContext], opts: DosingOptions) -> Coordinated | None:
    """Inventory by shadow prices on independent per-heat solves (optimizer/dosing/coordinate.py); the pool
    re-solves each heat with the model it kept from its first solve."""
    cfg = plan.cfg
    by_id = {h.heat_id: h for h in heats}
    stock = {mt.name: mt.daily_inventory_kg - opts.inventory_used_kg.get(mt.name, 0.0) for mt in cfg.materials
             if math.isfinite(mt.daily_inventory_kg)}

    def solve_heats(prices: dict[str, float], ids: list[str]) -> dict[str, HeatPlanResult]:
        priced = DosingOptions(co2_price_per_t=opts.co2_price_per_t, inventory=False, shadow_price_per_kg=prices,
                               confidence_by_heat=opts.confidence_by_heat)
        found = plan.solve([by_id[i] for i in ids], priced, explain=False)
        for r in found.values():
            r.marginal.update({MarginalKey.inventory(m).label: p for m, p in prices.items() if p > 0})
        return found

    return coordinate(stock, dict(CostCoefficients.from_config(cfg).material_price_per_kg),
                      {h.heat_id: plan.results[h.heat_id] for h in heats}, solve_heats)


def solve_jointly(cfg: PlantConfig, heats: list[HeatContext], surrogates: Surrogates, opts: DosingOptions,
                  explain: bool, timings: Timings) -> dict[str, HeatPlanResult]:
    """Solve heats that share inventory together. If the stock cannot serve them all, serve the earliest
    heats (planned-time order) that it can (binary search on the prefix); the rest get no setpoints and a
    diagnosis naming the short materials."""
    order = sorted(heats, key=lambda h: (h.planned_time is None, h.planned_time or 0))
    first = solve_group(cfg, order, surrogates, opts, explain)
    timings.add(first)
    if all(r.feasible for r in first):
        return {r.heat_id: r for r in first}
    ok, bad, best = 0, len(order), []  # the first `ok` heats are jointly feasible, the first `bad` are not
    while bad - ok > 1:
        mid = (ok + bad) // 2
        trial = solve_group(cfg, order[:mid], surrogates, opts, explain)
        timings.add(trial)
        if all(r.feasible for r in trial):
            ok, best = mid, trial
        else:
            bad = mid
    served = {r.heat_id: r for r in best}
    t_diag = time.perf_counter()
    shortage = diagnose(cfg, order, surrogates, opts, relax=("inventory",))
    timings.diagnose += time.perf_counter() - t_diag
    out = dict(served)
    for h in order:
        if h.heat_id not in served:
            out[h.heat_id] = HeatPlanResult(h.heat_id, False, status="inventory exhausted",
                                            diagnosis="not served: the day's inventory runs out before this heat; "
                                            + shortage[h.heat_id])
    return out
