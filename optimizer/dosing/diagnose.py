"""Why a heat (or a day) is infeasible: solve the elastic program and name the smallest relaxations."""

from __future__ import annotations

import pyomo.environ as pyo

from optimizer.config import PlantConfig
from optimizer.dosing.limits import EVERY_RELAXATION, RelaxKind
from optimizer.dosing.model import DosingOptions, build_model
from optimizer.dosing.solve import solve
from optimizer.schedule import HeatContext
from optimizer.schema import TEMPERATURE, element_of
from optimizer.surrogates.surrogate import Surrogates

DIAGNOSIS_GAP = 1e-4  # the relaxation is small and easy to prove; a loose gap let spurious slacks appear
EVERY_LIMIT = EVERY_RELAXATION  # the kinds of elastic term (limits.py RelaxationTerm)


def diagnose(cfg: PlantConfig, heats: list[HeatContext], surrogates: Surrogates, opts: DosingOptions,
             relax: tuple[RelaxKind, ...] = EVERY_LIMIT) -> dict[str, str]:
    """Per heat id, a sentence listing the limits that cannot be met together and by how much to relax them.

    The elastic program minimises the scaled sum of relaxations (0.01 wt%, 1 degC, 100 kg units), so the
    answer is the smallest combined relaxation that makes the plan feasible. Only the relaxation is minimised:
    the heat gets no setpoints, so the cost of a plan that needs a relaxation is not asked (with the cost in
    the objective behind a large penalty, HiGHS took up to 1.7 s per heat; now about 0.2 s). ``relax`` names
    the kinds of limit that may give way (the others stay hard): a day whose heats are each feasible but
    together exceed the stock is diagnosed with ``relax=("inventory",)``, which says how much stock is missing
    instead of trading it against tiny spec relaxations spread over other heats. The heats keep the
    confidence they are planned at (``opts.confidence_by_heat``).
    """
    elastic = DosingOptions(co2_price_per_t=opts.co2_price_per_t, inventory=opts.inventory, elastic=True,
                            inventory_used_kg=opts.inventory_used_kg, confidence_by_heat=opts.confidence_by_heat)
    m = build_model(cfg, heats, surrogates, elastic)
    m.objective.deactivate()
    for t in m.elastic_terms:
        if t.kind not in relax:
            t.var.setub(0.0)
    m.relaxation = pyo.Objective(expr=sum(t.var / t.scale for t in m.elastic_terms if t.kind in relax),
                                 sense=pyo.minimize)
    out = solve(m, cfg, rel_gap=DIAGNOSIS_GAP)
    if not out.feasible:
        if set(relax) != set(EVERY_LIMIT):  # the hard limits alone cannot be met: relax everything
            return diagnose(cfg, heats, surrogates, opts)
        return {h.heat_id: f"no plan even with every limit relaxed (solver: {out.status})" for h in heats}
    notes: dict[str, list[str]] = {h.heat_id: [] for h in heats}
    for t in m.elastic_terms:
        amount = pyo.value(t.var)
        if amount is None or amount <= 1e-6:
            continue
        if t.kind == "spec":
            h, o, side = t.key
            notes[h].append(_spec_note(m, h, o, side, amount))
        elif t.kind == "material":
            h, mat = t.key
            limit = m.material_limit[t.key]
            why = ("its max_kg_per_heat" if limit >= cfg.material(mat).max_kg_per_heat - 1e-9
                   else "the most this grade's heats used in the training data")
            notes[h].append(f"{mat} would need {limit + amount:.0f} kg, above {why} {limit:.0f} kg "
                            f"(relax by {amount:.0f} kg)")
        elif t.kind == "inventory":
            for h in notes:
                notes[h].append(f"daily inventory of {t.key[0]} is short by {amount:.0f} kg for this schedule")
    return {h: ("; ".join(v) if v else "infeasible only jointly with other heats") for h, v in notes.items()}


def _spec_note(m: pyo.ConcreteModel, h: str, o: str, side: str, amount: float) -> str:
    limit = m.limit_value[h, o, side]
    label = "temperature" if o == TEMPERATURE else (element_of(o) or o)
    unit = "degC" if o == TEMPERATURE else "wt%"
    new = limit - amount if side == "min" else limit + amount
    return (f"{label} {side} {limit:g} {unit} cannot be met with the required confidence; it would work with "
            f"{side} {new:.4g} {unit} (relax by {amount:.3g} {unit})")
