"""Run one heat through the hidden plant: main additions, arc heating in segments, samples and trims.

Timeline: the plan's additions go in at the start; the treatment is split into ``n_samples`` segments, each
stirring, arc heating, then sampling (temperature + chemistry, costing minutes while the bath cools). The
first segment gets 1/n of the plan's energy. After every sample but the last the operator trims with the
config's fixed yields: an element measured below its aim band gets the carrier richest in it, and the energy
of the remaining segments is recomputed from the measured temperature to end at the plan's aim (a heat too
hot waits). The last sample is the final measurement; off-spec is judged on the true final state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optimizer.config import Grade, PlantConfig
from optimizer.simulator import _physics as phys
from optimizer.simulator.heats import SimHeat
from optimizer.simulator.policies import HeatPlan

STIR_MIN = 12.0  # minutes of treatment besides heating and sampling


@dataclass
class HeatRecord:
    """Outcome of one simulated heat (true final state, what was done, the samples taken)."""

    additions_kg: dict[str, float]
    trims_kg: dict[str, float]
    arc_energy_kWh: float
    arc_time_min: float
    n_samples: int
    treatment_time_min: float
    final_true_wt_pct: dict[str, float]
    final_true_temperature_degC: float
    final_measured_wt_pct: dict[str, float]
    final_measured_temperature_degC: float
    samples: list[dict] = field(default_factory=list)
    off_spec: list[str] = field(default_factory=list)
    recovered_kg: dict[str, float] = field(default_factory=dict)  # test hook: mass balance
    additions_log: list[Addition] = field(default_factory=list)  # test hook: every addition with its true yields


@dataclass(frozen=True)
class Addition:
    """One addition as it happened (private: holds the true recovery of each element)."""

    minutes_from_start: float
    material: str
    kg: float
    trim: bool
    recovery: dict[str, float]


class _Bath:
    """True state of the steel during the heat."""

    def __init__(self, cfg: PlantConfig, heat: SimHeat) -> None:
        self.cfg, self.heat = cfg, heat
        self.w_kg = heat.context.steel_weight_t * 1000.0
        self.mass_kg = {el: heat.true_initial_wt_pct[el] / 100.0 * self.w_kg for el in cfg.elements}
        self.temp = heat.true_initial_temperature_degC
        self.minutes = 0.0
        self.recovered_kg = {el: 0.0 for el in cfg.elements}
        self.log: list[Addition] = []

    def wt_pct(self) -> dict[str, float]:
        return {el: 100.0 * kg / self.w_kg for el, kg in self.mass_kg.items()}

    def add(self, material: str, kg: float, trim: bool) -> None:
        if kg <= 0:
            return
        m = self.cfg.material(material)
        rec = {el: phys.recovery(el, self.heat.hidden, self.temp, trim) for el in m.composition_wt_pct}
        for el, pct in m.composition_wt_pct.items():
            got = kg * pct / 100.0 * rec[el]
            self.mass_kg[el] += got
            self.recovered_kg[el] += got
        self.log.append(Addition(self.minutes, material, kg, trim, rec))
        self.temp -= m.chill_degC_t_per_kg * self.heat.hidden.chill_factor * kg / self.heat.context.steel_weight_t

    def heat_with(self, kwh: float) -> float:
        """Arc heating; returns minutes of arc time."""
        if kwh <= 0:
            return 0.0
        rise = self.heat.hidden.arc_efficiency * kwh / (self.cfg.energy.steel_heat_kWh_per_t_per_degC
                                                        * self.heat.context.steel_weight_t)
        minutes = rise / self.cfg.energy.max_heating_rate_degC_per_min
        self.temp += rise
        self.wait(minutes)
        return minutes

    def wait(self, minutes: float) -> None:
        self.minutes += minutes
        self.temp -= self.heat.hidden.loss_degC_per_min * minutes


def run_heat(cfg: PlantConfig, heat: SimHeat, plan: HeatPlan, rng: np.random.Generator) -> HeatRecord:
    """Simulate ``plan`` on ``heat`` (see module doc)."""
    grade = cfg.grade(heat.context.grade)
    bath = _Bath(cfg, heat)
    trims = {m.name: 0.0 for m in cfg.materials}
    energy_total, arc_min = 0.0, 0.0
    samples = [_sample(bath, rng, 0, "both")]  # arrival
    for mat, kg in plan.additions_kg.items():
        bath.add(mat, kg, trim=False)
    n = max(1, int(plan.n_samples))
    segment_kwh = plan.arc_energy_kWh / n
    for k in range(1, n + 1):
        bath.wait(STIR_MIN / n)
        arc_min += bath.heat_with(segment_kwh)
        energy_total += segment_kwh
        bath.wait(cfg.sampling.minutes_per_sample)
        s = _sample(bath, rng, k, "both")
        samples.append(s)
        if k < n:
            _trim_chemistry(cfg, grade, plan, bath, s, trims)
            segment_kwh = _reheat_plan(cfg, grade, plan, bath, s, segments_left=n - k)
    true_final = bath.wt_pct()
    last = samples[-1]
    return HeatRecord(
        additions_kg={m: plan.additions_kg.get(m, 0.0) + trims[m] for m in trims}, trims_kg=trims,
        arc_energy_kWh=energy_total, arc_time_min=arc_min, n_samples=n, treatment_time_min=bath.minutes,
        final_true_wt_pct=true_final, final_true_temperature_degC=bath.temp,
        final_measured_wt_pct={el: last[f"{el}_wt_pct"] for el in cfg.elements},
        final_measured_temperature_degC=last["temperature_degC"], samples=samples,
        off_spec=off_spec_reasons(grade, true_final, bath.temp), recovered_kg=bath.recovered_kg,
        additions_log=bath.log,
    )


def _sample(bath: _Bath, rng: np.random.Generator, k: int, kind: str) -> dict:
    row = {"sample_no": k, "minutes_from_start": round(bath.minutes, 2), "kind": kind,
           "temperature_degC": round(phys.measure_temperature(rng, bath.temp), 1)}
    row.update({f"{el}_wt_pct": round(phys.measure_wt_pct(rng, v), 5) for el, v in bath.wt_pct().items()})
    return row


def _trim_chemistry(cfg: PlantConfig, grade: Grade, plan: HeatPlan, bath: _Bath, sample: dict,
                    trims: dict[str, float]) -> None:
    """Operator's chemistry correction after an intermediate sample (fixed yields from the config)."""
    for el, win in grade.chemistry_wt_pct.items():
        if win.min is None:
            continue
        aim = plan.aim_wt_pct.get(el, win.target)
        measured = sample[f"{el}_wt_pct"]
        if measured >= win.min + 0.25 * max(aim - win.min, 0.0):
            continue
        carrier = max((m for m in cfg.materials if el in m.composition_wt_pct),
                      key=lambda m: m.composition_wt_pct[el], default=None)
        if carrier is None:
            continue
        kg = (aim - measured) / 100.0 * bath.w_kg / (carrier.composition_wt_pct[el] / 100.0
                                                     * carrier.prior_recovery[el])
        kg = min(kg, carrier.max_kg_per_heat)
        bath.add(carrier.name, kg, trim=True)
        trims[carrier.name] += kg


