"""Run one heat through the hidden plant, stage by stage, under a controller (today's operator or the advisor).

Timeline: the arrival sample (sample 0), then stages. In each stage the controller's additions go in, the heat
holds and stirs, the arc heats, then it is sampled (temperature + chemistry, costing minutes while the bath
cools). After each sample the controller finishes the heat (that sample is the final measurement) or orders
another stage; the plant's hard limit ``safety.max_samples_per_heat`` ends a heat whose controller never
finishes. Off-spec is judged on the true final state.

Today's practice (:class:`PlanFollower`, used by :func:`run_heat`) follows a :class:`HeatPlan`: the plan's
additions go in at the start, the treatment is split into ``n_samples`` stages with 1/n of the plan's energy in
the first; after every sample but the last the operator trims with the config's fixed yields (an element
measured below its aim band gets the carrier richest in it) and recomputes the energy of the remaining stages
from the measured temperature to end at the plan's aim (a heat too hot waits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from optimizer.config import Grade, PlantConfig
from optimizer.schema import sample_elements
from optimizer.simulator.heats import SimHeat
from optimizer.simulator.physics import BathView
from optimizer.simulator.policies import HeatPlan
from optimizer.simulator.practice import TODAY, OperatorPractice
from optimizer.stages.state import HeatController, HeatState, Sample, StageDecision, StageRecord

STIR_MIN = 12.0  # minutes of treatment besides heating and sampling, over the whole plan


@dataclass
class HeatRecord:
    """Outcome of one simulated heat (true final state, what was done, the samples taken)."""

    additions_kg: dict[str, float]
    trims_kg: dict[str, float]
    arc_energy_kWh: float
    arc_time_min: float
    n_samples: int  # chemistry samples after arrival (each with its temperature dip)
    treatment_time_min: float
    final_true_wt_pct: dict[str, float]
    final_true_temperature_degC: float
    final_measured_wt_pct: dict[str, float]
    final_measured_temperature_degC: float
    samples: list[dict] = field(default_factory=list)
    off_spec: list[str] = field(default_factory=list)
    recovered_kg: dict[str, float] = field(default_factory=dict)  # test hook: mass balance
    burnt_kg: dict[str, float] = field(default_factory=dict)  # test hook: lost from the bath (holding, arc)
    picked_kg: dict[str, float] = field(default_factory=dict)  # test hook: picked up from the arc (electrodes)
    undissolved_kg: dict[str, float] = field(default_factory=dict)  # test hook: not dissolved at the last sample
    additions_log: list[Addition] = field(default_factory=list)  # test hook: every addition with its true yields
    stages: list[StageRecord] = field(default_factory=list)
    decisions: list[StageDecision] = field(default_factory=list)
    forced_finish: bool = False  # the controller never finished: the plant's sample limit ended the heat
    n_dips: int = 0  # temperature dips alone (stages closed without a chemistry sample)
    true_steel_weight_t: float = float("nan")  # test hook: the weight the additions dilute into (physics')


@dataclass(frozen=True)
class Addition:
    """One addition as it happened (private: holds the true recovery of each element)."""

    minutes_from_start: float
    material: str
    kg: float
    trim: bool  # kg: the setpoint (what the level-2 logs)
    recovery: dict[str, float]
    temperature_degC: float = float("nan")  # true bath state just before the addition
    oxygen_ppm: float = float("nan")
    delivered_kg: float = float("nan")  # what the feeder really put in
    content_wt_pct: dict[str, float] = field(default_factory=dict)  # the true content of what went in


class _Bath:
    """True state of the steel during the heat."""

    def __init__(self, cfg: PlantConfig, heat: SimHeat) -> None:
        self.cfg, self.heat, self.physics = cfg, heat, heat.physics
        self.w_t = heat.physics.steel_weight_t(heat.hidden, heat.context.steel_weight_t)  # true, not reported
        self.w_kg = self.w_t * 1000.0
        self.mass_kg = {el: heat.true_initial_wt_pct[el] / 100.0 * self.w_kg for el in cfg.elements}
        self.temp = heat.true_initial_temperature_degC
        self.minutes = 0.0
        self.recovered_kg = {el: 0.0 for el in cfg.elements}
        self.burnt_kg = {el: 0.0 for el in cfg.elements}
        self.picked_kg = {el: 0.0 for el in cfg.elements}
        self.pending_kg = {el: 0.0 for el in cfg.elements}  # recovered but not dissolved yet
        self.added_kg: dict[str, float] = {}
        self.log: list[Addition] = []
        self.oxygen_ppm = heat.hidden.true_oxygen_ppm
        self.arc_rise_degC, self.arc_end_min = 0.0, math.inf  # the last arcing: its rise, when it ended

    def view(self) -> BathView:
        return BathView(self.temp, self.oxygen_ppm, self.minutes, self.w_t, self.wt_pct(),
                        dict(self.added_kg), dict(self.pending_kg), self.arc_rise_degC,
                        self.minutes - self.arc_end_min if self.arc_end_min < math.inf else math.inf)

    def wt_pct(self) -> dict[str, float]:
        """The dissolved composition (what a sample measures)."""
        return {el: 100.0 * kg / self.w_kg for el, kg in self.mass_kg.items()}

    def total_wt_pct(self) -> dict[str, float]:
        """The composition once every addition has dissolved (what the caster gets)."""
        return {el: 100.0 * (kg + self.pending_kg[el]) / self.w_kg for el, kg in self.mass_kg.items()}

    def add(self, material: str, kg: float, trim: bool) -> None:
        if kg <= 0:
            return
        m = self.cfg.material(material)
        effect = self.physics.addition(self.heat.hidden, self.view(), m, kg, trim)
        rec = dict(effect.recovery)
        fed = kg if effect.delivered_kg is None else effect.delivered_kg  # the setpoint unless the feeder errs
        content = m.composition_wt_pct if effect.composition_wt_pct is None else effect.composition_wt_pct
        for el, pct in content.items():
            got = fed * pct / 100.0 * rec[el]
            late = got * effect.undissolved_share.get(el, 0.0)
            self.mass_kg[el] += got - late
            self.pending_kg[el] += late
            self.recovered_kg[el] += got
        self.added_kg[material] = self.added_kg.get(material, 0.0) + fed
        self.log.append(Addition(self.minutes, material, kg, trim, rec, self.temp, self.oxygen_ppm, fed,
                                 dict(content)))
        self.oxygen_ppm = effect.oxygen_ppm
        self.temp -= effect.chill_degC

    def heat_with(self, kwh: float) -> float:
        """Arc heating; returns minutes of arc time."""
        if kwh <= 0:
            return 0.0
        rise = self.physics.arc_rise_degC(self.heat.hidden, self.view(), kwh, self.cfg.energy)
        minutes = rise / self.cfg.energy.max_heating_rate_degC_per_min
        for el, kg in self.physics.arc_pickup_kg(self.heat.hidden, self.view(), kwh, minutes).items():
            if kg >= 0:
                self.mass_kg[el] += kg
                self.picked_kg[el] += kg
            else:  # lost to the arc zone (evaporated, oxidised): booked as burnt, never more than is dissolved
                lost = min(-kg, self.mass_kg[el])
                self.mass_kg[el] -= lost
                self.burnt_kg[el] += lost
        self.temp += rise
        self.wait(minutes)
        self.arc_rise_degC, self.arc_end_min = rise, self.minutes
        return minutes

    def wait_for_lab(self) -> None:
        """The extra minutes a chemistry result takes in this plant (none in most: no wait at all)."""
        extra = self.physics.lab_delay_min(self.heat.hidden, self.view())
        if extra > 0:
            self.wait(extra)

    def wait(self, minutes: float) -> None:
        effect = self.physics.hold(self.heat.hidden, self.view(), minutes)
        self.minutes += minutes
        self.temp -= effect.loss_degC
        self.oxygen_ppm = effect.oxygen_ppm
        for el, kg in effect.burnt_kg.items():
            self.mass_kg[el] -= kg
            self.burnt_kg[el] += kg
        for el, kg in effect.dissolved_kg.items():
            kg = min(kg, self.pending_kg[el])
            self.pending_kg[el] -= kg
            self.mass_kg[el] += kg


def run_heat(cfg: PlantConfig, heat: SimHeat, plan: HeatPlan, rng: np.random.Generator) -> HeatRecord:
    """Simulate today's operator following ``plan`` on ``heat`` (see module doc)."""
    return run_controlled_heat(cfg, heat, PlanFollower(cfg, plan, heat.physics.practice), rng)


