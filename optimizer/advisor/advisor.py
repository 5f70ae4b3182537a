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

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import SolutionStatus
from scipy import stats

from optimizer.advisor.support import Support
from optimizer.config import Grade, PlantConfig
from optimizer.costs import CostCoefficients
from optimizer.schema import sample_element, sample_element_col
from optimizer.stages.gross import SUSPECT_SD
from optimizer.stages.models import TEMPERATURE, StageModels, StagePlan
from optimizer.stages.state import HeatState, Sample, StageDecision, StageRecord
from optimizer.stages.update import OutcomeForecast, forecast, stage_context

MARGINS = (0.0, 0.75, 1.5)  # stage margins tried, in sd of the closing sample (plus the grade's confidence)
SLACK_PENALTY = 1e5  # per window width outside the window (the LP always answers; a slack is flagged)
MAX_HOLD_MIN = 30.0
MIN_STIR_MIN = 1.0  # the least stirring a stage gets (as the history support's floor)


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
        """Whether the heat's true state meets its grade's window at the grade's confidence (``confidence`` is the
        chance that the heat lands inside its whole window): the product over its limits of each outcome's chance
        to be inside (:meth:`_inside_chance`: the last sample fused with the stage model's prediction of it, see
        :meth:`closing_estimate`) at least the confidence, and the last measurement itself inside the window
        (the final sample is what the heat is certified on: no model may overrule it)."""
        return self._jointly_inside(grade, state, _windows(grade))

    def _chemistry_accepted(self, grade: Grade, state: HeatState) -> bool:
        """Every chemistry limit met jointly at the grade's confidence now (temperature aside)."""
        chemistry = {name: w for name, w in _windows(grade).items() if name != TEMPERATURE}
        return self._jointly_inside(grade, state, chemistry)[0]

    def finish_chances(self, state: HeatState) -> dict[str, float]:
        """Each outcome's chance to be inside its limits now, as the finish rule judges it (their product is the
        heat's chance to land inside its whole window; ``experiments/advisor_calibration.py`` checks them)."""
        grade = self.cfg.grade(state.grade)
        return {name: self._inside_chance(state, name, w)[0] for name, w in _windows(grade).items()}

    def _jointly_inside(self, grade: Grade, state: HeatState,
                        windows: Mapping[str, tuple[float | None, float | None]]) -> tuple[bool, str]:
        """(accepted, why not) of the outcomes ``windows``: each measured inside, and the product of their chances
        to be inside at least the grade's confidence."""
        joint, worst, name_worst = 1.0, 2.0, ""
        for name, window in windows.items():
            p, why = self._inside_chance(state, name, window)
            if why:
                return False, why
            joint *= p
            if p < worst:
                worst, name_worst = p, name
        if joint >= grade.confidence:
            return True, ""
        return False, f"{name_worst} inside its window with chance {worst:.3f}; all limits jointly {joint:.3f}, " \
            f"below the grade's confidence {grade.confidence:g}"

    def _inside_chance(self, state: HeatState, name: str,
                       window: tuple[float | None, float | None]) -> tuple[float, str]:
        """(chance that ``name`` is inside ``window`` now, why it keeps the heat from finishing regardless: not
        measured, or measured outside; '' otherwise). The chance is the lower of the closing estimate's and the
        settled state's (the two differ only where the history shows a sample that misses part of its stage;
        which one the heat leaves with, the sample table cannot say for sure: "What the last sample has not seen
        yet" in docs/advisor.md), after the minutes waited since the sample (the heat leaves now)."""
        lo, hi = window
        v, sd = self.closing_estimate(state, name)
        if not (math.isfinite(v) and math.isfinite(sd)):
            return 0.0, f"{name}: no estimate (not measured)"
        late = self._unseen(state, name)
        wait = self._waited(state, name, v)
        chance = min(_inside(self.cfg, name, window, est, sd) for est in ((v + wait, v + late + wait) if late
                                                                          else (v + wait,)))
        if name == TEMPERATURE or not state.last.is_dip:
            measured = _measured(state, name)
            if (lo is not None and measured < lo) or (hi is not None and measured > hi):
                return chance, f"{name} measured {measured:.4g} outside [{lo}, {hi}] (the model's estimate {v:.4g} " \
                    "does not overrule the sample)"
        return chance, ""

    def settled_estimate(self, state: HeatState, name: str) -> tuple[float, float]:
        """(mean, sd) of the true value of ``name`` now, once what the last sample had not seen of its stage's
        input has shown (``StageModels.unseen_linear``: an addition not yet mixed, a stratified bath's dip that
        over-reads the arc's rise) and after the minutes waited since it (:meth:`_waited`): the
        :meth:`closing_estimate` plus both. A heat finishes only when both it and the closing estimate (with the
        wait) meet every limit."""
        v, sd = self.closing_estimate(state, name)
        return v + self._unseen(state, name) + self._waited(state, name, v), sd

    def _waited(self, state: HeatState, name: str, v: float) -> float:
        """Change of ``name`` (at ``v`` when the last sample was taken) over the minutes the heat has waited since
        (``HeatState.waited_min``: a lab result slower than the sample's minutes): the stage model's per-minute
        terms (holding loss, fade) alone. 0 without a wait."""
        if state.waited_min <= 0.0:
            return 0.0
        lin = self.models.linear(name, stage_context(state, self.cfg))
        return (lin.per_min - lin.fade_per_min * v) * state.waited_min

    def _unseen(self, state: HeatState, name: str) -> float:
        """Settled minus closing estimate of ``name``: what the last sample has not seen of its stage's input."""
        if state.n_stages == 0 or (name != TEMPERATURE and state.last.is_dip):
            return 0.0  # nothing done yet; or predicted since the chemistry sample, which includes it already
        done = state.stages[-1]
        return self.models.unseen_shift(name, done.additions_kg, done.arc_energy_kWh, state.steel_weight_t)

    def closing_estimate(self, state: HeatState, name: str) -> tuple[float, float]:
        """(mean, sd) of the true value of ``name`` now: the last measurement combined with what the stage model
        predicted for it before it was taken (a Kalman step). A measurement more than 3 sd from the prediction
        is taken alone: the model is not trusted against the plant."""
        if name != TEMPERATURE and state.last.is_dip:
            return self._predicted_since_chemistry(state, name)
        measured = _measured(state, name)
        meas_var = self.models.outcomes[name].meas_variance(measured if name != TEMPERATURE else 0.0)
        if state.n_stages == 0:
            return measured, math.sqrt(meas_var)
        pred, var_meas, var_true = self.closing_prediction(state, name)
        return self._fused(name, measured, meas_var, pred, var_meas, var_true)

    def _fused(self, name: str, measured: float, meas_var: float, pred: float, var_meas: float,
               var_true: float) -> tuple[float, float]:
        """(mean, sd) of the truth from a reading and the stage model's prediction of it (a Kalman step). A
        reading more than ``SUSPECT_SD`` from the prediction is suspect: gross with the chance the history gives
        (``OutcomeModel.gross``: how often the next sample takes such a reading back, on that side), then the truth
        is as predicted; else the model is wrong for this heat and the reading is taken alone (all of it where the
        history shows no gross readings)."""
        if not math.isfinite(pred):
            return measured, math.sqrt(meas_var)
        if abs(measured - pred) > SUSPECT_SD * math.sqrt(var_meas):
            return _mixture(self.models.outcomes[name].gross.share(measured - pred), pred, var_true, measured, meas_var)
        var_true = max(var_true, meas_var)  # the prediction never outweighs the sample (``_closing``)
        w = var_true / (var_true + meas_var)
        return pred + w * (measured - pred), math.sqrt(var_true * meas_var / (var_true + meas_var))

    def closing_prediction(self, state: HeatState, name: str) -> tuple[float, float, float]:
        """What the stage model predicted for ``name`` at the last sample of ``state`` before it was taken (the
        heat's own update from its earlier samples included, a suspect one among them by its estimate,
        :meth:`credible`): (mean, variance of the reading, variance of the true value). ``state`` must have at
        least one stage."""
        credible = list(self.credible(state).samples)
        return self._prediction(_prefix(state, credible, len(credible) - 1), state, name)

    def credible(self, state: HeatState) -> HeatState:
        """``state`` with each suspect reading of an outcome whose history shows gross readings (a failed dip, a
        contaminated sample: ``OutcomeModel.gross``) replaced by the estimate of the truth, sample by sample
        from the first, so that later stages are predicted from it and not from the reading (the last one too:
        the next stage is planned from it). The sample after a suspect one tells which it was: the suspect
        reading's chance to be gross is updated by how well the next reading fits either story (Bayes), so a
        reading the next sample confirms is believed after all. ``state`` itself where none is suspect."""
        names = [n for n, m in self.models.outcomes.items() if m.gross.kept]
        if not names or state.n_stages == 0:
            return state
        samples = list(state.samples)
        doubted: dict[str, tuple[int, float, float, float]] = {}  # name -> (sample, prediction, reading, share)
        for j in range(1, len(samples)):
            for name in names:
                if name != TEMPERATURE and samples[j].is_dip:
                    continue
                measured = _reading(state.samples[j], name)
                if not math.isfinite(measured):
                    continue
                if name in doubted and doubted[name][0] == j - 1:
                    samples[j - 1] = self._resolved(state, samples, j, name, measured, *doubted.pop(name)[1:])
                pred, var_meas, var_true = self._prediction(_prefix(state, samples, j), _prefix(state, samples, j + 1),
                                                            name)
                if not (math.isfinite(pred) and abs(measured - pred) > SUSPECT_SD * math.sqrt(var_meas)):
                    continue
                share = self.models.outcomes[name].gross.share(measured - pred)
                if share > 0.0:
                    meas_var = self.models.outcomes[name].meas_variance(measured if name != TEMPERATURE else 0.0)
                    doubted[name] = (j, pred, measured, share)
                    samples[j] = _with_value(samples[j], name, _mixture(share, pred, var_true, measured, meas_var)[0])
        return dataclasses.replace(state, samples=tuple(samples))

    def _resolved(self, state: HeatState, samples: list[Sample], j: int, name: str, measured: float,
                  pred: float, reading: float, share: float) -> Sample:
        """Sample ``j - 1`` (a suspect reading of ``name``, its prediction ``pred``) once sample ``j`` reads
        ``measured``: its value the prediction with the posterior chance that it was gross (the next reading as
        the story "gross" predicts it against the story "true"), the reading otherwise."""
        if_true = [*samples[:j - 1], _with_value(samples[j - 1], name, reading), *samples[j:]]
        if_gross = [*samples[:j - 1], _with_value(samples[j - 1], name, pred), *samples[j:]]
        like = []
        for story in (if_gross, if_true):
            mean, var_meas, _ = self._prediction(_prefix(state, story, j), _prefix(state, story, j + 1), name)
            like.append(math.exp(-0.5 * (measured - mean) ** 2 / var_meas) / math.sqrt(var_meas)
                        if math.isfinite(mean) and var_meas > 0 else 0.0)
        total = share * like[0] + (1.0 - share) * like[1]
        gross = share * like[0] / total if total > 0 else share
        return _with_value(samples[j - 1], name, gross * pred + (1.0 - gross) * reading)

    def _prediction(self, before: HeatState, state: HeatState, name: str) -> tuple[float, float, float]:
        """:meth:`closing_prediction` of ``state``'s last sample from ``before`` (its samples but the last)."""
        done = state.stages[-1]
        minutes = state.last.minutes_from_start - state.samples[-2].minutes_from_start
        plan = StagePlan(done.additions_kg, done.arc_energy_kWh, 0.0)
        fc = forecast(self.models, before, name)
        x = self.models.effect_x(name, stage_context(before, self.cfg), plan, minutes)
        pred = fc.mean(plan, minutes, x)
        var_meas, var_true = fc.variance(x, pred)
        return pred, var_meas, var_true

    def _predicted_since_chemistry(self, state: HeatState, name: str) -> tuple[float, float]:
        """(mean, sd) of element ``name`` now when the last measurement was a dip alone (see :meth:`drifted`)."""
        j = max(i for i, smp in enumerate(state.samples) if not smp.is_dip)
        since = state.stages[j:]
        minutes = state.last.minutes_from_start - state.samples[j].minutes_from_start
        return self.drifted(_truncated(state, j), name, sum(st.arc_energy_kWh for st in since), minutes, len(since))

    def drifted(self, state: HeatState, name: str, kwh: float, minutes: float, stages: int = 1) -> tuple[float, float]:
        """(mean, sd) of element ``name`` after ``stages`` stages that add nothing (dips alone), ``kwh`` and
        ``minutes`` in all, from a state whose last sample has chemistry: its closing estimate plus the stage
        model's drift (time and arc energy only, the fade included), with the stage noise added and no measurement."""
        v0, sd0 = self.closing_estimate(state, name)
        lin = self.models.linear(name, stage_context(state, self.cfg))
        drift = lin.value(v0, StagePlan({}, kwh, 0.0), minutes) - v0
        m = self.models.outcomes[name]
        noise = max(m.variance(True, v0) - 2.0 * m.meas_variance(v0), 0.0) * m.scale_for(True) ** 2 * stages
        return v0 + drift, math.sqrt(sd0 ** 2 + noise)

    def _as_measured(self, state: HeatState) -> HeatState:
        """``state`` as the next stage is planned from it: the chemistry of a last dip-only measurement filled in by
        its prediction (the sample closing that stage measures the chemistry again), suspect readings by their
        estimate (:meth:`credible`)."""
        if not state.last.is_dip:
            return self.credible(state)
        grade = self.cfg.grade(state.grade)
        wt = {sample_element(name): self._predicted_since_chemistry(state, name)[0]
              for name in _windows(grade) if name != TEMPERATURE}
        last = Sample(state.last.sample_no, state.last.minutes_from_start, state.last.temperature_degC, wt)
        return self.credible(dataclasses.replace(state, samples=(*state.samples[:-1], last)))

    # ------------------------------------------------------------------ one stage
    def _decide(self, state: HeatState) -> StageDecision:
        grade = self.cfg.grade(state.grade)
        gs = self.support.grade(state.grade)
        trim = state.n_stages >= 1
        stir = self._stir_left(state)
        last_supported = gs is not None and state.n_stages + 1 >= gs.samples_max
        # only the temperature is off: a dip alone may close the stage (not twice running: then a sample)
        dip_ok = trim and not state.last.is_dip and self._chemistry_accepted(grade, state)
        candidates = self._candidates(state, last_supported, dip_ok)
        redo = self._stage_cost(state, self.support.stir_min[trim])
        follow = self._follow_up_chance(state, candidates) if not trim and not last_supported else None
        best = self._choose(candidates, redo, self._stages_left(state), follow)
        if best is None:
            return StageDecision(False, flags=("no answer: the stage LP failed",), reason="solver failed",
                                 source=self.name)
        _, z, sol, dip = best
        flags = list(sol.flags) + self._support_flags(state, sol.additions_kg, sol.arc_energy_kWh, trim)
        if gs is not None and state.n_stages + 1 < gs.samples_min and sol.p_pass >= 0.5:
            flags.append(f"aims to finish after {state.n_stages + 1} samples, fewer than any of this grade's "
                         f"{gs.n_heats} history heats ({gs.samples_min}-{gs.samples_max}); the closing sample "
                         "decides")
        what = "a temperature dip alone (chemistry in window)" if dip else "a sample"
        reason = (f"stage {state.n_stages + 1}, closed by {what}: margin {z:.2f} sd, expected cost {best[0]:.1f} "
                  f"(P(closing measurement in window) {sol.p_pass:.2f}, another stage costs {redo:.1f})")
        return StageDecision(False, sol.additions_kg, sol.arc_energy_kWh, hold_min=sol.hold_min, stir_min=stir,
                             predicted=sol.predicted, flags=tuple(flags), reason=reason, source=self.name,
                             p_finish=sol.p_pass, closing="dip" if dip else "sample")

    def _candidates(self, state: HeatState, last_supported: bool, dip_ok: bool) -> list[tuple[float, bool, _Solution]]:
        """The stage solved for every margin tried (only the grade's confidence for the last supported stage),
        closed by a sample, and by a dip alone where allowed: (margin, dip, solution)."""
        grade = self.cfg.grade(state.grade)
        stir = self._stir_left(state)
        planned = self._as_measured(state)
        fcs = {name: forecast(self.models, planned, name) for name in _windows(grade)}
        z_conf = float(stats.norm.ppf(grade.confidence))
        options = [z_conf] if last_supported else sorted({*(m for m in MARGINS), z_conf})
        out = []
        for dip in (False, True) if dip_ok else (False,):
            lp = _StageLP(self, grade, planned, fcs, stir, dip=dip)
            for z in options:
                sol = lp.solve(z)
                if sol is not None:
                    out.append((z, dip, sol))
        return out

    def _stir_left(self, state: HeatState) -> float:
        """Stirring still to do in the stage that starts now (min): the history's minutes besides arc and
        sampling for such a stage, less what the heat has waited since its sample (in the history a wait for the
        result is inside the stage that follows the sample), at least ``MIN_STIR_MIN``."""
        return max(self.support.stir_min[state.n_stages >= 1] - state.waited_min, MIN_STIR_MIN)

    def _stages_left(self, state: HeatState) -> int:
        """Stages the grade's history still supports after the one planned now (0: it is the last)."""
        gs = self.support.grade(state.grade)
        most = gs.samples_max if gs is not None else self.cfg.safety.max_samples_per_heat
        return max(most - state.n_stages - 1, 0)

    def _choose(self, candidates: list[tuple[float, bool, _Solution]], redo: float, left: int,
                follow: float | None) -> tuple[float, float, _Solution, bool] | None:
        """The candidate of least expected cost ``LP cost + closing + P(fail) x redo x E[stages a failure costs]``.
        A failed closing sample costs a stage, and that stage fails in turn with its own chance ``q``, up to the
        ``left`` stages the history supports: ``E = (1 - (1 - q)^left) / q`` (a truncated geometric; ``left``
        when ``q`` is 0; no stage is left after the last supported one, which is aimed at the confidence).
        ``follow``: ``q`` from the main stage's look-ahead; ``None`` for a trim, whose follow-up is a trim aimed
        the same way: the chance of the sample-closed candidate at the same margin."""
        by_margin = {z: sol.p_pass for z, dip, sol in candidates if not dip}
        best = None
        for z, dip, sol in candidates:
            p_pass = sol.p_pass if left > 0 else 1.0
            q = follow if follow is not None else by_margin.get(z, sol.p_pass)
            expected = sol.cost + self._closing_cost(dip) + (1.0 - p_pass) * redo * _stages_after_failure(q, left)
            if best is None or expected < best[0] - 1e-9:
                best = (expected, z, sol, dip)
        return best

    def _follow_up_chance(self, state: HeatState, candidates: list[tuple[float, bool, _Solution]]) -> float:
        """Look-ahead of the main stage: the chance that the trim after a failed closing sample finishes, from the
        heat as the leanest candidate (the one nearest the acceptance edge, where a failed sample leaves it)
        predicts it after the main stage, the trim chosen by the trims' own rule. 1 when it cannot be planned."""
        sample_closed = [c for c in candidates if not c[1]]
        if not sample_closed:
            return 1.0
        _, _, sol = min(sample_closed, key=lambda c: c[0])
        wt = {sample_element(name): sol.reads.get(name, mean) for name, (mean, _, _) in sol.predicted.items()
              if name != TEMPERATURE}
        plan = StagePlan(sol.additions_kg, sol.arc_energy_kWh, self._stir_left(state) + sol.hold_min + state.waited_min)
        minutes = self.models.stage_minutes(plan, state.steel_weight_t)
        done = StageRecord(dict(sol.additions_kg), sol.arc_energy_kWh,
                           self.models.arc_minutes(sol.arc_energy_kWh, state.steel_weight_t))
        after = Sample(state.last.sample_no + 1, state.last.minutes_from_start + minutes,
                       sol.reads.get(TEMPERATURE, sol.predicted[TEMPERATURE][0]), {**state.last.wt_pct, **wt})
        wait = self.support.result_wait_min  # the trim is decided when that sample's result is in
        nxt = dataclasses.replace(state, samples=(*state.samples, after), stages=(*state.stages, done),
                                  decision_minutes_from_start=after.minutes_from_start + wait if wait else math.nan)
        left = self._stages_left(nxt)
        trims = self._candidates(nxt, left == 0, dip_ok=False)
        best = self._choose(trims, self._stage_cost(nxt, self.support.stir_min[True]), left, None)
        return 1.0 if best is None else best[2].p_pass

    def _closing_cost(self, dip: bool) -> float:
        """Probe, lab and waiting minutes of the measurement that closes a stage."""
        s = self.cfg.sampling
        return s.cost_per_dip if dip else s.cost_per_sample

    def _stage_cost(self, state: HeatState, stir_min: float) -> float:
        """Expected cost of one more stage: the sample, its minutes and the energy that replaces the heat lost."""
        s, e = self.cfg.sampling, self.cfg.energy
        minutes = stir_min + s.minutes_per_sample
        kwh = e.heat_loss_prior_degC_per_min * minutes * e.steel_heat_kWh_per_t_per_degC * state.steel_weight_t \
            / e.arc_efficiency_prior
        return s.temperature_probe_cost + s.chemistry_sample_cost + minutes * s.cost_per_treatment_minute \
            + kwh * self._kwh_cost()

    def _kwh_cost(self) -> float:
        """One kWh of arc energy with its internal CO2 charge (optimizer/costs.py)."""
        return CostCoefficients.from_config(self.cfg).charged_price_per_kWh

    def _support_flags(self, state: HeatState, adds: Mapping[str, float], kwh: float, trim: bool) -> list[str]:
        """Flags of a stage outside the history. A trim of a material is inside it when the amount is within
        the largest stage of that material the history has (main or trim: its recovery is the material's,
        learned from every stage, with the trim effect learned from all trims of its elements) and the heat's
        total stays within the most one heat of the grade had."""
        out = []
        sup, gs, so_far = self.support, self.support.grade(state.grade), state.added_kg()
        for m, kg in adds.items():
            top = sup.max_stage_kg[trim].get(m, 0.0)
            if trim:
                top = max(top, sup.max_stage_kg[False].get(m, 0.0))
            if kg > top * 1.05 + 1e-6:
                out.append(f"{m} {kg:.0f} kg in one {'trim' if trim else 'main'} stage, above the most the history "
                           f"has ({top:.0f} kg): extrapolated")
            elif trim and gs is not None and so_far.get(m, 0.0) + kg > gs.max_total_kg.get(m, 0.0) * 1.05 + 1e-6:
                out.append(f"{m}: {so_far.get(m, 0.0) + kg:.0f} kg in the heat after this trim, above the most one "
                           f"{state.grade} heat of the history had ({gs.max_total_kg.get(m, 0.0):.0f} kg): "
                           "extrapolated")
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
    predicted: dict[str, tuple[float, float, float]]  # the state after the stage (once the unseen has shown)
    flags: tuple[str, ...]
    reads: dict[str, float] = field(default_factory=dict)  # what the closing measurement is expected to read
    in_play: int = 1  # outcomes left near a limit (their miss chance at least a tenth of the grade's allowance)


