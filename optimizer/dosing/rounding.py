"""The setpoints the plant gets, re-checked: feeder grid points, re-predicted and held against every limit.

The solve's additions are continuous, or whole feeder steps up to the solver's tolerance; the feeders deliver
whole steps (``feeder_step_kg``; continuous feeders 0.1 kg, the grid of ``Material.feeder_amount``). Each
addition is sent as the grid point nearest the solution (a plan that passes is the plan sent before this check
existed, and the day's inventory sums stay unbiased), the arc energy to 0.1 kWh. At these setpoints every
outcome the heat's grade limits is predicted again exactly as the program predicts it (the surrogate's linear
terms for the heat's context plus its residual model's own ``predict``), with the half-width at the planned
number of samples, and checked against its window; the hard limits are checked too (the addition's bounds:
``min/max_kg_per_heat`` narrowed to the data's support, the setpoint change limit, the heat's share of a daily
inventory, the arc energy's bounds).

If the nearest grid points break a check, the other grid points around the solution are tried (each addition
the feeder step below or above it, the energy 0.1 kWh below or above) and the cheapest that passes is sent:
the plan is repaired (``RoundingCheck.repaired`` says what moved, logged at INFO; the recommendation
has no diagnosis for it: the setpoints sent pass every check). If none passes, the candidate with the
fewest broken hard limits, then window limits, is kept and what it breaks is reported on the heat's result
(``RoundingCheck.violation``), in its recommendation's diagnosis, and logged; a plan that still breaks a hard
limit gets no setpoints (``extract.py``). Never silent. A daily inventory is shared by the heats solved
together: each heat may round up by at most its share of the stock the solution leaves (so the rounded heats
together stay inside it); heats solved alone are summed against the stock by the inventory stage
(inventory.py) from the setpoints sent.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.repn import generate_standard_repn
from threadpoolctl import threadpool_limits

from optimizer.config import Material, PlantConfig
from optimizer.surrogates.prior import TEMPERATURE

log = logging.getLogger(__name__)

ENERGY_STEP_KWH = 0.1
CONTINUOUS_STEP_KG = 0.1  # what Material.feeder_amount uses for continuous feeders
SNAP = 1e-5  # a solver value within this many feeder steps of a whole step is that step (solver noise)
MAX_CHOICES = 12  # at most 2**12 grid points tried around one plan


def tolerance(limit: float) -> float:
    """How far past a limit a rounded plan may lie before it counts as broken (wt%, degC, kg, kWh): well above
    the solver's feasibility tolerance (1e-7), far below any rounding a feeder makes."""
    return 1e-6 * max(1.0, abs(limit))


@dataclass(frozen=True)
class RoundingCheck:
    """What rounding the plan to the feeders did: ``repaired`` names the setpoints moved off the nearest grid points
    to stay inside every limit; ``violation`` what the sent setpoints still break (window limits) and
    ``hard`` whether a hard limit is among it (such a plan gets no setpoints)."""

    repaired: str = ""
    violation: str = ""
    hard: bool = False

    @property
    def note(self) -> str:
        """The sentence for the heat's recommendation ("" when the nearest grid points passed every check)."""
        if self.violation:
            return f"rounded to the feeders, the setpoints break {self.violation}"
        if self.repaired:
            return f"feeder rounding repaired to stay inside every limit: {self.repaired}"
        return ""


@dataclass(frozen=True)
class RoundedPlan:
    """One heat's setpoints as sent, the predictions at them (outcome: (predicted, low, high)) and the check."""

    additions_kg: dict[str, float]
    arc_energy_kWh: float
    n_samples: int
    predicted: dict[str, tuple[float, float, float]]
    check: RoundingCheck


def feeder_candidates(mat: Material, kg: float) -> list[float]:
    """The feeder grid points around a solver value, nearest first: whole feeder steps (``feeder_step_kg``;
    continuous feeders 0.1 kg, as ``Material.feeder_amount``), one point when the value is on the grid up to
    solver noise."""
    step = mat.feeder_step_kg if mat.feeder_step_kg > 0 else CONTINUOUS_STEP_KG
    if kg < 1e-6:
        return [0.0]
    k = kg / step
    if abs(k - round(k)) <= SNAP:
        return [round(round(k) * step, 6)]
    up = mat.feeder_amount(kg)
    down = round(math.floor(k) * step, 6)
    return [up, down] if up - kg < kg - down else [down, up]


def energy_candidates(kwh: float) -> list[float]:
    """The energy to 0.1 kWh (nearest, as sent when it passes), then the other neighbour."""
    kwh = max(kwh, 0.0)
    near = round(kwh, 1)
    other = round(math.floor(kwh / ENERGY_STEP_KWH) * ENERGY_STEP_KWH, 1)
    if other == near:
        other = round(near + ENERGY_STEP_KWH, 1)
    return [near] if abs(kwh - near) <= SNAP * ENERGY_STEP_KWH else [near, other]