def run_controlled_heat(cfg: PlantConfig, heat: SimHeat, controller: HeatController,
                        rng: np.random.Generator) -> HeatRecord:
    """Simulate ``heat`` stage by stage, asking ``controller`` on arrival and after every sample."""
    grade = cfg.grade(heat.context.grade)
    bath = _Bath(cfg, heat)
    samples = [_sample(bath, rng, 0, "both")]  # arrival
    stages: list[StageRecord] = []
    decisions: list[StageDecision] = []
    decision = controller.on_arrival(_state(heat, samples, stages, bath.minutes))
    forced = False
    while True:
        decisions.append(decision)
        if decision.finish and stages:
            break
        if len(stages) >= cfg.safety.max_samples_per_heat:
            forced = True
            break
        stages.append(_run_stage(bath, decision, trim=bool(stages)))
        dip = decision.closing == "dip"
        bath.wait(cfg.sampling.minutes_per_temperature_sample if dip else cfg.sampling.minutes_per_sample)
        samples.append(_sample(bath, rng, len(stages), "temperature" if dip else "both"))
        if not dip:
            bath.wait_for_lab()  # read when taken; the heat waits for the result
        decision = controller.on_sample(_state(heat, samples, stages, bath.minutes))
    return _record(cfg, grade, bath, samples, stages, decisions, forced)


