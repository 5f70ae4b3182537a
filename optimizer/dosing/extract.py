"""A solved model's plan per heat: setpoints, predicted intervals, costs, binding limits, marginal costs and the
time of each phase. The embedded models are checked at the solution first (exactness.py); the setpoints are
the feeder amounts, re-predicted and re-checked against every limit (rounding.py), and the predicted intervals
and costs are those of the setpoints sent."""

from __future__ import annotations

import time
from dataclasses import replace

import pyomo.environ as pyo

from optimizer.config import PlantConfig
from optimizer.dosing.exactness import check_heat
from optimizer.dosing.limits import MarginalKey
from optimizer.dosing.model import DosingOptions, build_model
from optimizer.dosing.results import ROUNDING_FAILED, HeatPlanResult, Timings
from optimizer.dosing.rounding import costs_at, round_plan
from optimizer.dosing.solve import SolveOutcome, marginal_costs, solve
from optimizer.schedule import HeatContext
from optimizer.surrogates.surrogate import Surrogates


def solve_group(cfg: PlantConfig, heats: list[HeatContext], surrogates: Surrogates, opts: DosingOptions,
                explain: bool) -> list[HeatPlanResult]:
    """Build, solve and extract ``heats`` together (one program: they share inventory)."""
    t0 = time.perf_counter()
    m = build_model(cfg, heats, surrogates, opts)
    t1 = time.perf_counter()
    return plan_results(m, cfg, [h.heat_id for h in heats], surrogates, solve(m, cfg), explain, t1 - t0, t1)


def plan_results(m: pyo.ConcreteModel, cfg: PlantConfig, heat_ids: list[str], surrogates: Surrogates,
                 out: SolveOutcome, explain: bool, build_s: float, solve_start: float) -> list[HeatPlanResult]:
    """The solved model's plan per heat (or no plan), with duals when ``explain``, and the time of each phase
    (s; a joint solve's time is split evenly over its heats)."""
    share = 1.0 / len(heat_ids)
    if not out.feasible:
        timing = Timings(build=build_s * share, solve=out.seconds * share, highs=out.highs_seconds * share)
        return [HeatPlanResult(h, False, status=out.status, timings=timing) for h in heat_ids]
    checks = {h: check_heat(m, h) for h in heat_ids}  # before extracting: a repair moves the inputs
    duals = marginal_costs(m, cfg) if explain else {}
    t2 = time.perf_counter()
    results = [replace(_extract(m, cfg, h, surrogates, out, duals), model_check=checks[h]) for h in heat_ids]
    timing = Timings(build=build_s * share, solve=(t2 - solve_start) * share, highs=out.highs_seconds * share,
                     extract=(time.perf_counter() - t2) * share)
    for r in results:
        r.timings = timing
    return results


def _extract(m: pyo.ConcreteModel, cfg: PlantConfig, h: str, surrogates: Surrogates, out: SolveOutcome,
             duals: dict[MarginalKey, float]) -> HeatPlanResult:
    plan = round_plan(m, cfg, h, surrogates)
    if plan.check.hard:  # nothing outside a hard limit goes to the plant
        return HeatPlanResult(h, False, status=ROUNDING_FAILED, diagnosis=plan.check.note, rounding=plan.check)
    adds = plan.additions_kg
    cost = costs_at(m, h, plan)
    binding = _binding(m, cfg, h, adds)
    marginal = {k.label: v for k, v in duals.items() if k.shown_for(h)}
    return HeatPlanResult(
        heat_id=h, feasible=True, additions_kg=adds, arc_energy_kWh=plan.arc_energy_kWh, n_samples=plan.n_samples,
        predicted=plan.predicted, cost=cost["heat_cost"], material_cost=cost["material_cost"],
        energy_cost=cost["energy_cost"], sampling_cost=cost["sampling_cost"], co2_kg=cost["co2_kg"], gap=out.gap,
        status=out.status, binding=binding, marginal=marginal, confidence=m.confidence[h], rounding=plan.check,
        inventory_price_per_kg={k.key[0]: v for k, v in duals.items() if k.kind == "inventory"},
    )


def _binding(m: pyo.ConcreteModel, cfg: PlantConfig, h: str, adds: dict[str, float]) -> list[str]:
    out = []
    for hh, o, side in m.LIM:
        if hh == h and abs(pyo.value(m.spec[h, o, side].body) - _rhs(m.spec[h, o, side])) < 1e-5:
            out.append(f"{o} {side} {m.limit_value[h, o, side]:g}")
    for mat, kg in adds.items():
        mt = cfg.material(mat)
        if kg >= mt.max_kg_per_heat - 1e-6 and mt.max_kg_per_heat > 0:
            out.append(f"{mat} max {mt.max_kg_per_heat:g} kg")
        elif kg > 0 and mt.min_kg_per_heat > 0 and kg <= mt.min_kg_per_heat + 1e-6:
            out.append(f"{mat} min {mt.min_kg_per_heat:g} kg")
    return out


def _rhs(con) -> float:
    return float(pyo.value(con.lower if con.lower is not None else con.upper))
