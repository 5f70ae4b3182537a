"""Optimize a schedule: independent heats in parallel, inventory-coupled heats jointly, then extract.

1. Each heat alone (no inventory): in parallel processes. Infeasible heats get a diagnosis, no setpoints.
2. If the independent plans together exceed a daily inventory, all feasible heats are solved jointly.
3. Results become a :class:`Recommendation` with setpoints, predicted intervals, cost, CO2 and solver gap.
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pyomo.environ as pyo

from optimizer.config import PlantConfig
from optimizer.dosing.diagnose import diagnose
from optimizer.dosing.exactness import ModelCheck, check_heat
from optimizer.dosing.model import DosingOptions, build_model, constrained_outcomes, halfwidth, sample_options
from optimizer.dosing.pool import NO_ANSWER, HeatPool
from optimizer.dosing.schedule import HeatContext
from optimizer.dosing.solve import SolveOutcome, marginal_costs, solve
from optimizer.recommendation import HeatRecommendation, Interval, Recommendation

log = logging.getLogger(__name__)
# context the surrogates use beyond the mass balance (recovery, heat loss); initial contents only add up
NONLINEAR_CONTEXT = ["steel_weight_t", "initial_temperature_degC", "initial_oxygen_ppm"]


@dataclass
class HeatPlanResult:
    """One heat's solution (or diagnosis) plus the explanation figures."""

    heat_id: str
    feasible: bool
    additions_kg: dict[str, float] = field(default_factory=dict)
    arc_energy_kWh: float = 0.0
    n_samples: int = 0
    predicted: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    cost: float = 0.0
    material_cost: float = 0.0
    energy_cost: float = 0.0
    sampling_cost: float = 0.0
    co2_kg: float = 0.0
    gap: float = math.nan
    status: str = ""
    binding: list[str] = field(default_factory=list)
    marginal: dict[str, float] = field(default_factory=dict)
    diagnosis: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    confidence: float = math.nan  # each limit is held with this probability (the grade's, or lower: see run.py)
    model_check: ModelCheck | None = None  # the embedded models re-predicted at the plan (exactness.py)


@dataclass
class DosingResult:
    """All heats' results, how they were solved and the time spent in each phase (s)."""

    heats: list[HeatPlanResult]
    joint: bool
    status: str
    max_gap: float
    timings: dict[str, float] = field(default_factory=dict)
    coordination: dict = field(default_factory=dict)  # shadow prices and duality gap when price-coordinated

    @property
    def total_cost(self) -> float:
        return sum(h.cost for h in self.heats if h.feasible)

    @property
    def total_co2_kg(self) -> float:
        return sum(h.co2_kg for h in self.heats if h.feasible)


def optimize_heats(cfg: PlantConfig, heats: Sequence[HeatContext], surrogates, opts: DosingOptions | None = None,
                   workers: int | None = None, explain: bool = True) -> DosingResult:
    """Plan every heat of ``heats`` (see module doc)."""
    opts = opts or DosingOptions()
    wall0 = time.perf_counter()
    workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    if mp.current_process().daemon:  # e.g. a Dask worker: daemonic processes may not start children
        workers = 1
    alone = DosingOptions(co2_price_per_t=opts.co2_price_per_t, inventory=False)
    outside = {h.heat_id: _outside_domain(h, surrogates) for h in heats}
    inside = [h for h in heats if not outside[h.heat_id]]
    spent = {k: 0.0 for k in PHASES}
    coordinate = opts.inventory and _hard_joint(surrogates)  # coordination re-solves heats: keep their models
    n_workers = workers if workers > 1 and len(inside) >= 8 else 0  # worker processes (with the watchdog,
    pool = HeatPool(cfg, surrogates, n_workers, keep_models=coordinate)  # pool.py), or inline when few heats
    try:
        return _optimize(cfg, heats, inside, outside, surrogates, opts, alone, explain, spent, pool, wall0)
    finally:
        pool.close()