class _StageLP:
    """The stage LP of one decision, built once; margins and variances change through mutable parameters."""

    def __init__(self, adv: Advisor, grade: Grade, state: HeatState, fcs: dict[str, OutcomeForecast],
                 stir_min: float, dip: bool = False) -> None:
        self.adv, self.grade, self.state, self.fcs = adv, grade, state, fcs
        # the stage's minutes besides arc and sample: stirring, and the minutes already waited since the last
        # sample (they are part of this stage, as in the history's sample table, and cost nothing more now)
        self.stir = stir_min + state.waited_min
        self.dip = dip  # closed by a temperature dip alone: no additions, chemistry not measured
        cfg, models = adv.cfg, adv.models
        self.ctx = stage_context(state, adv.cfg)
        self.w_t = state.steel_weight_t
        self.trim = state.n_stages >= 1
        self.mats = [m.name for m in cfg.materials]
        self.bounds = {k: (0.0, 0.0) for k in self.mats} if dip else self._material_bounds()
        self.windows = _windows(grade)
        self.coef = {name: self._affine(fc) for name, fc in fcs.items()}
        m = pyo.ConcreteModel()
        m.M = pyo.Set(initialize=self.mats, ordered=True)
        m.O = pyo.Set(initialize=list(self.windows), ordered=True)
        m.kg = pyo.Var(m.M, bounds=lambda _, k: self.bounds[k])
        used = state.energy_kWh()
        stage_kwh = adv.support.max_stage_kWh[self.trim] or cfg.safety.max_arc_energy_kWh  # inside the history
        m.kwh = pyo.Var(bounds=(0.0, max(min(cfg.safety.max_arc_energy_kWh - used, stage_kwh), 0.0)))
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
        # the heat is judged on its state once what the closing sample has not seen has shown: that too in window
        m.L = pyo.Set(initialize=[o for o in self.windows if models.outcomes[o].unseen != 0.0], ordered=True)

        def settled(mm, o):  # noqa: ANN001, ANN202
            per_kg, per_kwh = models.unseen_linear(o, self.w_t)
            return mm.mean[o] + sum(per_kg.get(k, 0.0) * mm.kg[k] for k in mm.M) + per_kwh * mm.kwh

        m.settled = pyo.Expression(m.L, rule=settled)
        m.settled_low = pyo.Constraint(m.L, rule=lambda mm, o: mm.settled[o] + mm.slack_lo[o] >= mm.lo[o])
        m.settled_high = pyo.Constraint(m.L, rule=lambda mm, o: mm.settled[o] - mm.slack_hi[o] <= mm.hi[o])
        costs = CostCoefficients.from_config(cfg)
        price = {mat.name: costs.charged_price_per_kg(mat.name) + adv.shadow_price_per_kg.get(mat.name, 0.0)
                 for mat in cfg.materials}
        minute = cfg.sampling.cost_per_treatment_minute
        arc_min_per_kwh = models.arc_minutes(1.0, self.w_t)
        widths = {o: self._width(o) for o in self.windows}
        m.obj = pyo.Objective(expr=sum(price[k] * m.kg[k] for k in m.M) + adv._kwh_cost() * m.kwh  # noqa: SLF001
                              + minute * (m.hold + arc_min_per_kwh * m.kwh)
                              + sum(SLACK_PENALTY / widths[o] * (m.slack_lo[o] + m.slack_hi[o]) for o in m.O))
        self.model = m
        self.opt = SolverFactory("highs")
        self.price = price
        self.ref = StagePlan({}, 0.0, self.stir)
        # the closing sample's result comes after the history's typical wait (none after a dip): the heat must still
        # be warm enough then, as the finish rule will judge it (Advisor._waited)
        wait = 0.0 if dip else adv.support.result_wait_min
        self.cooling = max(-models.linear(TEMPERATURE, self.ctx).per_min * wait, 0.0) if wait else 0.0

    def _width(self, name: str) -> float:
        lo, hi = self.windows[name]
        if lo is not None and hi is not None:
            return max(hi - lo, 1e-6)
        return max(abs(hi if hi is not None else lo or 1.0) * 0.2, 1e-6)

    def _material_bounds(self) -> dict[str, tuple[float, float]]:
        """Main stage: up to the most this grade's heats used in all. Trims: up to the most one stage of the history
        used of that material (main or trim) and the heat's total within the most one heat of the grade had, within
        the plant limits: a trim never leaves the data (see :meth:`Advisor._support_flags`)."""
        cfg, sup = self.adv.cfg, self.adv.support
        gs = sup.grade(self.state.grade)
        added = self.state.added_kg()
        out = {}
        for mat in cfg.materials:
            done = added.get(mat.name, 0.0)
            room = max(mat.max_kg_per_heat - done, 0.0)
            if self.trim:  # inside the data: a stage as large as the history has, the heat within the grade's
                largest = max(sup.max_stage_kg[True].get(mat.name, 0.0), sup.max_stage_kg[False].get(mat.name, 0.0))
                hi = min(room, largest)
                if gs is not None:
                    hi = min(hi, max(gs.max_total_kg.get(mat.name, 0.0) - done, 0.0))
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
            minutes = models.stage_minutes(plan, self.w_t, self.dip)
            return fc.mean(plan, minutes, models.effect_x(fc.name, self.ctx, plan, minutes))

        a = at({}, 0.0, 0.0)
        b = {k: at({k: 1.0}, 0.0, 0.0) - a for k in self.mats}
        return a, b, at({}, 1.0, 0.0) - a, at({}, 0.0, 1.0) - a

    def _sd(self, plan: StagePlan) -> dict[str, tuple[float, float]]:
        models = self.adv.models
        minutes = models.stage_minutes(plan, self.w_t, self.dip)
        out = {}
        for o, fc in self.fcs.items():
            x = models.effect_x(o, self.ctx, plan, minutes)
            mean = fc.mean(plan, minutes, x)
            v_meas, v_true = fc.variance(x, mean)
            out[o] = (math.sqrt(v_meas), math.sqrt(v_true))
        return out

    def solve(self, z: float) -> _Solution | None:
        """Cheapest stage whose closing estimate is predicted ``z`` spreads inside the acceptance window (the
        window less ``z_each`` times the sd the closing sample will leave). ``z_each`` is the grade's confidence
        shared among the outcomes the plan leaves near a limit (``_Solution.in_play``, from the first pass; the
        finish rule asks their joint chance): each outcome at ``confidence ** (1 / in_play)``."""
        z_each = float(stats.norm.ppf(self.grade.confidence))  # the first pass: as if one outcome were in play
        plan = self.ref
        sol = None
        for _ in range(2):  # margins depend on the plan through the variance: evaluate, solve, re-evaluate
            sds = self._sd(plan)
            for o, (lo, hi) in self.windows.items():
                post_sd, spread = _closing(*sds[o])
                if self.dip and o != TEMPERATURE:  # not measured: accepted on the prediction (checked after)
                    self.model.lo[o], self.model.hi[o] = -1e9, 1e9
                    continue
                m_lo, m_hi = _margins(self.adv.cfg, o, (lo, hi), post_sd, z_each)
                m_lo += self.cooling if o == TEMPERATURE else 0.0
                self.model.lo[o] = -1e9 if lo is None else lo + m_lo + z * spread
                self.model.hi[o] = 1e9 if hi is None else hi - m_hi - z * spread
            res = self.opt.solve(self.model, load_solutions=False, raise_exception_on_nonoptimal_result=False)
            if res.solution_status != SolutionStatus.optimal:
                return None
            res.solution_loader.load_vars()
            m = self.model
            adds = {k: self.adv.cfg.material(k).feeder_amount(float(m.kg[k].value or 0.0)) for k in self.mats}
            adds = {k: min(v, self.bounds[k][1]) if v > self.bounds[k][1] else v for k, v in adds.items()}
            kwh = max(float(m.kwh.value or 0.0), 0.0)
            hold = max(float(m.hold.value or 0.0), 0.0)
            plan = StagePlan(adds, kwh, self.stir + hold)
            sol = self._solution(plan, adds, kwh, hold, z_each)
            z_each = float(stats.norm.ppf(self.grade.confidence ** (1.0 / sol.in_play)))
        return sol

    def _solution(self, plan: StagePlan, adds: dict[str, float], kwh: float, hold: float,
                  z_conf: float) -> _Solution:
        models = self.adv.models
        minutes = models.stage_minutes(plan, self.w_t, self.dip)
        sds = self._sd(plan)
        p_pass, predicted, flags, reads = 1.0, {}, [], {}
        z90 = float(stats.norm.ppf(0.95))
        in_play = 0  # outcomes whose chance to miss their window after the stage matters for the joint rule
        near = (1.0 - self.grade.confidence) / 10.0
        for o, (lo, hi) in self.windows.items():
            fc = self.fcs[o]
            measured = fc.mean(plan, minutes, models.effect_x(o, self.ctx, plan, minutes))
            mean = measured + models.unseen_shift(o, adds, kwh, self.w_t)  # the heat's state once it has shown
            sd_meas, sd_true = sds[o]
            post_sd, spread = _closing(sd_meas, sd_true)
            predicted[o] = (mean, mean - z90 * sd_true, mean + z90 * sd_true)
            reads[o] = measured
            if self.dip and o != TEMPERATURE:  # accepted after the dip on the prediction alone, or the dip is moot
                mean, sd = self.adv.drifted(self.state, o, kwh, minutes)
                predicted[o] = (mean, mean - z90 * sd, mean + z90 * sd)
                inside = (lo is None or mean >= lo + z_conf * sd) and (hi is None or mean <= hi - z_conf * sd)
                p_pass *= 1.0 if inside else 0.0
                continue
            in_play += min(_inside(self.adv.cfg, o, (lo, hi), est, post_sd) for est in (mean, measured)) < 1.0 - near
            m_lo, m_hi = _margins(self.adv.cfg, o, (lo, hi), post_sd, z_conf)
            m_lo += self.cooling if o == TEMPERATURE else 0.0  # still in window once the result is in
            acc_lo = -math.inf if lo is None else lo + m_lo
            acc_hi = math.inf if hi is None else hi - m_hi
            # accepted when both the estimate of the reading and the settled state are (see Advisor._rejects)
            p_pass *= max(_phi((acc_hi - max(mean, measured)) / spread) - _phi((acc_lo - min(mean, measured)) / spread),
                          0.0)
            if (lo is not None and mean < lo) or (hi is not None and mean > hi):
                flags.append(f"{o}: predicted {mean:.4g} outside the window [{lo}, {hi}] even at the limits "
                             "(materials, energy or history support)")
        cost = sum(self.price[k] * kg for k, kg in adds.items()) + self.adv._kwh_cost() * kwh \
            + self.adv.cfg.sampling.cost_per_treatment_minute * (hold + models.arc_minutes(kwh, self.w_t))  # noqa: SLF001
        return _Solution({k: v for k, v in adds.items() if v > 0}, kwh, hold, cost, p_pass, predicted, tuple(flags),
                         reads, max(in_play, 1))