def _run_stage(bath: _Bath, decision: StageDecision, trim: bool) -> StageRecord:
    """Additions, hold, stir and arc heating of one stage (the sample that ends it is taken by the caller)."""
    for mat, kg in decision.additions_kg.items():
        bath.add(mat, kg, trim=trim)
    if decision.hold_min > 0:
        bath.wait(decision.hold_min)
    bath.wait(decision.stir_min)
    arc_min = bath.heat_with(decision.arc_energy_kWh)
    return StageRecord({m: kg for m, kg in decision.additions_kg.items() if kg > 0}, decision.arc_energy_kWh,
                       arc_min)


def _state(heat: SimHeat, samples: list[dict], stages: list[StageRecord], now_min: float) -> HeatState:
    """What the plant knows at minute ``now_min`` of the heat (measured values only; rounded as sample times are,
    so a plant whose results take no longer than the sample's minutes has waited 0)."""
    c = heat.context
    obs = tuple(Sample(s["sample_no"], s["minutes_from_start"], s["temperature_degC"],
                       sample_elements(s)) for s in samples)
    return HeatState(c.heat_id, c.grade, c.steel_weight_t, obs, tuple(stages), oxygen_ppm=c.initial_oxygen_ppm,
                     planned_time=c.planned_time, decision_minutes_from_start=round(now_min, 2))


def _record(cfg: PlantConfig, grade: Grade, bath: _Bath, samples: list[dict], stages: list[StageRecord],
            decisions: list[StageDecision], forced: bool) -> HeatRecord:
    main = dict(stages[0].additions_kg) if stages else {}
    total = {m.name: 0.0 for m in cfg.materials}
    for st in stages:
        for m, kg in st.additions_kg.items():
            total[m] += kg
    trims = {m: total[m] - main.get(m, 0.0) for m in total}
    true_final = bath.total_wt_pct()  # what is still dissolving at the last sample reaches the caster
    last = samples[-1]
    chem = [r for r in samples if r["kind"] == "both"][-1]  # the last chemistry sample (a dip has none)
    return HeatRecord(
        additions_kg=total, trims_kg=trims,
        arc_energy_kWh=sum(st.arc_energy_kWh for st in stages), arc_time_min=sum(st.arc_time_min for st in stages),
        n_samples=sum(r["kind"] == "both" for r in samples[1:]),
        n_dips=sum(r["kind"] == "temperature" for r in samples), treatment_time_min=bath.minutes,
        final_true_wt_pct=true_final, final_true_temperature_degC=bath.temp,
        final_measured_wt_pct={el: chem[f"{el}_wt_pct"] for el in cfg.elements},
        final_measured_temperature_degC=last["temperature_degC"], samples=samples,
        off_spec=off_spec_reasons(grade, true_final, bath.temp), recovered_kg=bath.recovered_kg, burnt_kg=bath.burnt_kg,
        picked_kg=bath.picked_kg, undissolved_kg=dict(bath.pending_kg),
        additions_log=bath.log, stages=stages, decisions=decisions, forced_finish=forced,
        true_steel_weight_t=bath.w_t,
    )