def _optimize(cfg: PlantConfig, heats: Sequence[HeatContext], inside: list[HeatContext], outside: dict,
              surrogates, opts: DosingOptions, alone: DosingOptions, explain: bool,
              spent: dict[str, float], pool, wall0: float) -> DosingResult:  # noqa: ANN001
    results = _solve_each(cfg, inside, surrogates, alone, explain, pool, spent)
    log.debug("%d heats solved alone in %.1f s", len(inside), time.perf_counter() - wall0)
    results.update(_at_lower_confidence(cfg, [h for h in inside if _unplanned(results[h.heat_id])], surrogates,
                                        alone, explain, pool, spent))
    asked = {h.heat_id: cfg.grade(h.grade).confidence for h in inside}
    lowered = {i: r.confidence for i, r in results.items() if r.feasible and r.confidence < asked[i] - 1e-12}
    for h in heats:
        if outside[h.heat_id]:
            results[h.heat_id] = HeatPlanResult(h.heat_id, False, status="outside the models' data",
                                                diagnosis="refused, the heat is outside the training data: "
                                                + "; ".join(outside[h.heat_id]))
    feasible = [h for h in heats if results[h.heat_id].feasible]
    t_diag = time.perf_counter()
    failed = [h for h in inside if _unplanned(results[h.heat_id])]
    why = pool.diagnose(failed, alone)
    for h in failed:
        floor = cfg.grade(h.grade).min_confidence
        results[h.heat_id].diagnosis = why[h.heat_id] + (f" (no plan at the grade's min_confidence {floor:.1%} either)"
                                                         if floor is not None else "")
    spent["diagnose"] += time.perf_counter() - t_diag
    log.debug("%d infeasible heats diagnosed in %.1f s", len(failed), time.perf_counter() - t_diag)
    joint = False
    coordination: dict = {}
    if opts.inventory and feasible and _over_inventory(cfg, [results[h.heat_id] for h in feasible], opts):
        joint = True
        opts = replace(opts, confidence_by_heat=lowered)
        co = _coordinate(cfg, feasible, results, opts, pool, spent) if pool.keep_models else None
        if co is not None:
            results.update(co.plans)
            coordination = {"prices_per_kg": co.prices, "duality_gap": co.duality_gap, "bound": co.bound,
                            "evaluations": co.evaluations, "resolved_heats": co.resolved_heats}
        else:
            results.update(_solve_jointly(cfg, feasible, surrogates, opts, explain, spent))
    ordered = [results[h.heat_id] for h in heats]
    gaps = [r.gap for r in ordered if r.feasible and math.isfinite(r.gap)]
    status = "optimal" if all(r.feasible for r in ordered) else "partially infeasible"
    if coordination:
        gaps.append(max(coordination["duality_gap"], 0.0))
    spent["wall"] = time.perf_counter() - wall0
    return DosingResult(ordered, joint, status, max(gaps, default=math.nan), spent, coordination)


PHASES = ("build", "solve", "highs", "extract", "diagnose")


def _tally(spent: dict[str, float], results) -> None:  # noqa: ANN001
    """Add the time of every solve (also discarded trial solves) to ``spent``, in seconds of CPU."""
    for r in results:
        for k, v in r.timings.items():
            spent[k] = spent.get(k, 0.0) + v


def _unplanned(r: HeatPlanResult) -> bool:
    """No plan, and worth searching or diagnosing: a heat the watchdog gave up on (NO_ANSWER) would only stall
    again; its result already says why."""
    return not r.feasible and r.status != NO_ANSWER


def _hard_joint(surrogates) -> bool:
    """Heats carry binaries from embedded residual models: one joint MILP over the day would be hard."""
    return any(getattr(s, "residual_model", None) is not None for s in surrogates.outcomes.values())


def _solve_each(cfg: PlantConfig, heats: list[HeatContext], surrogates, opts: DosingOptions, explain: bool,
                pool, spent: dict[str, float]) -> dict[str, HeatPlanResult]:  # noqa: ANN001
    """Every heat alone, in the heat pool (worker processes, or inline for few heats); time tallied."""
    found = pool.solve(heats, opts, explain)
    _tally(spent, found.values())
    return found


CONFIDENCE_STEPS = 6  # bisection steps on the confidence: within 1/64 of [min_confidence, band ceiling]


