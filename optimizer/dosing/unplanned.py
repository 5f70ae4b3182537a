"""Stage after the confidence search: every heat still without a plan says why (the elastic program)."""

from __future__ import annotations

import logging
import time

from optimizer.dosing.day import DayPlan

log = logging.getLogger(__name__)


def diagnose_unplanned(plan: DayPlan) -> DayPlan:
    """Diagnose the heats inside the data that have no plan (on any idle worker); a heat whose grade has a
    ``min_confidence`` had no plan there either, and its diagnosis says so."""
    t0 = time.perf_counter()
    failed = plan.unplanned()
    why = plan.pool.diagnose(failed, plan.alone, on_answer=plan.on_answer(len(failed)))
    for h in failed:
        floor = plan.cfg.grade(h.grade).min_confidence
        plan.results[h.heat_id].diagnosis = why[h.heat_id] + (
            f" (no plan at the grade's min_confidence {floor:.1%} either)" if floor is not None else "")
    plan.timings.diagnose += time.perf_counter() - t0
    log.debug("%d infeasible heats diagnosed in %.1f s", len(failed), time.perf_counter() - t0)
    return plan
