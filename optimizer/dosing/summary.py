"""Last stage: the day plan as a :class:`DosingResult` (heats in schedule order, status, worst gap, times)."""

from __future__ import annotations

import math
import time

from optimizer.dosing.day import DayPlan
from optimizer.dosing.results import DosingResult


def summarize(plan: DayPlan) -> DosingResult:
    """Every heat's result in the schedule's order; the worst MIP gap, or the coordination's duality gap when
    larger; the run's wall time."""
    ordered = [plan.results[h.heat_id] for h in plan.heats]
    gaps = [r.gap for r in ordered if r.feasible and math.isfinite(r.gap)]
    status = "optimal" if all(r.feasible for r in ordered) else "partially infeasible"
    if plan.coordination:
        gaps.append(max(plan.coordination["duality_gap"], 0.0))
    plan.timings.wall = time.perf_counter() - plan.started
    return DosingResult(ordered, plan.joint, status, max(gaps, default=math.nan), plan.timings, plan.coordination)
