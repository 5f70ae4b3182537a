"""Confidence search: heats with no plan at their grade's confidence, where the grade accepts a floor
(``min_confidence``), planned at the highest confidence between the floor and the grade's that fits."""

from __future__ import annotations

from dataclasses import replace

from optimizer.config import PlantConfig
from optimizer.dosing.day import DayPlan
from optimizer.dosing.model import constrained_outcomes, sample_options
from optimizer.dosing.pool import NO_ANSWER
from optimizer.dosing.results import HeatPlanResult
from optimizer.schedule import HeatContext
from optimizer.surrogates.surrogate import Surrogates

CONFIDENCE_STEPS = 6  # bisection steps on the confidence: within 1/64 of [min_confidence, band ceiling]


def confidence_search(plan: DayPlan) -> DayPlan:
    """Heats with no plan at their grade's confidence planned at the highest lower one the grade accepts
    (:func:`at_lower_confidence`); ``plan.lowered`` records the heats planned below their grade's."""
    plan.results.update(at_lower_confidence(plan, plan.unplanned()))
    asked = {h.heat_id: plan.cfg.grade(h.grade).confidence for h in plan.inside}
    plan.lowered = {i: r.confidence for i, r in plan.results.items()
                    if i in asked and r.feasible and r.confidence < asked[i] - 1e-12}
    return plan


def at_lower_confidence(plan: DayPlan, failed: list[HeatContext]) -> dict[str, HeatPlanResult]:
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
    cfg, surrogates = plan.cfg, plan.surrogates
    grades = {h.heat_id: cfg.grade(h.grade) for h in failed}
    by_id = {h.heat_id: h for h in failed}
    floor = {i: g.min_confidence for i, g in grades.items()
             if g.min_confidence is not None and g.min_confidence < g.confidence}
    if not floor:
        return {}
    ceiling = {i: band_ceiling(cfg, by_id[i], surrogates) for i in floor}
    resolution = {i: (ceiling[i] - floor[i]) / 2 ** CONFIDENCE_STEPS for i in floor}
    # lowest confidence known to have no plan: the grade's, or anything above the band ceiling
    bad = {i: min(grades[i].confidence, ceiling[i] + 1e-12) for i in floor}
    step = dict(resolution)
    trial = {i: ceiling[i] if ceiling[i] < grades[i].confidence else max(floor[i], bad[i] - step[i]) for i in floor}
    plans: dict[str, HeatPlanResult] = {}
    for _ in range(4 * CONFIDENCE_STEPS):
        if not trial:
            break
        found = plan.solve([by_id[i] for i in trial], replace(plan.alone, confidence_by_heat=trial), plan.explain)
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


def band_ceiling(cfg: PlantConfig, heat: HeatContext, surrogates: Surrogates) -> float:
    """Highest confidence, between the grade's floor and its confidence, at which every two-sided window is at
    least as wide as the narrowest band (most samples) of its outcome: above it no plan can exist. Bisection on
    the calibrated widths (monotone in the confidence), no solves."""
    g = cfg.grade(heat.grade)
    counts = sample_options(cfg)
    windows = [(surrogates.outcomes[o], hi - lo) for o, lo, hi in constrained_outcomes(g, surrogates)
               if lo is not None and hi is not None]

    def fits(conf: float) -> bool:
        return all(2 * min(sur.halfwidth(s, conf, g.name) for s in counts) <= width for sur, width in windows)

    lo = g.confidence if g.min_confidence is None else g.min_confidence  # no floor: only the grade's own
    hi = g.confidence
    if fits(hi) or not fits(lo):
        return hi if fits(hi) else lo
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo
