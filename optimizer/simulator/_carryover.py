"""The ``carryover`` hidden plant physics: a ladle furnace behind an EAF whose ladles arrive with a variable
layer of oxidising furnace slag. Private: the optimizer and the generated files never see these parameters
(see docs/simulator.md, "Three plant physics").

* **Carry-over slag.** Each heat brings ``m_s`` kg/t of EAF slag (more when the tap was long, so the heats
  that arrive colder carry more) with its own FeO (higher when the heat was tapped with more oxygen) and
  basicity. Lime and fluorspar dilute it; the arc and the deoxidisers reduce its FeO as the treatment goes on
  (``x(t) = x0 (0.35 + 0.65 exp(-t / tau_r))``). Dissolved oxygen is a messenger of the slag, not a reactant.
* **Recovery** of every element is an exponential loss to the slag's FeO, ``r_max exp(-k x / 10 g(B))``, with a
  basicity law per element: MnO is a basic oxide, so a basic slag gives Mn back (``g = (2.5 / B)^0.8``),
  while SiO2 is acid and a basic slag takes Si (``g = (B / 2.5)^0.6``). Dissolved Al fades while the heat
  waits, in proportion to the slag's FeO.
* **Dissolution lag.** Of a big addition (all but the first 2 kg/t; wire goes in at once) the recovered mass
  dissolves first-order with a time constant of 3 min (carbon: 6 min, carburizer floats) times the heat's
  stirring factor: a sample taken soon after a big addition reads part of it short; the rest reaches the bath
  (and the caster) later.
* **Arc efficiency by foaming slag.** ``eta = s (0.30 + 0.22 phi)`` with the foam index ``phi`` from the
  carburizer added (CO from the slag's FeO), highest near basicity 2.3, broken by fluorspar. Exposed arcs
  (poor foam) put electrode carbon into the bath: ``p (1.5 - phi)`` ppm per arc minute.
* **Cooling through the slag cover.** ``L_shell + L_surface 12 / (12 + cover)`` degC/min, cover = carry-over
  slag + lime + fluorspar in kg/t: a thick slag layer insulates. Not dependent on temperature or time.
* Wider measurements: thermocouple sd 3.5 degC, spectrometer 2.5 % + 0.0012 wt%.
* Its operators (``CARRYOVER_SHOP``) trim an element measured below half-way to their aim (mid-window + 10 %
  of the window) with their own fixed yields, and take 2-4 samples, 4 more often than 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.config import Energy, Material
from optimizer.simulator.physics import NO_BIAS, AdditionEffect, BathView, HoldEffect, ReadingBias
from optimizer.simulator.practice import OperatorPractice

# element: (r_max, k loss per 10 % FeO, basicity exponent (+: a basic slag takes it, -: gives it back),
#           clip low, clip high (DOMAIN.md's ranges), per-heat noise sd)
_LAW = {
    "Mn": (0.985, 0.032, -0.8, 0.85, 0.98, 0.012),
    "Si": (0.93, 0.098, 0.6, 0.70, 0.90, 0.025),
    "Al": (0.75, 0.36, 0.0, 0.20, 0.60, 0.05),
    "C": (0.95, 0.048, 0.0, 0.80, 0.95, 0.025),
    "Cr": (0.98, 0.010, 0.0, 0.95, 0.98, 0.005),
    "S": (0.60, 0.0, -0.5, 0.30, 0.80, 0.08),
}
_B_REF = 2.5
# the shipped config's slag formers and carburizer, by material name (a plant physics knows its own materials)
_LIME, _FLUORSPAR, _CARBURIZER = "Lime", "Fluorspar", "Carburizer"
_BASICITY_PER_LIME_KG_PER_T = 0.15
_DEOX_SLAG_KG_PER_T = 1.5  # deoxidation products and refractory wear in the slag
_REDUCED_SHARE = 0.35  # of the arrival FeO left when the slag is fully reduced
_FAST_KG_PER_T = 2.0  # of each addition, what dissolves at once
_DISSOLVE_TAU_MIN = {"C": 7.0}  # others 4 min, times the heat's stirring factor
_DISSOLVE_TAU_DEFAULT_MIN = 4.0
_AL_FADE_PER_MIN = 0.003  # per 10 % FeO in the slag
_FOAM_BASICITY, _FOAM_WIDTH = 2.3, 2.0
_COVER_REF_KG_PER_T = 12.0
MEASURE_TEMP_SD_DEGC = 3.5
MEASURE_REL_SD = 0.025
MEASURE_ABS_SD_WT_PCT = 0.0012

CARRYOVER_SHOP = OperatorPractice(
    "carry-over shop", trim_trigger=0.5, aim_above_mid=0.1,
    fixed_yields={"Mn": 0.90, "Si": 0.78, "Al": 0.40, "C": 0.88},
    arc_efficiency=0.42, heat_loss_degC_per_min=0.8, sample_variation=(-1, 0, 1, 1),
)


@dataclass(frozen=True)
class CarryoverHiddenHeat:
    """What the plant does not know about a heat of the carry-over plant."""

    carryover_slag_kg_per_t: float
    carryover_feo_wt_pct: float
    carryover_basicity: float  # CaO / SiO2 of the ladle slag at arrival (EAF slag and the tap lime)
    slag_reduction_tau_min: float
    foam_scale: float  # how readily this heat's slag foams (bath carbon, slag viscosity)
    arc_efficiency_scale: float  # electrodes, arc length
    electrode_pickup_ppm_per_min: float
    stirring_factor: float  # > 1: a worn porous plug, additions dissolve slower
    shell_loss_degC_per_min: float
    surface_loss_degC_per_min: float
    chill_factor: float
    recovery_noise: dict[str, float]
    true_oxygen_ppm: float


@dataclass(frozen=True)
class _Slag:
    """The ladle slag now: FeO (wt%), basicity, foam index (0..1), cover (kg/t)."""

    feo_wt_pct: float
    basicity: float
    foam: float
    cover_kg_per_t: float


class CarryoverPhysics:
    """See module doc."""

    name = "carryover"
    practice: OperatorPractice = CARRYOVER_SHOP

    def draw_hidden(self, rng: np.random.Generator, true_oxygen_ppm: float,
                    true_temperature_degC: float = 1586.0,
                    planned_time: pd.Timestamp | None = None) -> CarryoverHiddenHeat:
        """Per-heat hidden parameters; colder arrivals carry more slag, more oxygen means more FeO in it."""
        m_s = 7.0 * math.exp(rng.normal(0.0, 0.3) - 0.015 * (true_temperature_degC - 1586.0))
        feo = 25.0 * (true_oxygen_ppm / 380.0) ** 0.4 * math.exp(rng.normal(0.0, 0.12))
        return CarryoverHiddenHeat(
            carryover_slag_kg_per_t=float(np.clip(m_s, 2.0, 20.0)),
            carryover_feo_wt_pct=float(np.clip(feo, 12.0, 40.0)),
            carryover_basicity=float(np.clip(rng.normal(2.0, 0.25), 1.4, 2.8)),
            slag_reduction_tau_min=float(rng.uniform(10.0, 20.0)),
            foam_scale=float(rng.uniform(0.8, 1.2)),
            arc_efficiency_scale=float(np.clip(rng.normal(1.0, 0.03), 0.9, 1.1)),
            electrode_pickup_ppm_per_min=float(rng.uniform(1.0, 2.0)),
            stirring_factor=float(np.clip(rng.lognormal(0.0, 0.25), 0.6, 1.8)),
            shell_loss_degC_per_min=float(np.clip(rng.normal(0.45, 0.06), 0.3, 0.7)),
            surface_loss_degC_per_min=float(np.clip(rng.normal(0.75, 0.10), 0.5, 1.1)),
            chill_factor=float(np.clip(rng.normal(1.05, 0.05), 0.9, 1.25)),
            recovery_noise={el: float(rng.normal(0.0, p[5])) for el, p in _LAW.items()},
            true_oxygen_ppm=true_oxygen_ppm,
        )

    def steel_weight_t(self, hidden: CarryoverHiddenHeat, reported_t: float) -> float:
        """The plant weighs right: the reported weight is the true one."""
        return reported_t

    def addition(self, hidden: CarryoverHiddenHeat, bath: BathView, material: Material, kg: float,
                 trim: bool) -> AdditionEffect:
        """Loss to the slag's FeO at this moment, the lag of a big addition and a linear chill."""
        slag = _slag(hidden, bath)
        rec = {el: _recovery(el, hidden, slag) for el in material.composition_wt_pct}
        kg_per_t = kg / bath.steel_weight_t
        late = 0.0 if material.kind == "wire" else max(0.0, 1.0 - _FAST_KG_PER_T / kg_per_t)
        chill = material.chill_degC_t_per_kg * hidden.chill_factor * kg_per_t
        return AdditionEffect(rec, bath.oxygen_ppm, chill, {el: late for el in rec})

    def arc_rise_degC(self, hidden: CarryoverHiddenHeat, bath: BathView, kwh: float, energy: Energy) -> float:
        """Linear in energy at the efficiency the slag's foam gives."""
        eta = hidden.arc_efficiency_scale * (0.30 + 0.22 * _slag(hidden, bath).foam)
        return eta * kwh / (energy.steel_heat_kWh_per_t_per_degC * bath.steel_weight_t)

    def arc_pickup_kg(self, hidden: CarryoverHiddenHeat, bath: BathView, kwh: float,
                      arc_min: float) -> dict[str, float]:
        """Electrode carbon, more when the arc is exposed (poor foam)."""
        if "C" not in bath.wt_pct or arc_min <= 0:
            return {}
        ppm = hidden.electrode_pickup_ppm_per_min * (1.5 - _slag(hidden, bath).foam) * arc_min
        return {"C": ppm * 1e-6 * bath.steel_weight_t * 1000.0}

    def hold(self, hidden: CarryoverHiddenHeat, bath: BathView, minutes: float) -> HoldEffect:
        """Loss through the slag cover; Al fades to the slag's FeO; undissolved additions dissolve."""
        mid = BathView(bath.temperature_degC, bath.oxygen_ppm, bath.minutes_from_start + minutes / 2,
                       bath.steel_weight_t, bath.wt_pct, bath.added_kg, bath.undissolved_kg)
        slag = _slag(hidden, mid)
        rate = hidden.shell_loss_degC_per_min + hidden.surface_loss_degC_per_min * _COVER_REF_KG_PER_T / (
            _COVER_REF_KG_PER_T + slag.cover_kg_per_t)
        burnt = {}
        if "Al" in bath.wt_pct:
            al_kg = max(bath.wt_pct["Al"], 0.0) / 100.0 * bath.steel_weight_t * 1000.0
            burnt["Al"] = al_kg * (1.0 - math.exp(-_AL_FADE_PER_MIN * slag.feo_wt_pct / 10.0 * minutes))
        dissolved = {}
        for el, kg in bath.undissolved_kg.items():
            tau = _DISSOLVE_TAU_MIN.get(el, _DISSOLVE_TAU_DEFAULT_MIN) * hidden.stirring_factor
            dissolved[el] = kg * (1.0 - math.exp(-minutes / tau))
        return HoldEffect(rate * minutes, bath.oxygen_ppm, burnt, dissolved)

    def reading_bias(self, hidden: CarryoverHiddenHeat, bath: BathView) -> ReadingBias:
        """Samples read the true bath here."""
        return NO_BIAS

    def lab_delay_min(self, hidden: CarryoverHiddenHeat, bath: BathView) -> float:
        """The lab answers within the config's sampling minutes."""
        return 0.0

    def measure_temperature(self, rng: np.random.Generator, true_degC: float) -> float:
        """A thermocouple dip (noisier than the other plants': a worn lance)."""
        return float(true_degC + rng.normal(0.0, MEASURE_TEMP_SD_DEGC))

    def measure_wt_pct(self, rng: np.random.Generator, true_wt_pct: float) -> float:
        """A spectrometer reading of one element (an older spectrometer)."""
        sd = MEASURE_REL_SD * true_wt_pct + MEASURE_ABS_SD_WT_PCT
        return float(max(0.0, true_wt_pct + rng.normal(0.0, sd)))


