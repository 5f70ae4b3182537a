"""The dosing program for a group of heats, built as a readable sequence of ``add_<family>`` functions.

Decisions per heat h: ``add[h,m]`` kg of each material m (integer feeder steps where the config gives a
step), ``energy[h]`` kWh of arc energy, and the number of samples chosen by binaries ``z[h,s]``
(sum_s z[h,s] = 1, n_samples[h] = sum_s s z[h,s]). Surrogates predict each constrained outcome o:

    pred[h,o] = c0[h,o] + sum_d coef[h,o,d] x[h,d] + r[h,o]

where c0 and coef come from the surrogate's ``linear_terms`` for the heat's known context, and r is the
embedded residual model (if any) with the context fixed at build time. Chance constraints use the calibrated
half-width at the chosen number of samples, hw[o,s] (interval at the grade's confidence):

    pred[h,o] - sum_s hw[o,s] z[h,s] >= min_o      pred[h,o] + sum_s hw[o,s] z[h,s] <= max_o

In elastic mode (diagnosis) every limit gets a non-negative slack that the objective drives to zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pyomo.environ as pyo

from optimizer.config import Grade, PlantConfig
from optimizer.costs import CostCoefficients
from optimizer.dosing.limits import RelaxationTerm
from optimizer.embedding import add_predictors_constr
from optimizer.schedule import HeatContext
from optimizer.schema import TEMPERATURE, element_col, material_col, material_of
from optimizer.surrogates.surrogate import Surrogates

ELASTIC_PENALTY = 1e6
# additions may go down to this fraction of the smallest the data shows for the grade: the surrogates are
# mass balances (linear in the additions), which extrapolate downward physically; never above the largest seen
DOWNWARD_SUPPORT = 0.5


@dataclass
class DosingOptions:
    """Per-run choices: CO2 weight override (Pareto), CO2 cap (epsilon), inventory coupling, elastic mode."""

    co2_price_per_t: float | None = None
    co2_cap_kg: float | None = None
    inventory: bool = True
    elastic: bool = False
    inventory_used_kg: dict[str, float] = field(default_factory=dict)
    shadow_price_per_kg: dict[str, float] = field(default_factory=dict)  # price coordination (inventory.py); not a cost
    # per heat id, instead of its grade's: heats whose window is narrower than the models' band (min_confidence)
    confidence_by_heat: dict[str, float] = field(default_factory=dict)


def constrained_outcomes(grade: Grade, surrogates: Surrogates) -> list[tuple[str, float | None, float | None]]:
    """(outcome, min, max) for every limit of a grade that the surrogates can predict."""
    rows = [(element_col("final", el), w.min, w.max) for el, w in grade.chemistry_wt_pct.items()]
    rows.append((TEMPERATURE, grade.temperature_degC.min, grade.temperature_degC.max))
    missing = [o for o, _, _ in rows if o not in surrogates.outcomes]
    if missing:
        raise KeyError(f"grade {grade.name} limits {missing}, but no surrogate predicts them; train them first")
    return rows


def per_limit_confidence(confidence: float, limits: list[tuple[str, float | None, float | None]]) -> float:
    """Confidence each limit is held with: the grade's, per element and for the temperature, as process
    engineers state it ("Mn in spec with 95 %"). A joint guarantee (Bonferroni, ``1 - (1 - c) / k``) was tried
    and made most heats infeasible with the windows of the example plant; see docs/dosing.md."""
    del limits
    return confidence


def sample_options(cfg: PlantConfig) -> list[int]:
    """Allowed numbers of samples per heat (config range, capped by the safety limit)."""
    hi = min(cfg.sampling.samples_per_heat_max, cfg.safety.max_samples_per_heat)
    return list(range(cfg.sampling.samples_per_heat_min, hi + 1))


def build_model(cfg: PlantConfig, heats: list[HeatContext], surrogates: Surrogates,
                opts: DosingOptions) -> pyo.ConcreteModel:
    """The whole program for ``heats`` (solved jointly: they share inventory)."""
    m = pyo.ConcreteModel(name="dosing")
    m.H = pyo.Set(initialize=[h.heat_id for h in heats], ordered=True)
    m.M = pyo.Set(initialize=cfg.material_names, ordered=True)
    m.S = pyo.Set(initialize=sample_options(cfg), ordered=True)
    m.heat = {h.heat_id: h for h in heats}
    m.confidence = {h.heat_id: opts.confidence_by_heat.get(h.heat_id, cfg.grade(h.grade).confidence) for h in heats}
    terms: list[RelaxationTerm] = []  # elastic mode: every slack with its limit (limits.py)
    m.elastic_terms = terms
    m.embedded = {h.heat_id: [] for h in heats}  # each heat's residual models' PredictorHandles: verified at
    # every solution (exactness.py)
    add_decisions(m, cfg, surrogates)
    add_sampling_choice(m)
    add_predictions(m, cfg, surrogates)
    add_spec_windows(m, cfg, surrogates, opts.elastic)
    add_material_limits(m, cfg, opts.elastic)
    if opts.inventory:
        add_inventory(m, cfg, opts)
    add_setpoint_change_limits(m, cfg)
    add_costs(m, cfg, opts)
    add_objective(m, cfg, opts)
    m.solver_options = embedded_solver_options([x for hs in m.embedded.values() for x in hs])
    return m


def embedded_solver_options(handles: list) -> dict[str, float]:
    """The HiGHS options the embedded models need to be exact (the tightest of each tolerance)."""
    out: dict[str, float] = {}
    for h in handles:
        for k, v in h.solver_options.items():
            out[k] = min(v, out.get(k, v))
    return out


def _domain_bounds(surrogates: Surrogates, grade: str, feature: str) -> tuple[float, float]:
    """Training-data support of a decision feature for a grade (applicability domain), or (-inf, inf)."""
    dom = surrogates.domain
    if dom is None:
        return -math.inf, math.inf
    lo, hi = dom.bounds(grade, feature)
    return (-math.inf if lo is None else lo), (math.inf if hi is None else hi)


def add_decisions(m: pyo.ConcreteModel, cfg: PlantConfig, surrogates: Surrogates) -> None:
    """add[h,m] in [0, max_kg_per_heat] kg (in feeder steps: add = step * k, k integer) and energy[h] in
    [0, max_arc_energy_kWh], both narrowed to the data's support for the heat's grade."""

    def add_bounds(_m, h, mat):
        mt = cfg.material(mat)
        lo, hi = _domain_bounds(surrogates, m.heat[h].grade, material_col(mat))
        upper = min(mt.max_kg_per_heat, hi) if hi >= mt.min_kg_per_heat else mt.max_kg_per_heat
        lower = min(max(0.0, DOWNWARD_SUPPORT * lo), upper) if math.isfinite(lo) else 0.0
        return lower, max(0.0, upper)

    m.add = pyo.Var(m.H, m.M, bounds=add_bounds, doc="addition per heat and material, kg")
    stepped = [mt.name for mt in cfg.materials if mt.feeder_step_kg > 0]
    m.MS = pyo.Set(initialize=stepped, ordered=True)
    m.steps = pyo.Var(m.H, m.MS, domain=pyo.NonNegativeIntegers,
                      bounds=lambda _m, h, mat: (0, math.floor(cfg.material(mat).max_kg_per_heat
                                                               / cfg.material(mat).feeder_step_kg + 1e-9)))
    m.feeder = pyo.Constraint(m.H, m.MS, rule=lambda _m, h, mat: _m.add[h, mat]
                              == cfg.material(mat).feeder_step_kg * _m.steps[h, mat])

    def energy_bounds(_m, h):
        lo, hi = _domain_bounds(surrogates, m.heat[h].grade, "arc_energy_kWh")
        return max(0.0, lo if math.isfinite(lo) else 0.0), min(cfg.safety.max_arc_energy_kWh, hi)

    m.energy = pyo.Var(m.H, bounds=energy_bounds, doc="arc energy per heat, kWh")


def add_sampling_choice(m: pyo.ConcreteModel) -> None:
    """One binary per allowed sample count: sum_s z[h,s] = 1; n_samples[h] = sum_s s z[h,s]."""
    m.z = pyo.Var(m.H, m.S, domain=pyo.Binary)
    m.one_sample_plan = pyo.Constraint(m.H, rule=lambda _m, h: sum(_m.z[h, s] for s in _m.S) == 1)
    m.n_samples = pyo.Expression(m.H, rule=lambda _m, h: sum(s * _m.z[h, s] for s in _m.S))


def _decision_expr(m: pyo.ConcreteModel, h: str, feature: str):
    if feature == "arc_energy_kWh":
        return m.energy[h]
    if feature == "n_samples":
        return m.n_samples[h]
    material = material_of(feature)
    if material is not None:
        return m.add[h, material]
    raise KeyError(f"surrogate decision feature {feature!r} is not a dosing decision of this plant")


def add_predictions(m: pyo.ConcreteModel, cfg: PlantConfig, surrogates: Surrogates) -> None:
    """pred[h,o] = c0 + sum_d coef_d x_d (+ embedded residual r[h,o]) for every outcome the grade limits."""
    pairs = [(h, o) for h in m.H for o, _, _ in constrained_outcomes(cfg.grade(m.heat[h].grade), surrogates)]
    m.HO = pyo.Set(initialize=pairs, dimen=2, ordered=True)
    m.pred = pyo.Var(m.HO, doc="predicted final value (wt% or degC)")
    m.residual = pyo.Block(m.H)
    context = {h: m.heat[h].features() for h in m.H}
    residual = {}
    for h in m.H:
        residual.update(_embed_residuals(m, h, [o for hh, o in pairs if hh == h], surrogates, context[h]))

    def link(_m, h, o):
        const, coefs = surrogates.outcomes[o].linear_terms(context[h])
        expr = const + sum(c * _decision_expr(_m, h, d) for d, c in coefs.items() if c != 0.0)
        return _m.pred[h, o] == (expr + residual[h, o] if (h, o) in residual else expr)

    m.prediction = pyo.Constraint(m.HO, rule=link)


def _embed_residuals(m: pyo.ConcreteModel, h: str, outcomes: list[str], surrogates: Surrogates,
                     context: dict) -> dict[tuple[str, str], Any]:
    """Embed a heat's residual models with its context fixed, all together (tree models share one step
    function per decision: ``add_predictors_constr``); returns each outcome's residual variable."""
    with_model = [o for o in outcomes if surrogates.outcomes[o].residual_model is not None]
    if not with_model:
        return {}
    blk = m.residual[h]
    blk.O = pyo.Set(initialize=with_model, ordered=True)
    blk.out = pyo.Var(blk.O, doc="residual model output per outcome")
    names = {f for o in with_model for f in surrogates.outcomes[o].residual_features}
    inputs = {f: (context[f] if f in context else _decision_expr(m, h, f)) for f in names}
    m.embedded[h] += add_predictors_constr(blk, [surrogates.outcomes[o].residual_model for o in with_model], inputs,
                                           [blk.out[o] for o in with_model])
    return {(h, o): blk.out[o] for o in with_model}