def _at_lower_confidence(cfg: PlantConfig, failed: list[HeatContext], surrogates, alone: DosingOptions,
                         explain: bool, pool, spent: dict[str, float]) -> dict[str, HeatPlanResult]:  # noqa: ANN001
    """Heats with no plan at their grade's confidence, where the grade accepts a floor (``min_confidence``):
    the plan at the highest confidence between the floor and the grade's that fits; ``confidence`` says at
    which, and the recommendation explains it. Heats with no plan at the floor are left out; a heat whose
    solve got no answer (the pool's watchdog) comes back with that result and is not searched further.

    First try the band ceiling (the highest confidence at which every two-sided window can hold the narrowest
    band at all, from the calibrated widths, without solving): above it no plan exists. Below it, step down
    from the top in steps that double from 1/64 of the range, then bisect between the highest feasible and the
    lowest infeasible confidence until they are 1/64 of the range apart. When only the window widths were in
    the way (S45C's C), the answer is found in one or two solves. Each round solves all heats still searching
    together."""
    grades = {h.heat_id: cfg.grade(h.grade) for h in failed}
    by_id = {h.heat_id: h for h in failed}
    floor = {i: g.min_confidence for i, g in grades.items()
             if g.min_confidence is not None and g.min_confidence < g.confidence}
    if not floor:
        return {}
    ceiling = {i: _band_ceiling(cfg, by_id[i], surrogates) for i in floor}
    resolution = {i: (ceiling[i] - floor[i]) / 2 ** CONFIDENCE_STEPS for i in floor}
    # lowest confidence known to have no plan: the grade's, or anything above the band ceiling
    bad = {i: min(grades[i].confidence, ceiling[i] + 1e-12) for i in floor}
    step = dict(resolution)
    trial = {i: ceiling[i] if ceiling[i] < grades[i].confidence else max(floor[i], bad[i] - step[i]) for i in floor}
    plans: dict[str, HeatPlanResult] = {}
    for _ in range(4 * CONFIDENCE_STEPS):
        if not trial:
            break
        found = _solve_each(cfg, [by_id[i] for i in trial], surrogates, replace(alone, confidence_by_heat=trial),
                            explain, pool, spent)
        nxt = {}
        for i, c in trial.items():
            if found[i].status == NO_ANSWER:  # the watchdog gave up on this solve: stop searching this heat
                plans.setdefault(i, found[i])
                continue
            if found[i].feasible:
                plans[i] = found[i]
            else:
                bad[i] = c
            if i in plans:  # bisect between the best plan and the lowest failure
                if bad[i] - plans[i].confidence > resolution[i] + 1e-12:
                    nxt[i] = 0.5 * (plans[i].confidence + bad[i])
            elif c > floor[i]:  # still no plan: step down, doubling
                nxt[i] = max(floor[i], bad[i] - step[i])
                step[i] *= 2
        trial = nxt
    return plans


def _band_ceiling(cfg: PlantConfig, heat: HeatContext, surrogates) -> float:  # noqa: ANN001
    """Highest confidence, between the grade's floor and its confidence, at which every two-sided window is at
    least as wide as the narrowest band (most samples) of its outcome: above it no plan can exist. Bisection on
    the calibrated widths (monotone in the confidence), no solves."""
    g = cfg.grade(heat.grade)
    counts = sample_options(cfg)
    windows = [(surrogates.outcomes[o], hi - lo) for o, lo, hi in constrained_outcomes(g, surrogates)
               if lo is not None and hi is not None]

    def fits(conf: float) -> bool:
        return all(2 * min(halfwidth(sur, s, conf, g.name) for s in counts) <= width for sur, width in windows)

    lo, hi = g.min_confidence, g.confidence
    if fits(hi) or not fits(lo):
        return hi if fits(hi) else lo
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def _coordinate(cfg: PlantConfig, heats: list[HeatContext], alone: dict[str, HeatPlanResult], opts: DosingOptions,
                pool, spent: dict[str, float]):  # noqa: ANN001, ANN202
    """Inventory by shadow prices on independent per-heat solves (optimizer/dosing/coordinate.py); the pool
    re-solves each heat with the model it kept from its first solve."""
    from optimizer.dosing.coordinate import coordinate

    by_id = {h.heat_id: h for h in heats}
    stock = {mt.name: mt.daily_inventory_kg - opts.inventory_used_kg.get(mt.name, 0.0) for mt in cfg.materials
             if math.isfinite(mt.daily_inventory_kg)}

    def solve_heats(prices: dict[str, float], ids: list[str]) -> dict[str, HeatPlanResult]:
        priced = DosingOptions(co2_price_per_t=opts.co2_price_per_t, inventory=False, shadow_price_per_kg=prices,
                               confidence_by_heat=opts.confidence_by_heat)
        found = pool.solve([by_id[i] for i in ids], priced, explain=False)
        _tally(spent, found.values())
        for r in found.values():
            r.marginal.update({f"inventory ('{m}',)": p for m, p in prices.items() if p > 0})
        return found

    return coordinate(stock, {mt.name: mt.price_per_kg for mt in cfg.materials},
                      {h.heat_id: alone[h.heat_id] for h in heats}, solve_heats)


