"""First stage: refuse heats outside the surrogates' data, solve every other heat alone (no inventory)."""

from __future__ import annotations

import logging
import time

from optimizer.dosing.day import DayPlan
from optimizer.dosing.results import HeatPlanResult
from optimizer.schedule import HeatContext
from optimizer.surrogates.surrogate import Surrogates

log = logging.getLogger(__name__)
# context the surrogates use beyond the mass balance (recovery, heat loss); initial contents only add up
NONLINEAR_CONTEXT = ["steel_weight_t", "initial_temperature_degC", "initial_oxygen_ppm"]


def first_pass(plan: DayPlan) -> DayPlan:
    """Each heat inside the data solved alone in the heat pool (worker processes, or inline for few heats);
    heats outside (``plan.outside``, from :func:`outside_domain`) get no plan and say which values the models
    never saw."""
    plan.results.update(plan.solve(plan.inside, plan.alone, plan.explain))
    log.debug("%d heats solved alone in %.1f s", len(plan.inside), time.perf_counter() - plan.started)
    for h in plan.heats:
        if plan.outside.get(h.heat_id):
            plan.results[h.heat_id] = HeatPlanResult(h.heat_id, False, status="outside the models' data",
                                                     diagnosis="refused, the heat is outside the training data: "
                                                     + "; ".join(plan.outside[h.heat_id]))
    return plan


def outside_domain(h: HeatContext, surrogates: Surrogates) -> list[str]:
    """Context values the surrogates never saw for this grade (empty when no domain is known)."""
    dom = surrogates.domain
    if dom is None:
        return []
    return dom.check_context(h.features(), NONLINEAR_CONTEXT)
