"""The heat-by-heat advisor: decides one heat on its arrival and after each of its samples.

At each decision it either finishes the heat (the last sample shows every limit met at the grade's confidence,
allowing for the measurement error) or plans the next stage: the additions and arc energy (and a hold, for a
heat too hot) that bring the heat's predicted state after the stage into its window, at least cost of materials,
energy, CO2 and treatment minutes (a small Pyomo LP solved by HiGHS over the stage models' linear form, with the
heat's own update from its samples so far).

How far inside the window a stage aims is the sampling decision. Aiming with a wide margin costs material and
energy now; aiming with a narrow one risks that the closing sample falls outside, which costs one more stage (a
sample, its minutes, reheating). The advisor solves the stage for a few margins and takes the one with the
lowest expected cost ``LP cost + P(another stage needed) x cost of a stage`` (value of information: a sample is
taken only when it is worth its cost). The last stage the grade's history supports is always aimed at the
grade's confidence.

Decisions stay inside the history (:mod:`optimizer.advisor.support`): no more of a material than the grade's
heats used, no more stages than they had; anything beyond is refused or flagged on the decision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import SolutionStatus
from scipy import stats

from optimizer.advisor.support import Support
from optimizer.config import Grade, PlantConfig
from optimizer.schema import sample_element_col
from optimizer.stages.models import TEMPERATURE, StageModels, StagePlan
from optimizer.stages.state import HeatState, StageDecision
from optimizer.stages.update import OutcomeForecast, forecast, stage_context

MARGINS = (0.0, 0.75, 1.5)  # stage margins tried, in sd of the closing sample (plus the grade's confidence)
SLACK_PENALTY = 1e5  # per window width outside the window (the LP always answers; a slack is flagged)
MAX_HOLD_MIN = 30.0


@dataclass
class Advisor:
    """Decides heats stage by stage (see module doc). ``shadow_price_per_kg`` prices scarce materials (from the
    night plan's inventory coordination)."""

    cfg: PlantConfig
    models: StageModels
    support: Support
    shadow_price_per_kg: Mapping[str, float] = field(default_factory=dict)
    model_versions: Mapping[str, str] = field(default_factory=dict)
    name: str = "advisor"

    def on_arrival(self, state: HeatState) -> StageDecision:
        """The main stage: additions and energy from the arrival sample."""
        return self._decide(state)

    def on_sample(self, state: HeatState) -> StageDecision:
        """After a sample: finish, or the next stage (trims, energy, hold)."""
        grade = self.cfg.grade(state.grade)
        gs = self.support.grade(state.grade)
        passing, why = self._accepts(grade, state)
        if passing:
            return StageDecision(True, reason=f"sample {state.n_stages} in window at the grade's confidence; "
                                 "finish", source=self.name)
        if gs is not None and state.n_stages >= gs.samples_max:
            return StageDecision(True, flags=(f"off-window after {state.n_stages} samples, the most this grade's "
                                              f"history has ({why}); no advice beyond the data: finish or decide "
                                              "by today's practice",), reason=why, source=self.name)
        return self._decide(state)

    # ------------------------------------------------------------------ finish rule
    def _accepts(self, grade: Grade, state: HeatState) -> tuple[bool, str]:
        """Whether the last sample meets every limit at the grade's confidence, allowing for the measurement."""
        z = float(stats.norm.ppf(grade.confidence))
        for name, (lo, hi) in _windows(grade).items():
            v = _measured(state, name)
            sd = math.sqrt(self.models.outcomes[name].meas_variance(v if name != TEMPERATURE else 0.0))
            if (lo is not None and v < lo + z * sd) or (hi is not None and v > hi - z * sd):
                return False, f"{name} {v:g} outside [{lo}, {hi}] with margin {z * sd:.3g}"
        return True, ""

    # ------------------------------------------------------------------ one stage
    def _decide(self, state: HeatState) -> StageDecision:
        grade = self.cfg.grade(state.grade)
        gs = self.support.grade(state.grade)
        trim = state.n_stages >= 1
        stir = self.support.stir_min[trim]
        last_supported = gs is not None and state.n_stages + 1 >= gs.samples_max
        fcs = {name: forecast(self.models, state, name) for name in _windows(grade)}
        lp = _StageLP(self, grade, state, fcs, stir)
        z_conf = float(stats.norm.ppf(grade.confidence))
        options = [z_conf] if last_supported else sorted({*(m for m in MARGINS), z_conf})
        best = None
        redo = self._stage_cost(state, stir)
        for z in options:
            sol = lp.solve(z)
            if sol is None:
                continue
            p_pass = sol.p_pass if not last_supported else 1.0
            expected = sol.cost + (1.0 - p_pass) * redo
            if best is None or expected < best[0] - 1e-9:
                best = (expected, z, sol)
        if best is None:
            return StageDecision(False, flags=("no answer: the stage LP failed",), reason="solver failed",
                                 source=self.name)
        _, z, sol = best
        flags = list(sol.flags) + self._support_flags(state, sol.additions_kg, sol.arc_energy_kWh, trim)
        if gs is not None and state.n_stages + 1 < gs.samples_min and z >= z_conf:
            flags.append(f"aims to finish after {state.n_stages + 1} samples, fewer than any of this grade's "
                         f"{gs.n_heats} history heats ({gs.samples_min}-{gs.samples_max}); the closing sample "
                         "decides")
        reason = (f"stage {state.n_stages + 1}: margin {z:.2f} sd, expected cost {best[0]:.1f} "
                  f"(P(closing sample in window) {sol.p_pass:.2f}, another stage costs {redo:.1f})")
        return StageDecision(False, sol.additions_kg, sol.arc_energy_kWh, hold_min=sol.hold_min, stir_min=stir,
                             predicted=sol.predicted, flags=tuple(flags), reason=reason, source=self.name,
                             p_finish=sol.p_pass)

    def _stage_cost(self, state: HeatState, stir_min: float) -> float:
        """Expected cost of one more stage: the sample, its minutes and the energy that replaces the heat lost."""
        s, e = self.cfg.sampling, self.cfg.energy
        minutes = stir_min + s.minutes_per_sample
        kwh = e.heat_loss_prior_degC_per_min * minutes * e.steel_heat_kWh_per_t_per_degC * state.steel_weight_t \
            / e.arc_efficiency_prior
        return s.temperature_probe_cost + s.chemistry_sample_cost + minutes * s.cost_per_treatment_minute \
            + kwh * self._kwh_cost()

    def _kwh_cost(self) -> float:
        return self.cfg.energy.price_per_kWh + self.cfg.objective.co2_price_per_t / 1000.0 * \
            self.cfg.energy.co2_kg_per_kWh

    def _support_flags(self, state: HeatState, adds: Mapping[str, float], kwh: float, trim: bool) -> list[str]:
        out = []
        for m, kg in adds.items():
            top = self.support.max_stage_kg[trim].get(m, 0.0)
            if kg > top * 1.05 + 1e-6:
                out.append(f"{m} {kg:.0f} kg in one {'trim' if trim else 'main'} stage, above the most the history "
                           f"has ({top:.0f} kg): extrapolated")
        if kwh > self.support.max_stage_kWh[trim] * 1.05 + 1e-6:
            out.append(f"arc energy {kwh:.0f} kWh in one stage, above the most the history has "
                       f"({self.support.max_stage_kWh[trim]:.0f} kWh): extrapolated")
        return out


@dataclass(frozen=True)
class _Solution:
    additions_kg: dict[str, float]
    arc_energy_kWh: float
    hold_min: float
    cost: float
    p_pass: float
    predicted: dict[str, tuple[float, float, float]]
    flags: tuple[str, ...]


class _StageLP:
    """The stage LP of one decision, built once; margins and variances change through mutable parameters."""

    def __init__(self, adv: Advisor, grade: Grade, state: HeatState, fcs: dict[str, OutcomeForecast],
                 stir_min: float) -> None:
        self.adv, self.grade, self.state, self.fcs, self.stir = adv, grade, state, fcs, stir_min
        cfg, models = adv.cfg, adv.models
        self.ctx = stage_context(state)
        self.w_t = state.steel_weight_t
        self.trim = state.n_stages >= 1
        self.mats = [m.name for m in cfg.materials]
        self.bounds = self._material_bounds()
        self.windows = _windows(grade)
        self.coef = {name: self._affine(fc) for name, fc in fcs.items()}
        m = pyo.ConcreteModel()
        m.M = pyo.Set(initialize=self.mats, ordered=True)
        m.O = pyo.Set(initialize=list(self.windows), ordered=True)
        m.kg = pyo.Var(m.M, bounds=lambda _, k: self.bounds[k])
        used = state.energy_kWh()
        m.kwh = pyo.Var(bounds=(0.0, max(cfg.safety.max_arc_energy_kWh - used, 0.0)))
        m.hold = pyo.Var(bounds=(0.0, MAX_HOLD_MIN))
        m.lo = pyo.Param(m.O, mutable=True, initialize=-1e9)
        m.hi = pyo.Param(m.O, mutable=True, initialize=1e9)
        m.slack_lo = pyo.Var(m.O, bounds=(0.0, None))
        m.slack_hi = pyo.Var(m.O, bounds=(0.0, None))

        def mean(mm, o):  # noqa: ANN001, ANN202
            a, b, c, d = self.coef[o]
            return a + sum(b[k] * mm.kg[k] for k in mm.M) + c * mm.kwh + d * mm.hold

        m.mean = pyo.Expression(m.O, rule=mean)
        m.low_side = pyo.Constraint(m.O, rule=lambda mm, o: mm.mean[o] + mm.slack_lo[o] >= mm.lo[o])
        m.high_side = pyo.Constraint(m.O, rule=lambda mm, o: mm.mean[o] - mm.slack_hi[o] <= mm.hi[o])
        price = {mat.name: mat.price_per_kg + cfg.objective.co2_price_per_t / 1000.0 * mat.co2_kg_per_kg
                 + adv.shadow_price_per_kg.get(mat.name, 0.0) for mat in cfg.materials}
        minute = cfg.sampling.cost_per_treatment_minute
        arc_min_per_kwh = models.arc_minutes(1.0, self.w_t)
        widths = {o: self._width(o) for o in self.windows}
        m.obj = pyo.Objective(expr=sum(price[k] * m.kg[k] for k in m.M) + adv._kwh_cost() * m.kwh  # noqa: SLF001
                              + minute * (m.hold + arc_min_per_kwh * m.kwh)
                              + sum(SLACK_PENALTY / widths[o] * (m.slack_lo[o] + m.slack_hi[o]) for o in m.O))
        self.model = m
        self.opt = SolverFactory("highs")
        self.price = price
        self.ref = StagePlan({}, 0.0, stir_min)

    def _width(self, name: str) -> float:
        lo, hi = self.windows[name]
        if lo is not None and hi is not None:
            return max(hi - lo, 1e-6)
        return max(abs(hi if hi is not None else lo or 1.0) * 0.2, 1e-6)

    def _material_bounds(self) -> dict[str, tuple[float, float]]:
        """Main stage: up to the most this grade's heats used in all. Trims: up to the most one stage of the history
        used of that material (a trim beyond what the history's trims used is flagged as extrapolated; a heat
        outside its window is worse than a flagged trim), within the plant limits."""
        cfg, sup = self.adv.cfg, self.adv.support
        gs = sup.grade(self.state.grade)
        added = self.state.added_kg()
        out = {}
        for mat in cfg.materials:
            done = added.get(mat.name, 0.0)
            room = max(mat.max_kg_per_heat - done, 0.0)
            if self.trim:
                largest = max(sup.max_stage_kg[True].get(mat.name, 0.0), sup.max_stage_kg[False].get(mat.name, 0.0))
                hi = min(room, largest)
                out[mat.name] = (0.0, hi)
                continue
            top = room if gs is None else min(room, max(gs.max_total_kg[mat.name] - done, 0.0))
            out[mat.name] = (min(max(mat.min_kg_per_heat - done, 0.0), top), top)
        return out

    def _affine(self, fc: OutcomeForecast) -> tuple[float, dict[str, float], float, float]:
        """mean = a + sum b_m kg_m + c kWh + d hold (exactly affine: read off at unit plans)."""
        models = self.adv.models

        def at(adds: dict[str, float], kwh: float, hold: float) -> float:
            plan = StagePlan(adds, kwh, self.stir + hold)
            minutes = models.stage_minutes(plan, self.w_t)
            return fc.mean(plan, minutes, models.effect_x(fc.name, self.ctx, plan, minutes))

        a = at({}, 0.0, 0.0)
        b = {k: at({k: 1.0}, 0.0, 0.0) - a for k in self.mats}
        return a, b, at({}, 1.0, 0.0) - a, at({}, 0.0, 1.0) - a

    def _sd(self, plan: StagePlan) -> dict[str, tuple[float, float]]:
        models = self.adv.models
        minutes = models.stage_minutes(plan, self.w_t)
        out = {}
        for o, fc in self.fcs.items():
            x = models.effect_x(o, self.ctx, plan, minutes)
            mean = fc.mean(plan, minutes, x)
            v_meas, v_true = fc.variance(x, mean)
            out[o] = (math.sqrt(v_meas), math.sqrt(v_true))
        return out

    def solve(self, z: float) -> _Solution | None:
        """Cheapest stage whose predicted closing sample lies ``z`` sd inside the acceptance window."""
        z_conf = float(stats.norm.ppf(self.grade.confidence))
        plan = self.ref
        sol = None
        for _ in range(2):  # margins depend on the plan through the variance: evaluate, solve, re-evaluate
            sds = self._sd(plan)
            for o, (lo, hi) in self.windows.items():
                meas_sd = math.sqrt(self.adv.models.outcomes[o].meas_variance(0.0 if o == TEMPERATURE else
                                                                             (lo or 0.0) if hi is None else hi))
                acc_lo = None if lo is None else lo + z_conf * meas_sd
                acc_hi = None if hi is None else hi - z_conf * meas_sd
                self.model.lo[o] = -1e9 if acc_lo is None else acc_lo + z * sds[o][0]
                self.model.hi[o] = 1e9 if acc_hi is None else acc_hi - z * sds[o][0]
            res = self.opt.solve(self.model, load_solutions=False, raise_exception_on_nonoptimal_result=False)
            if res.solution_status != SolutionStatus.optimal:
                return None
            res.solution_loader.load_vars()
            m = self.model
            adds = {k: _to_step(float(m.kg[k].value or 0.0), self.adv.cfg.material(k).feeder_step_kg)
                    for k in self.mats}
            adds = {k: min(v, self.bounds[k][1]) if v > self.bounds[k][1] else v for k, v in adds.items()}
            kwh = max(float(m.kwh.value or 0.0), 0.0)
            hold = max(float(m.hold.value or 0.0), 0.0)
            plan = StagePlan(adds, kwh, self.stir + hold)
            sol = self._solution(plan, adds, kwh, hold, z_conf)
        return sol

    def _solution(self, plan: StagePlan, adds: dict[str, float], kwh: float, hold: float,
                  z_conf: float) -> _Solution:
        models = self.adv.models
        minutes = models.stage_minutes(plan, self.w_t)
        sds = self._sd(plan)
        p_pass, predicted, flags = 1.0, {}, []
        z90 = float(stats.norm.ppf(0.95))
        for o, (lo, hi) in self.windows.items():
            fc = self.fcs[o]
            mean = fc.mean(plan, minutes, models.effect_x(o, self.ctx, plan, minutes))
            sd_meas, sd_true = sds[o]
            meas_sd = math.sqrt(max(sd_meas ** 2 - sd_true ** 2, 0.0))
            acc_lo = -math.inf if lo is None else lo + z_conf * meas_sd
            acc_hi = math.inf if hi is None else hi - z_conf * meas_sd
            p_pass *= _phi((acc_hi - mean) / sd_meas) - _phi((acc_lo - mean) / sd_meas)
            predicted[o] = (mean, mean - z90 * sd_true, mean + z90 * sd_true)
            if (lo is not None and mean < lo) or (hi is not None and mean > hi):
                flags.append(f"{o}: predicted {mean:.4g} outside the window [{lo}, {hi}] even at the limits "
                             "(materials, energy or history support)")
        cost = sum(self.price[k] * kg for k, kg in adds.items()) + self.adv._kwh_cost() * kwh \
            + self.adv.cfg.sampling.cost_per_treatment_minute * (hold + models.arc_minutes(kwh, self.w_t))  # noqa: SLF001
        return _Solution({k: v for k, v in adds.items() if v > 0}, kwh, hold, cost, p_pass, predicted, tuple(flags))


def _phi(x: float) -> float:
    """Standard normal CDF (scalar; scipy's is ~100x slower per call)."""
    if math.isinf(x):
        return 1.0 if x > 0 else 0.0
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _windows(grade: Grade) -> dict[str, tuple[float | None, float | None]]:
    out: dict[str, tuple[float | None, float | None]] = {
        TEMPERATURE: (grade.temperature_degC.min, grade.temperature_degC.max)}
    for el, w in grade.chemistry_wt_pct.items():
        out[sample_element_col(el)] = (w.min, w.max)
    return out


def _measured(state: HeatState, name: str) -> float:
    if name == TEMPERATURE:
        return state.last.temperature_degC
    return float(state.last.wt_pct.get(name[: -len("_wt_pct")], math.nan))


def _to_step(kg: float, step: float) -> float:
    """A feeder's amount: continuous feeders to 0.1 kg, others up to the next step (a step short misses)."""
    if kg < 1e-6:
        return 0.0
    step = step if step > 0 else 0.1
    return round(float(np.ceil(kg / step - 1e-6) * step), 6)