def round_plan(m: pyo.ConcreteModel, cfg: PlantConfig, h: str, surrogates: Any) -> RoundedPlan:
    """Heat ``h``'s loaded solution rounded to the feeders and re-checked (module doc)."""
    n = int(round(pyo.value(m.n_samples[h])))
    mats = list(m.M)
    options = [feeder_candidates(cfg.material(k), float(pyo.value(m.add[h, k]) or 0.0)) for k in mats]
    options.append(energy_candidates(float(pyo.value(m.energy[h]) or 0.0)))
    first = [o[0] for o in options]
    points = np.array([first], dtype=float)
    preds = _predict(m, h, mats, points, n, surrogates)
    hard, window, text = _checks(m, cfg, h, mats, points, preds, n)
    repaired = ""
    if hard[0] or window[0]:
        broken = "; ".join(text[0])
        two = [j for j, o in enumerate(options) if len(o) > 1][:MAX_CHOICES]
        grid = []
        for pick in itertools.product(*[range(len(options[j])) for j in two]):
            row = list(first)
            for j, p in zip(two, pick, strict=True):
                row[j] = options[j][p]
            grid.append(row)
        points = np.array(grid, dtype=float)
        preds = _predict(m, h, mats, points, n, surrogates)
        hard, window, text = _checks(m, cfg, h, mats, points, preds, n)
        cost = points @ _cost_coefficients(m, h, mats)
        best = min(range(len(points)), key=lambda i: (hard[i], window[i], cost[i]))
        points, hard, window, text = points[best:best + 1], hard[best:best + 1], window[best:best + 1], [text[best]]
        preds = {o: p[best:best + 1] for o, p in preds.items()}
        moved = [(k, a, b) for k, a, b in zip([*mats, "arc energy"], first, points[0], strict=True) if a != b]
        if not (hard[0] or window[0]):
            repaired = (", ".join(f"{k} {a:g} -> {b:g} {'kWh' if k == 'arc energy' else 'kg'}" for k, a, b in moved)
                        + f" (the nearest grid point broke {broken})")
    adds = {k: float(points[0][j]) for j, k in enumerate(mats)}
    energy = float(points[0][-1])
    predicted = _intervals(m, h, preds, n)
    check = RoundingCheck(repaired, "; ".join(text[0]), bool(hard[0]))
    if check.violation:
        log.warning("heat %s: %s", h, check.note)
    elif repaired:
        log.info("heat %s: %s", h, check.note)
    return RoundedPlan(adds, energy, n, predicted, check)


def _decisions(mats: list[str], points: np.ndarray, n: int) -> dict[str, np.ndarray]:
    out = {f"add_{k}_kg": points[:, j] for j, k in enumerate(mats)}
    out["arc_energy_kWh"] = points[:, -1]
    out["n_samples"] = np.full(len(points), float(n))
    return out


def _predict(m: pyo.ConcreteModel, h: str, mats: list[str], points: np.ndarray, n: int,
             surrogates: Any) -> dict[str, np.ndarray]:
    """Every limited outcome at each row of ``points`` as the program predicts it: linear terms for the heat's
    context plus the residual model's own ``predict`` (on one OpenMP thread: see embedding.api)."""
    ctx = m.heat[h].features()
    dec = _decisions(mats, points, n)
    out = {}
    for hh, o in m.HO:
        if hh != h:
            continue
        sur = surrogates.outcomes[o]
        const, coefs = sur.linear_terms(ctx)
        value = np.full(len(points), float(const))
        for d, c in coefs.items():
            if c != 0.0:
                value = value + c * dec[d]
        model = getattr(sur, "residual_model", None)
        if model is not None:
            frame = pd.DataFrame({f: dec[f] if f in dec else np.full(len(points), ctx[f], dtype=object)
                                  for f in sur.residual_features})
            frame = frame.astype({f: float for f in sur.residual_features if f in dec or _numeric(ctx[f])})
            with threadpool_limits(limits=1, user_api="openmp"):
                value = value + np.asarray(model.predict(frame), dtype=float).reshape(-1)
        out[o] = value
    return out