def add_spec_windows(m: pyo.ConcreteModel, cfg: PlantConfig, surrogates: Surrogates, elastic: bool) -> None:
    """Chance constraints: pred -/+ hw(n_samples) inside [min, max] at the grade's confidence."""
    rows = []
    for h in m.H:
        g = cfg.grade(m.heat[h].grade)
        limits = constrained_outcomes(g, surrogates)
        conf = per_limit_confidence(m.confidence[h], limits)
        for o, lo, hi in limits:
            hw = {s: surrogates.outcomes[o].halfwidth(s, conf, g.name) for s in m.S}
            if lo is not None:
                rows.append((h, o, "min", lo, hw))
            if hi is not None:
                rows.append((h, o, "max", hi, hw))
    m.LIM = pyo.Set(initialize=[(h, o, side) for h, o, side, _, _ in rows], dimen=3, ordered=True)
    m.limit_value = {(h, o, side): v for h, o, side, v, _ in rows}
    m.halfwidth = {(h, o, side): hw for h, o, side, _, hw in rows}
    m.spec_slack = pyo.Var(m.LIM, bounds=(0, None if elastic else 0))

    def window(_m, h, o, side):
        margin = sum(_m.halfwidth[h, o, side][s] * _m.z[h, s] for s in _m.S)
        if side == "min":
            return _m.pred[h, o] - margin + _m.spec_slack[h, o, side] >= _m.limit_value[h, o, side]
        return _m.pred[h, o] + margin - _m.spec_slack[h, o, side] <= _m.limit_value[h, o, side]

    m.spec = pyo.Constraint(m.LIM, rule=window)
    if elastic:
        for key in m.LIM:
            scale = _spec_scale(key[1])
            m.elastic_terms.append(RelaxationTerm(m.spec_slack[key], scale, "spec", key))


