"""Last line of defence: every setpoint is checked against the plant's hard limits before it is written.

``check_recommendation`` returns one :class:`SafetyViolation` per problem (empty list = safe). Callers
(files, OPC UA server and client) write nothing when the list is not empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from optimizer.config import PlantConfig
from optimizer.recommendation import HeatRecommendation, Recommendation


@dataclass(frozen=True)
class SafetyViolation:
    """One refused setpoint: which heat and field, the value, the limit and why."""

    heat_id: str
    field: str
    value: object
    limit: object
    reason: str


def check_recommendation(rec: Recommendation, cfg: PlantConfig, previous: Recommendation | None = None,
                         now: datetime | None = None) -> list[SafetyViolation]:
    """All hard-limit violations of ``rec`` (see module doc); ``previous`` enables the max-change rule."""
    out: list[SafetyViolation] = []
    if rec.status in ("rejected", "expired"):
        out.append(SafetyViolation("*", "status", rec.status, "proposed|approved", f"recommendation is {rec.status}"))
    if rec.is_expired(now):
        out.append(SafetyViolation("*", "valid_until", rec.valid_until.isoformat(), "in the future",
                                   "recommendation has expired"))
    prev = {h.heat_id: h for h in previous.heats} if previous is not None else {}
    for h in rec.heats:
        out += check_heat(h, cfg, prev.get(h.heat_id))
    return out


def check_heat(h: HeatRecommendation, cfg: PlantConfig,
               previous: HeatRecommendation | None = None) -> list[SafetyViolation]:
    """Hard-limit violations of one heat's setpoints."""
    if not h.feasible:
        if h.additions_kg or h.arc_energy_kWh or h.n_samples:
            return [SafetyViolation(h.heat_id, "feasible", False, "no setpoints",
                                    "an infeasible heat must not carry setpoints")]
        return []
    out = [*_additions(h, cfg), *_energy(h, cfg), *_samples(h, cfg)]
    if previous is not None and previous.feasible:
        step = cfg.safety.max_setpoint_change_kg
        for mat, kg in h.additions_kg.items():
            old = previous.additions_kg.get(mat, 0.0)
            if math.isfinite(kg) and abs(kg - old) > step + 1e-9:
                out.append(SafetyViolation(h.heat_id, f"additions_kg.{mat}", kg, f"{old:g} +/- {step:g}",
                                           f"changes by {kg - old:+.1f} kg from the last setpoint, more than "
                                           f"max_setpoint_change_kg {step:g}"))
    return out


def _additions(h: HeatRecommendation, cfg: PlantConfig) -> list[SafetyViolation]:
    out = []
    known = set(cfg.material_names)
    for mat, kg in h.additions_kg.items():
        name = f"additions_kg.{mat}"
        if mat not in known:
            out.append(SafetyViolation(h.heat_id, name, kg, sorted(known), f"unknown material {mat!r}"))
            continue
        mt = cfg.material(mat)
        if not math.isfinite(kg):
            out.append(SafetyViolation(h.heat_id, name, kg, "finite", "setpoint is not a finite number"))
        elif not mt.min_kg_per_heat - 1e-6 <= kg <= mt.max_kg_per_heat + 1e-6:
            out.append(SafetyViolation(h.heat_id, name, kg, f"{mt.min_kg_per_heat:g}..{mt.max_kg_per_heat:g} kg",
                                       "outside the material's min/max per heat"))
    return out


def _energy(h: HeatRecommendation, cfg: PlantConfig) -> list[SafetyViolation]:
    e, hi = h.arc_energy_kWh, cfg.safety.max_arc_energy_kWh
    if not math.isfinite(e) or not 0.0 <= e <= hi + 1e-6:
        return [SafetyViolation(h.heat_id, "arc_energy_kWh", e, f"0..{hi:g} kWh", "arc energy outside the hard limit")]
    return []


def _samples(h: HeatRecommendation, cfg: PlantConfig) -> list[SafetyViolation]:
    lo = cfg.sampling.samples_per_heat_min
    hi = min(cfg.sampling.samples_per_heat_max, cfg.safety.max_samples_per_heat)
    if not lo <= h.n_samples <= hi:
        return [SafetyViolation(h.heat_id, "n_samples", h.n_samples, f"{lo}..{hi}",
                                "samples per heat outside the allowed range")]
    return []
