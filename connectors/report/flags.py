"""Per-heat risk flags the report shows next to each plan: binding limits and extrapolation.

Both come from the optimizer's result and the surrogates' applicability domain, not from the recommendation JSON
(which carries setpoints, predictions and confidence): the nightly run passes them to :class:`NightReport`.
"""

from __future__ import annotations

from collections.abc import Sequence

from optimizer.dosing import DosingResult
from optimizer.schedule import HeatContext
from optimizer.schema import material_col
from optimizer.surrogates.surrogate import Surrogates


def binding_limits(result: DosingResult) -> dict[str, list[str]]:
    """Heat id -> the limits its plan sits on (grade limits, per-heat material min/max), planned heats only."""
    return {h.heat_id: list(h.binding) for h in result.heats if h.feasible}


def extrapolation(heats: Sequence[HeatContext], result: DosingResult,
                  surrogates: Surrogates) -> dict[str, list[str]]:
    """Heat id -> where the heat's context or plan lies outside the surrogates' training data (empty: inside).
    Without an applicability domain on ``surrogates`` (config priors) nothing is flagged."""
    dom = surrogates.domain
    if dom is None:
        return {}
    ctx = {h.heat_id: h for h in heats}
    out = {}
    for r in result.heats:
        if not r.feasible or r.heat_id not in ctx:
            continue
        decisions = {material_col(m): kg for m, kg in r.additions_kg.items()} | {"arc_energy_kWh": r.arc_energy_kWh}
        found = dom.check(ctx[r.heat_id].features(), decisions)
        if found:
            out[r.heat_id] = found
    return out