def _spec_scale(outcome: str) -> float:
    """Relaxation unit for a limit: 0.01 wt% for chemistry, 1 degC for temperature."""
    return 1.0 if outcome == TEMPERATURE else 0.01


def add_material_limits(m: pyo.ConcreteModel, cfg: PlantConfig, elastic: bool) -> None:
    """min_kg_per_heat <= add[h,m] (<= max_kg_per_heat + slack in elastic mode)."""
    m.material_slack = pyo.Var(m.H, m.M, bounds=(0, None if elastic else 0))
    m.material_min = pyo.Constraint(m.H, m.M, rule=lambda _m, h, mat: _m.add[h, mat]
                                    >= cfg.material(mat).min_kg_per_heat - _m.material_slack[h, mat])
    if elastic:  # move the upper bound into a row so the slack can show how much more would be needed
        m.material_limit = {(h, mat): m.add[h, mat].ub for h in m.H for mat in m.M}  # max_kg_per_heat, narrowed
        for h in m.H:  # to what the grade's heats used in the data (0: never used, the models do not know it)
            for mat in m.M:
                m.add[h, mat].setub(None)
                if mat in m.MS:
                    m.steps[h, mat].setub(None)
        m.material_max = pyo.Constraint(m.H, m.M, rule=lambda _m, h, mat: _m.add[h, mat]
                                        <= _m.material_limit[h, mat] + _m.material_slack[h, mat])
        for key in m.material_slack:
            m.elastic_terms.append(RelaxationTerm(m.material_slack[key], 100.0, "material", key))


