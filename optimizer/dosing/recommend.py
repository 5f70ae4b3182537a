"""A day's result as a :class:`Recommendation`: setpoints and predicted intervals per heat, the diagnosis of
heats without plan, and why a heat was planned below its grade's confidence."""

from __future__ import annotations

import math
from collections.abc import Sequence

from optimizer.config import PlantConfig
from optimizer.dosing.results import DosingResult
from optimizer.recommendation import DayUse, HeatRecommendation, Interval, Recommendation
from optimizer.schedule import HeatContext
from optimizer.schema import element_of


def to_recommendation(cfg: PlantConfig, heats: Sequence[HeatContext], result: DosingResult,
                      versions: dict[str, str], day_use: DayUse | None = None) -> Recommendation:
    """The result as a :class:`Recommendation` (infeasible heats carry no setpoints, only the diagnosis), with
    the day's shadow prices of scarce materials and, when given, the day's expected use with ranges."""
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
            predicted_wt_pct={el: Interval(predicted=p, low=lo, high=hi)
                              for o, (p, lo, hi) in r.predicted.items() if (el := element_of(o)) is not None},
            predicted_temperature_degC=Interval(predicted=temp[0], low=temp[1], high=temp[2]) if temp else None,
            expected_cost=r.cost, expected_co2_kg=r.co2_kg,
            confidence=r.confidence if math.isfinite(r.confidence) else None,
            diagnosis="; ".join(x for x in (note, r.model_check and r.model_check.mismatch,
                                            r.rounding and r.rounding.violation and r.rounding.note) if x),
        ))
    return Recommendation.new(cfg.plant.name, recs, cfg.safety.recommendation_valid_h, model_versions=versions,
                              solver_status=result.status, mip_gap=None if math.isnan(result.max_gap)
                              else result.max_gap, currency=cfg.plant.currency,
                              shadow_price_per_kg=result.shadow_price_per_kg, day_use=day_use)