def _solve_jointly(cfg: PlantConfig, heats: list[HeatContext], surrogates, opts: DosingOptions,
                   explain: bool, spent: dict[str, float]) -> dict[str, HeatPlanResult]:
    """Solve heats that share inventory together. If the stock cannot serve them all, serve the earliest
    heats (planned-time order) that it can (binary search on the prefix); the rest get no setpoints and a
    diagnosis naming the short materials."""
    order = sorted(heats, key=lambda h: (h.planned_time is None, h.planned_time or 0))
    first = _solve_group((cfg, order, surrogates, opts, explain))
    _tally(spent, first)
    if all(r.feasible for r in first):
        return {r.heat_id: r for r in first}
    ok, bad, best = 0, len(order), []  # the first `ok` heats are jointly feasible, the first `bad` are not
    while bad - ok > 1:
        mid = (ok + bad) // 2
        trial = _solve_group((cfg, order[:mid], surrogates, opts, explain))
        _tally(spent, trial)
        if all(r.feasible for r in trial):
            ok, best = mid, trial
        else:
            bad = mid
    served = {r.heat_id: r for r in best}
    t_diag = time.perf_counter()
    shortage = diagnose(cfg, order, surrogates, opts, relax=("inventory",))
    spent["diagnose"] += time.perf_counter() - t_diag
    out = dict(served)
    for h in order:
        if h.heat_id not in served:
            out[h.heat_id] = HeatPlanResult(h.heat_id, False, status="inventory exhausted",
                                            diagnosis="not served: the day's inventory runs out before this heat; "
                                            + shortage[h.heat_id])
    return out


def _outside_domain(h: HeatContext, surrogates) -> list[str]:
    """Context values the surrogates never saw for this grade (empty when no domain is known)."""
    dom = getattr(surrogates, "domain", None)
    if dom is None or not hasattr(dom, "check_context"):
        return []
    return dom.check_context(h.features(), NONLINEAR_CONTEXT)


def _over_inventory(cfg: PlantConfig, plans: list[HeatPlanResult], opts: DosingOptions) -> bool:
    for mt in cfg.materials:
        used = sum(p.additions_kg.get(mt.name, 0.0) for p in plans) + opts.inventory_used_kg.get(mt.name, 0.0)
        if used > mt.daily_inventory_kg + 1e-6:
            return True
    return False


def _solve_group(job: tuple) -> list[HeatPlanResult]:
    cfg, heats, surrogates, opts, explain = job
    t0 = time.perf_counter()
    m = build_model(cfg, heats, surrogates, opts)
    t1 = time.perf_counter()
    return _results(m, cfg, [h.heat_id for h in heats], surrogates, solve(m, cfg), explain, t1 - t0, t1)


def _results(m: pyo.ConcreteModel, cfg: PlantConfig, heat_ids: list[str], surrogates, out: SolveOutcome,
             explain: bool, build_s: float, solve_start: float) -> list[HeatPlanResult]:
    """The solved model's plan per heat (or no plan), with duals when ``explain``, and the time of each phase
    (s; a joint solve's time is split evenly over its heats)."""
    share = 1.0 / len(heat_ids)
    if not out.feasible:
        timing = {"build": build_s * share, "solve": out.seconds * share, "highs": out.highs_seconds * share}
        return [HeatPlanResult(h, False, status=out.status, timings=timing) for h in heat_ids]
    checks = {h: check_heat(m, h) for h in heat_ids}  # before extracting: a repair moves the inputs
    duals = marginal_costs(m, cfg) if explain else {}
    t2 = time.perf_counter()
    results = [replace(_extract(m, cfg, h, surrogates, out, duals), model_check=checks[h]) for h in heat_ids]
    timing = {"build": build_s * share, "solve": (t2 - solve_start) * share, "highs": out.highs_seconds * share,
              "extract": (time.perf_counter() - t2) * share}
    for r in results:
        r.timings = timing
    return results


