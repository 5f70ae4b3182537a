"""Whether an advisor decision may reach the plant: the hard limits, then the approval rule.

``stage_violations`` checks one stage decision against the plant's hard limits, given what the heat has had so
far (the same limits as :mod:`optimizer.safety` for a night plan: material min/max per heat, arc energy per
heat, samples per heat). ``release`` adds the data-support rule (a decision flagged ``extrapolated`` is not
written) and the approval rule (automatic only inside the engineers' ``[advisor.auto_approve]`` bounds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from optimizer.config import MAX_HOLD_MIN, AutoApprove, PlantConfig
from optimizer.safety import SafetyViolation
from optimizer.stages.state import HeatState, StageDecision

Verdict = Literal["write", "refused", "awaiting approval"]


@dataclass(frozen=True)
class Release:
    """What to do with a decision: ``write`` its setpoints, or not (``refused``, ``awaiting approval``), and why."""

    verdict: Verdict
    reasons: tuple[str, ...] = ()


def stage_violations(decision: StageDecision, state: HeatState, cfg: PlantConfig) -> list[SafetyViolation]:
    """Hard-limit violations of ``decision`` for the heat in ``state`` (empty: safe)."""
    h = state.heat_id
    if decision.finish:
        return []
    out: list[SafetyViolation] = []
    so_far = state.added_kg()
    known = set(cfg.material_names)
    for mat, kg in decision.additions_kg.items():
        name = f"additions_kg.{mat}"
        if mat not in known:
            out.append(SafetyViolation(h, name, kg, sorted(known), f"unknown material {mat!r}"))
        elif not math.isfinite(kg) or kg < 0:
            out.append(SafetyViolation(h, name, kg, ">= 0, finite", "setpoint is negative or not a number"))
        elif so_far.get(mat, 0.0) + kg > cfg.material(mat).max_kg_per_heat + 1e-6:
            top = cfg.material(mat).max_kg_per_heat
            out.append(SafetyViolation(h, name, kg, f"{top:g} kg per heat", f"{so_far.get(mat, 0.0):g} kg added "
                                       f"so far + {kg:g} kg exceeds the material's max per heat {top:g} kg"))
    e, top_e = decision.arc_energy_kWh, cfg.safety.max_arc_energy_kWh
    if not math.isfinite(e) or e < 0 or state.energy_kWh() + e > top_e + 1e-6:
        out.append(SafetyViolation(h, "arc_energy_kWh", e, f"0..{top_e:g} kWh per heat",
                                   f"{state.energy_kWh():g} kWh so far + {e:g} kWh exceeds the hard limit "
                                   f"max_arc_energy_kWh {top_e:g}"))
    top_n = min(cfg.safety.max_samples_per_heat, cfg.sampling.samples_per_heat_max)
    if state.n_stages + 1 > top_n:
        out.append(SafetyViolation(h, "n_samples", state.n_stages + 1, f"<= {top_n}",
                                   "one more stage would exceed the samples allowed per heat"))
    for name, v in (("hold_min", decision.hold_min), ("stir_min", decision.stir_min)):
        if not math.isfinite(v) or not 0 <= v <= MAX_HOLD_MIN:
            out.append(SafetyViolation(h, name, v, f"0..{MAX_HOLD_MIN:g} min", "hold/stir time out of range"))
    return out


def release(decision: StageDecision, state: HeatState, cfg: PlantConfig) -> Release:
    """Hard limits, data support, then the approval rule (see module doc)."""
    unsafe = stage_violations(decision, state, cfg)
    if unsafe:
        return Release("refused", tuple(f"unsafe: {v.field} {v.value}: {v.reason}" for v in unsafe))
    extrapolated = [f for f in decision.flags if "extrapolated" in f]
    if extrapolated:
        return Release("refused", tuple(f"outside the history: {f}" for f in extrapolated))
    outside = approval_problems(decision, cfg.advisor.auto_approve)
    if outside:
        return Release("awaiting approval", tuple(outside))
    return Release("write")


def approval_problems(decision: StageDecision, bounds: AutoApprove | None) -> list[str]:
    """Why ``decision`` is not approved automatically (empty: inside the engineers' bounds)."""
    if bounds is None:
        return ["no [advisor.auto_approve] bounds: every decision needs an engineer"]
    out = []
    if decision.flags and not bounds.allow_flags:
        out.append(f"flagged ({'; '.join(decision.flags)})")
    if decision.finish:
        return out
    for mat, kg in decision.additions_kg.items():
        top = bounds.max_kg.get(mat, 0.0)
        if kg > top + 1e-9:
            out.append(f"{mat} {kg:g} kg above the automatic bound {top:g} kg")
    if decision.arc_energy_kWh > bounds.max_arc_energy_kWh_per_stage + 1e-9:
        out.append(f"arc energy {decision.arc_energy_kWh:g} kWh above the automatic bound "
                   f"{bounds.max_arc_energy_kWh_per_stage:g} kWh per stage")
    if decision.hold_min > bounds.max_hold_min + 1e-9:
        out.append(f"hold {decision.hold_min:g} min above the automatic bound {bounds.max_hold_min:g} min")
    return out