def add_inventory(m: pyo.ConcreteModel, cfg: PlantConfig, opts: DosingOptions) -> None:
    """sum_h add[h,m] <= daily_inventory_kg[m] - already used (shared by all heats of the schedule)."""
    finite = [mt.name for mt in cfg.materials if math.isfinite(mt.daily_inventory_kg)]
    m.MI = pyo.Set(initialize=finite, ordered=True)
    m.inventory_slack = pyo.Var(m.MI, bounds=(0, None if opts.elastic else 0))

    def stock(_m, mat):
        left = cfg.material(mat).daily_inventory_kg - opts.inventory_used_kg.get(mat, 0.0)
        return sum(_m.add[h, mat] for h in _m.H) <= left + _m.inventory_slack[mat]

    m.inventory = pyo.Constraint(m.MI, rule=stock)
    if opts.elastic:
        for mat in m.MI:
            m.elastic_terms.append(RelaxationTerm(m.inventory_slack[mat], 100.0, "inventory", (mat,)))


def add_setpoint_change_limits(m: pyo.ConcreteModel, cfg: PlantConfig) -> None:
    """|add[h,m] - previous setpoint| <= max_setpoint_change_kg where a previous setpoint exists."""
    keys = [(h, mat) for h in m.H for mat in m.heat[h].previous_additions_kg if mat in cfg.material_names]
    m.PREV = pyo.Set(initialize=keys, dimen=2, ordered=True)
    step = cfg.safety.max_setpoint_change_kg
    prev = {(h, mat): m.heat[h].previous_additions_kg[mat] for h, mat in keys}
    m.change_up = pyo.Constraint(m.PREV, rule=lambda _m, h, mat: _m.add[h, mat] <= prev[h, mat] + step)
    m.change_down = pyo.Constraint(m.PREV, rule=lambda _m, h, mat: _m.add[h, mat] >= prev[h, mat] - step)