def _extract(m: pyo.ConcreteModel, cfg: PlantConfig, h: str, surrogates, out: SolveOutcome,
             duals: dict) -> HeatPlanResult:
    n = int(round(pyo.value(m.n_samples[h])))
    adds = {mat: _clean(pyo.value(m.add[h, mat])) for mat in m.M}
    predicted = {}
    conf = m.confidence[h]
    for hh, o in m.HO:
        if hh == h:
            p = float(pyo.value(m.pred[h, o]))
            hw = halfwidth(surrogates.outcomes[o], n, conf, m.heat[h].grade)
            predicted[o] = (p, p - hw, p + hw)
    binding = _binding(m, cfg, h, adds)
    marginal = {f"{k[2]} {k[3]}" if k[0] == "spec" else f"{k[0]} {k[1:]}": v
                for k, v in duals.items() if (k[0] == "spec" and k[1] == h) or k[0] == "inventory"}
    return HeatPlanResult(
        heat_id=h, feasible=True, additions_kg=adds, arc_energy_kWh=_clean(pyo.value(m.energy[h])), n_samples=n,
        predicted=predicted, cost=float(pyo.value(m.heat_cost[h])), material_cost=float(pyo.value(m.material_cost[h])),
        energy_cost=float(pyo.value(m.energy_cost[h])), sampling_cost=float(pyo.value(m.sampling_cost[h])),
        co2_kg=float(pyo.value(m.co2_kg[h])), gap=out.gap, status=out.status, binding=binding, marginal=marginal,
        confidence=conf,
    )


def _clean(v: float | None) -> float:
    """Round solver noise (1e-9 kg) away; setpoints to 0.1 kg / 0.1 kWh."""
    return 0.0 if v is None or abs(v) < 1e-6 else round(float(v), 1)


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


def to_recommendation(cfg: PlantConfig, heats: Sequence[HeatContext], result: DosingResult,
                      versions: dict[str, str]) -> Recommendation:
    """The result as a :class:`Recommendation` (infeasible heats carry no setpoints, only the diagnosis)."""
    ctx = {h.heat_id: h for h in heats}
    recs = []
    for r in result.heats:
        h = ctx[r.heat_id]
        if not r.feasible:
            recs.append(HeatRecommendation(heat_id=r.heat_id, grade=h.grade, steel_weight_t=h.steel_weight_t,
                                           feasible=False, diagnosis=r.diagnosis or r.status))
            continue
        temp = r.predicted.get("final_temperature_degC")
        grade = cfg.grade(h.grade)
        note = ""
        if r.confidence < grade.confidence - 1e-12:
            note = (f"planned at {r.confidence:.1%} confidence per limit: grade {grade.name} asks "
                    f"{grade.confidence:.0%}, but its window is narrower than the models' band there "
                    f"(floor min_confidence {grade.min_confidence:.0%})")
        recs.append(HeatRecommendation(
            heat_id=r.heat_id, grade=h.grade, steel_weight_t=h.steel_weight_t, additions_kg=r.additions_kg,
            arc_energy_kWh=r.arc_energy_kWh, n_samples=r.n_samples,
            predicted_wt_pct={o.split("_")[1]: Interval(predicted=p, low=lo, high=hi)
                              for o, (p, lo, hi) in r.predicted.items() if o.endswith("_wt_pct")},
            predicted_temperature_degC=Interval(predicted=temp[0], low=temp[1], high=temp[2]) if temp else None,
            expected_cost=r.cost, expected_co2_kg=r.co2_kg,
            confidence=r.confidence if math.isfinite(r.confidence) else None,
            diagnosis="; ".join(x for x in (note, r.model_check and r.model_check.mismatch) if x),
        ))
    return Recommendation.new(cfg.plant.name, recs, cfg.safety.recommendation_valid_h, model_versions=versions,
                              solver_status=result.status, mip_gap=None if math.isnan(result.max_gap)
                              else result.max_gap, currency=cfg.plant.currency)