def _reheat_plan(cfg: PlantConfig, grade: Grade, plan: HeatPlan, bath: _Bath, sample: dict,
                 segments_left: int) -> float:
    """Energy per remaining segment so that the heat ends at the plan's aim temperature, from the measured
    temperature and the config's heat-balance priors (what an LF operator does after each dip). A heat
    projected too hot gets no more energy and waits."""
    e = cfg.energy
    w_t = bath.heat.context.steel_weight_t
    aim = plan.aim_temperature_degC or grade.temperature_degC.target
    rise_per_kwh = e.arc_efficiency_prior / (e.steel_heat_kWh_per_t_per_degC * w_t)
    hold_min = STIR_MIN * segments_left / (segments_left + 1) + cfg.sampling.minutes_per_sample * segments_left
    need = aim - sample["temperature_degC"] + e.heat_loss_prior_degC_per_min * hold_min
    if need <= 0:
        bath.wait(-need / max(e.heat_loss_prior_degC_per_min, 0.1))
        return 0.0
    net_rise_per_kwh = rise_per_kwh * (1 - e.heat_loss_prior_degC_per_min / e.max_heating_rate_degC_per_min)
    kwh = need / net_rise_per_kwh
    return float(min(kwh, cfg.safety.max_arc_energy_kWh) / segments_left)


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