def add_costs(m: pyo.ConcreteModel, cfg: PlantConfig, opts: DosingOptions) -> None:
    """Per-heat cost terms (currency) and CO2 (kg) by the plant's one cost formula (optimizer/costs.py):
    material = sum_m price_m add[h,m], energy = price_kWh energy[h], sampling = cost_per_sample n_samples[h],
    co2_kg = sum_m co2_m add[h,m] + co2_kWh energy[h]; the CO2 price is the run's (Pareto) or the objective's."""
    coef = m.costs = CostCoefficients.from_config(cfg, opts.co2_price_per_t)
    adds = {h: {k: m.add[h, k] for k in m.M} for h in m.H}
    m.material_cost = pyo.Expression(m.H, rule=lambda _m, h: sum(c * x for c, x in coef.material_terms(adds[h])))
    m.energy_cost = pyo.Expression(m.H, rule=lambda _m, h: coef.energy_price_per_kWh * _m.energy[h])
    m.sampling_cost = pyo.Expression(m.H, rule=lambda _m, h: coef.cost_per_sample * _m.n_samples[h])
    m.co2_kg = pyo.Expression(m.H, rule=lambda _m, h: sum(c * x for c, x in coef.material_co2_terms(adds[h]))
                              + coef.energy_co2_kg_per_kWh * _m.energy[h])
    if opts.co2_cap_kg is not None:
        m.co2_cap = pyo.Constraint(expr=sum(m.co2_kg[h] for h in m.H) <= opts.co2_cap_kg)


def add_objective(m: pyo.ConcreteModel, cfg: PlantConfig, opts: DosingOptions) -> None:
    """min sum_h w_mat*material + w_en*energy + w_samp*sampling + w_co2*co2_price*CO2/1000 (+ elastic penalty)."""
    w, co2_price = cfg.objective, m.costs.co2_price_per_t  # the run's CO2 price (add_costs)
    m.heat_cost = pyo.Expression(m.H, rule=lambda _m, h: w.weight_material * _m.material_cost[h]
                                 + w.weight_energy * _m.energy_cost[h] + w.weight_sampling * _m.sampling_cost[h]
                                 + w.weight_co2 * co2_price / 1000.0 * _m.co2_kg[h])
    penalty = sum(ELASTIC_PENALTY * t.var / t.scale for t in m.elastic_terms)
    # price coordination (inventory.py): a mutable price per kg of each stocked material, so a kept model can be
    # re-solved at new prices without rebuilding; priced materials the plant does not stock get a fixed term
    stocked = [mt.name for mt in cfg.materials if math.isfinite(mt.daily_inventory_kg)] if not opts.inventory else []
    m.SP = pyo.Set(initialize=stocked, ordered=True)
    m.shadow_price = pyo.Param(m.SP, mutable=True, initialize=lambda _m, mat: opts.shadow_price_per_kg.get(mat, 0.0),
                               doc="coordination price per kg (not a cost)")
    shadow = sum(m.shadow_price[mat] * m.add[h, mat] for mat in m.SP for h in m.H)
    shadow += sum(price * m.add[h, mat] for mat, price in opts.shadow_price_per_kg.items()
                  if price > 0 and mat not in stocked for h in m.H)
    m.objective = pyo.Objective(expr=sum(m.heat_cost[h] for h in m.H) + penalty + shadow, sense=pyo.minimize)