def _sample(bath: _Bath, rng: np.random.Generator, k: int, kind: str) -> dict:
    """A measurement row: ``kind`` "both" (temperature and chemistry) or "temperature" (a dip alone)."""
    bias = bath.physics.reading_bias(bath.heat.hidden, bath.view())  # NO_BIAS adds 0.0: the true values
    row = {"sample_no": k, "minutes_from_start": round(bath.minutes, 2), "kind": kind,
           "temperature_degC": round(bath.physics.measure_temperature(rng, bath.temp + bias.temperature_degC), 1)}
    if kind == "both":
        row.update({f"{el}_wt_pct": round(bath.physics.measure_wt_pct(rng, v + bias.wt_pct.get(el, 0.0)), 5)
                    for el, v in bath.wt_pct().items()})
    return row


@dataclass
class PlanFollower:
    """Today's operator: follows a night plan, trims with fixed yields and re-plans the energy after each sample
    (see module doc) by the plant's ``practice`` (its physics names it: ``heat.physics.practice``)."""

    cfg: PlantConfig
    plan: HeatPlan
    practice: OperatorPractice = TODAY

    @property
    def n_stages(self) -> int:
        return max(1, int(self.plan.n_samples))

    def on_arrival(self, state: HeatState) -> StageDecision:
        """The plan's additions and 1/n of its energy."""
        return StageDecision(False, dict(self.plan.additions_kg), self.plan.arc_energy_kWh / self.n_stages,
                             stir_min=_stir_min(self.practice) / self.n_stages, source=self.plan.source)

    def on_sample(self, state: HeatState) -> StageDecision:
        """Finish after the plan's last sample (or, by a practice with a ``finish_margin``, from the second on a
        sample that reads inside the narrowed windows); before it, trim and re-plan the energy."""
        grade = self.cfg.grade(state.grade)
        if state.n_stages >= self.n_stages or _reads_in_window(grade, state, self.practice.finish_margin):
            return StageDecision(True, source=self.plan.source)
        left = 1 if self.practice.reheat_each_stage else self.n_stages - state.n_stages
        trims = _trim_chemistry(self.cfg, grade, self.plan, state, self.practice)
        hold, kwh = _reheat_plan(self.cfg, grade, self.plan, state, segments_left=left, practice=self.practice)
        return StageDecision(False, trims, kwh, hold_min=hold, stir_min=_stir_min(self.practice) / self.n_stages,
                             source=self.plan.source)


def _stir_min(practice: OperatorPractice) -> float:
    """The practice's stirring minutes over a plan (the plant's ``STIR_MIN`` unless it has its own)."""
    return STIR_MIN if practice.stir_min_per_heat is None else practice.stir_min_per_heat


def _reads_in_window(grade: Grade, state: HeatState, margin: float | None) -> bool:
    """True when ``margin`` is set, at least two stages are done and the last sample's chemistry and temperature
    read inside the grade's windows narrowed by ``margin`` of the width at each end (a one-sided limit by
    ``margin`` of itself)."""
    if margin is None or state.n_stages < 2:
        return False
    last = state.last
    limits = [(last.wt_pct[el], w.min, w.max) for el, w in grade.chemistry_wt_pct.items()]
    t = grade.temperature_degC
    limits.append((last.temperature_degC, t.min, t.max))
    for value, lo, hi in limits:
        width = hi - lo if lo is not None and hi is not None else None
        if lo is not None and value < lo + (margin * width if width is not None else margin * abs(lo)):
            return False
        if hi is not None and value > hi - (margin * width if width is not None else margin * abs(hi)):
            return False
    return True