def _mixture(share: float, pred: float, var_pred: float, measured: float, meas_var: float) -> tuple[float, float]:
    """(mean, sd) of the truth behind a suspect reading: as predicted with chance ``share`` (a gross reading), as
    read otherwise (moments of the two-part mixture; the reading alone at ``share`` 0)."""
    if share <= 0.0:
        return measured, math.sqrt(meas_var)
    mean = share * pred + (1.0 - share) * measured
    var = share * var_pred + (1.0 - share) * meas_var + share * (1.0 - share) * (measured - pred) ** 2
    return mean, math.sqrt(var)


def _prefix(state: HeatState, samples: list[Sample], n: int) -> HeatState:
    """``state`` as it was at its ``n``-th sample, with ``samples`` (its own or its estimates) in place of its
    readings (its context; no decision time)."""
    return HeatState(state.heat_id, state.grade, state.steel_weight_t, tuple(samples[:n]), state.stages[:n - 1],
                     state.oxygen_ppm, state.slag_feo_wt_pct, state.planned_time)


def _with_value(smp: Sample, name: str, value: float) -> Sample:
    """``smp`` with the reading of ``name`` replaced by ``value``."""
    if name == TEMPERATURE:
        return dataclasses.replace(smp, temperature_degC=value)
    return dataclasses.replace(smp, wt_pct={**smp.wt_pct, sample_element(name): value})