def _slag(hidden: CarryoverHiddenHeat, bath: BathView) -> _Slag:
    """The slag at ``bath``'s moment from the carry-over and the slag formers added so far (see module doc)."""
    w_t = bath.steel_weight_t
    lime = bath.added_kg.get(_LIME, 0.0) / w_t
    spar = bath.added_kg.get(_FLUORSPAR, 0.0) / w_t
    carb = bath.added_kg.get(_CARBURIZER, 0.0) / w_t
    m_s, b0 = hidden.carryover_slag_kg_per_t, hidden.carryover_basicity
    x0 = hidden.carryover_feo_wt_pct * m_s / (m_s + 0.95 * lime + spar + _DEOX_SLAG_KG_PER_T)
    reduced = _REDUCED_SHARE + (1.0 - _REDUCED_SHARE) * math.exp(-bath.minutes_from_start
                                                                 / hidden.slag_reduction_tau_min)
    basicity = b0 + _BASICITY_PER_LIME_KG_PER_T * lime
    co = hidden.foam_scale * (0.35 * x0 / 14.0 + 0.5 * carb)
    foam = (1.0 - math.exp(-co)) * math.exp(-((basicity - _FOAM_BASICITY) / _FOAM_WIDTH) ** 2) * math.exp(-spar / 3.0)
    return _Slag(x0 * reduced, basicity, float(np.clip(foam, 0.0, 1.0)), m_s + lime + spar)


def _recovery(element: str, hidden: CarryoverHiddenHeat, slag: _Slag) -> float:
    """Fraction of an element's added mass that ends in the steel (clipped to DOMAIN.md's range)."""
    if element not in _LAW:
        return 1.0
    r_max, k, b_exp, lo, hi, _ = _LAW[element]
    g = (slag.basicity / _B_REF) ** b_exp
    r = r_max * math.exp(-k * slag.feo_wt_pct / 10.0 * g) * math.exp(hidden.recovery_noise[element])
    return float(np.clip(r, lo, hi))