def _trim_chemistry(cfg: PlantConfig, grade: Grade, plan: HeatPlan, state: HeatState,
                    practice: OperatorPractice = TODAY) -> dict[str, float]:
    """Operator's chemistry correction after an intermediate sample (the practice's fixed yields, else the
    config's), kg."""
    w_kg = state.steel_weight_t * 1000.0
    trims: dict[str, float] = {}
    for el, win in grade.chemistry_wt_pct.items():
        if win.min is None:
            continue
        aim = plan.aim_wt_pct.get(el, win.target)
        if practice.aim_above_mid is not None and win.max is not None:
            aim = (win.low + win.max) / 2 + practice.aim_above_mid * (win.max - win.low)
        measured = state.last.wt_pct[el]
        if measured >= win.min + practice.trim_trigger * max(aim - win.min, 0.0):
            continue
        carrier = max((m for m in cfg.materials if el in m.composition_wt_pct),
                      key=lambda m: m.composition_wt_pct[el], default=None)
        if carrier is None:
            continue
        yield_ = practice.fixed_yields.get(el, carrier.prior_recovery[el])
        kg = (aim - measured) / 100.0 * w_kg / (carrier.composition_wt_pct[el] / 100.0 * yield_)
        trims[carrier.name] = trims.get(carrier.name, 0.0) + min(kg, carrier.max_kg_per_heat)
    return trims


def _reheat_plan(cfg: PlantConfig, grade: Grade, plan: HeatPlan, state: HeatState,
                 segments_left: int, practice: OperatorPractice = TODAY) -> tuple[float, float]:
    """(minutes to wait, energy for the next stage, kWh) so that the heat ends at the plan's aim temperature,
    from the measured temperature and the heat balance the practice assumes (default: the config's priors),
    as an LF operator does after each dip. A heat projected too hot gets no more energy and waits."""
    e = cfg.energy
    w_t = state.steel_weight_t
    aim = plan.aim_temperature_degC or grade.temperature_degC.target
    eta = e.arc_efficiency_prior if practice.arc_efficiency is None else practice.arc_efficiency
    loss = e.heat_loss_prior_degC_per_min if practice.heat_loss_degC_per_min is None \
        else practice.heat_loss_degC_per_min
    rise_per_kwh = eta / (e.steel_heat_kWh_per_t_per_degC * w_t)
    stir = _stir_min(practice)
    hold_min = stir * segments_left / (segments_left + 1) + cfg.sampling.minutes_per_sample * segments_left
    need = aim - state.last.temperature_degC + loss * hold_min
    if need <= 0:
        return -need / max(loss, 0.1), 0.0
    net_rise_per_kwh = rise_per_kwh * (1 - loss / e.max_heating_rate_degC_per_min)
    kwh = need / net_rise_per_kwh
    return 0.0, float(min(kwh, cfg.safety.max_arc_energy_kWh) / segments_left)


def off_spec_reasons(grade: Grade, wt_pct: dict[str, float], temperature_degC: float) -> list[str]:
    """Limits the final state breaks (empty = in spec)."""
    out = []
    for el, win in grade.chemistry_wt_pct.items():
        v = wt_pct.get(el, 0.0)
        if win.min is not None and v < win.min:
            out.append(f"{el} {v:.4f} < min {win.min}")
        if win.max is not None and v > win.max:
            out.append(f"{el} {v:.4f} > max {win.max}")
    t = grade.temperature_degC
    if t.min is not None and temperature_degC < t.min:
        out.append(f"T {temperature_degC:.1f} < min {t.min}")
    if t.max is not None and temperature_degC > t.max:
        out.append(f"T {temperature_degC:.1f} > max {t.max}")
    return out