def _closing(sd_meas: float, sd_true: float) -> tuple[float, float]:
    """For the sample that closes a stage: (sd of the true value after fusing that sample with the prediction,
    spread of the fused estimate before the sample is taken). Measurement variance = sd_meas^2 - sd_true^2. The
    prediction's variance in the fusion is at least the measurement's (:meth:`Advisor.closing_estimate`): a stage
    model learned under today's practice is not calibrated for decisions unlike it, the instrument is."""
    v, m = sd_true ** 2, max(sd_meas ** 2 - sd_true ** 2, 1e-18)
    fused = max(v, m)
    w = fused / (fused + m)
    return math.sqrt(fused * m / (fused + m)), max(w * math.sqrt(v + m), 1e-12)


def _margins(cfg: PlantConfig, name: str, window: tuple[float | None, float | None], sd: float,
             z: float) -> tuple[float, float]:
    """How far inside its (low, high) limit an estimate of ``name`` with this ``sd`` must be at ``z``: the
    finish rule, the stage LP and the chance to finish all take their acceptance band from here."""
    lo, hi = window
    return z * _with_lab_bias(cfg, name, sd, lo), z * _with_lab_bias(cfg, name, sd, hi)


def _inside(cfg: PlantConfig, name: str, window: tuple[float | None, float | None], mean: float, sd: float) -> float:
    """Chance that ``name`` (estimate ``mean`` with ``sd``) is inside ``window``, the lab's systematic error at
    each limit included (:func:`_with_lab_bias`)."""
    lo, hi = window
    below = 0.0 if lo is None else _phi((lo - mean) / max(_with_lab_bias(cfg, name, sd, lo), 1e-12))
    above = 0.0 if hi is None else _phi((mean - hi) / max(_with_lab_bias(cfg, name, sd, hi), 1e-12))
    return max(1.0 - below - above, 0.0)