def _numeric(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _intervals(m: pyo.ConcreteModel, h: str, preds: dict[str, np.ndarray],
               n: int) -> dict[str, tuple[float, float, float]]:
    out = {}
    for o, p in preds.items():
        side = "min" if (h, o, "min") in m.halfwidth else "max"
        hw = m.halfwidth[h, o, side][n]
        out[o] = (float(p[0]), float(p[0]) - hw, float(p[0]) + hw)
    return out


def _checks(m: pyo.ConcreteModel, cfg: PlantConfig, h: str, mats: list[str], points: np.ndarray,
            preds: dict[str, np.ndarray], n: int) -> tuple[list[int], list[int], list[list[str]]]:
    """Per row of ``points``: how many hard limits and window limits it breaks, and a sentence for each."""
    rows = len(points)
    hard, window = [0] * rows, [0] * rows
    text: list[list[str]] = [[] for _ in range(rows)]

    def breaks(i: int, is_hard: bool, what: str) -> None:
        text[i].append(what)
        if is_hard:
            hard[i] += 1
        else:
            window[i] += 1

    prev = {mat: m.heat[h].previous_additions_kg[mat] for hh, mat in m.PREV if hh == h}
    budget = _inventory_budget(m, h)
    step = cfg.safety.max_setpoint_change_kg
    for i in range(rows):
        for j, mat in enumerate(mats):
            kg, var = points[i, j], m.add[h, mat]
            lo = max(var.lb if var.lb is not None else -math.inf, cfg.material(mat).min_kg_per_heat)
            hi = var.ub if var.ub is not None else math.inf
            if kg < lo - tolerance(lo):
                breaks(i, True, f"{mat} {kg:g} kg below its limit {lo:g} kg")
            if kg > hi + tolerance(hi):
                breaks(i, True, f"{mat} {kg:g} kg above its limit {hi:g} kg")
            if mat in budget and kg > budget[mat] + tolerance(budget[mat]):
                breaks(i, True, f"{mat} {kg:g} kg above this heat's share {budget[mat]:g} kg of the daily inventory")
            if mat in prev and abs(kg - prev[mat]) > step + tolerance(step):
                breaks(i, True, f"{mat} {kg:g} kg more than {step:g} kg from the previous setpoint {prev[mat]:g} kg")
        kwh, var = points[i, -1], m.energy[h]
        lo, hi = var.lb if var.lb is not None else 0.0, var.ub if var.ub is not None else math.inf
        if not lo - tolerance(lo) <= kwh <= hi + tolerance(hi):
            breaks(i, True, f"arc energy {kwh:g} kWh outside its limits [{lo:g}, {hi:g}] kWh")
    for hh, o, side in m.LIM:
        if hh != h:
            continue
        limit, hw = m.limit_value[h, o, side], m.halfwidth[h, o, side][n]
        label, unit = ("temperature", "degC") if o == TEMPERATURE else (o.split("_")[1], "wt%")
        for i in range(rows):
            p = float(preds[o][i])
            if side == "min" and p - hw < limit - tolerance(limit):
                breaks(i, False, f"{label} min {limit:g} {unit} by {limit - p + hw:.2g} {unit} (predicted "
                                 f"{p:.6g} - {hw:.3g})")
            if side == "max" and p + hw > limit + tolerance(limit):
                breaks(i, False, f"{label} max {limit:g} {unit} by {p + hw - limit:.2g} {unit} (predicted "
                                 f"{p:.6g} + {hw:.3g})")
    return hard, window, text


def _inventory_budget(m: pyo.ConcreteModel, h: str) -> dict[str, float]:
    """Per stocked material, the most heat ``h`` may get: its solution plus an equal share of the stock the
    solution leaves over the heats solved together (none when the program has no inventory rows)."""
    if not hasattr(m, "inventory"):
        return {}
    out = {}
    for mat in m.MI:
        row = m.inventory[mat]
        left = float(pyo.value(row.upper)) - float(pyo.value(row.body))
        out[mat] = float(pyo.value(m.add[h, mat])) + max(left, 0.0) / len(m.H)
    return out


def _cost_coefficients(m: pyo.ConcreteModel, h: str, mats: list[str]) -> np.ndarray:
    """d heat_cost / d setpoint for each material and the energy (the heat's cost is linear in them)."""
    repn = generate_standard_repn(m.heat_cost[h].expr, compute_values=True)
    coef = {id(v): float(c) for v, c in zip(repn.linear_vars, repn.linear_coefs, strict=True)}
    return np.array([coef.get(id(m.add[h, k]), 0.0) for k in mats] + [coef.get(id(m.energy[h]), 0.0)])


def costs_at(m: pyo.ConcreteModel, h: str, plan: RoundedPlan) -> dict[str, float]:
    """The heat's cost terms at the sent setpoints (the model's own expressions, evaluated there)."""
    varz = [m.add[h, k] for k in m.M] + [m.energy[h]]
    saved = [v.value for v in varz]
    try:
        for k in m.M:
            m.add[h, k].set_value(plan.additions_kg[k], skip_validation=True)
        m.energy[h].set_value(plan.arc_energy_kWh, skip_validation=True)
        return {name: float(pyo.value(getattr(m, name)[h]))
                for name in ("heat_cost", "material_cost", "energy_cost", "sampling_cost", "co2_kg")}
    finally:
        for v, x in zip(varz, saved, strict=True):
            v.set_value(x, skip_validation=True)