def _with_lab_bias(cfg: PlantConfig, name: str, sd: float, limit: float | None) -> float:
    """``sd`` of an element's estimate at ``limit`` with the lab's systematic error there added
    (``sampling.lab_bias_sd_rel``; unchanged for the temperature, an element without it, or no limit)."""
    if name == TEMPERATURE or limit is None:
        return sd
    rel = cfg.sampling.lab_bias_sd_rel.get(sample_element(name), 0.0)
    return sd if rel == 0.0 else math.sqrt(sd * sd + (rel * limit) ** 2)


def _stages_after_failure(q: float, left: int) -> float:
    """Expected stages a failed closing sample costs when each follow-up finishes with chance ``q`` and at most
    ``left`` follow-ups are supported: ``sum_{k < left} (1 - q)^k``."""
    if left <= 0:
        return 0.0
    q = min(max(q, 0.0), 1.0)
    return float(left) if q <= 1e-12 else (1.0 - (1.0 - q) ** left) / q


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


def _truncated(state: HeatState, j: int) -> HeatState:
    """The heat as it was at sample ``j``."""
    return dataclasses.replace(state, samples=state.samples[: j + 1], stages=state.stages[:j],
                               decision_minutes_from_start=math.nan)


def _measured(state: HeatState, name: str) -> float:
    return _reading(state.last, name)


def _reading(smp: Sample, name: str) -> float:
    """What ``smp`` read of ``name`` (NaN: not measured)."""
    if name == TEMPERATURE:
        return smp.temperature_degC
    return float(smp.wt_pct.get(sample_element(name), math.nan))
