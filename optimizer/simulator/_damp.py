"""The ``damp`` hidden plant physics: a ladle furnace whose bulk materials come from open stockpiles that the
weather wets, and whose arc heats well only once its foam has built and while it lasts. A held-out plant
(docs/simulator.md, "The eighth plant"); private: the optimizer and the generated files never see these
parameters.

* **Weather (from the schedule clock, shared by every heat of the time).** Each day it rains with probability
  ``0.40 + 0.12 cos(2 pi (day - 15) / 365.25)`` (a maritime climate, wettest in mid-January), once, at a time
  of day and with an amount (lognormal, median 6 mm, sd 0.9, at most 45 mm) drawn from the day's number. The
  stockpiles dry out between showers: their water index is ``W(t) = sum over past showers of mm exp(-(t -
  t_rain) / 36 h)`` (the last 12 days), their wetness ``wet = 1 - exp(-W / 8 mm)`` (0: dry, towards 1: soaked).
  It follows from the heat's planned time, so history and evaluation heats planned at the same time share it.
* **Moisture per material (wt% of what is charged).** Lumpy ferroalloys ``0.05 + 0.9 wet``, carburizer (coke
  fines hold water) ``0.3 + 3.0 wet``, fluxes (lime hydrates, fluorspar holds surface water) ``0.15 + 0.8
  wet``, wire none (coiled indoors); times a per-heat factor lognormal(0, 0.3) (where in the pile the grab was).
* **The water's fate.** A per-heat share ``phi`` U(0.35, 0.55) of the water reaches the steel and decomposes
  (its hydrogen dissolves and is not tracked; its oxygen raises the dissolved oxygen by ``0.889 phi`` kg per
  kg of water); the rest flashes to steam through the slag and chills the bath by 1.7 kWh per kg (heating,
  evaporating and superheating it), on top of the addition's own chill (linear in kg/t, per-heat factor
  N(1.05, 0.06)). The reacting share's heat is taken as balanced (dissociation against the oxidation it causes).
* **Deoxidation of the water's oxygen.** The dissolved oxygen above the heat's arrival value is taken by the
  bath's deoxidisers while the heat holds, first order with a 1.5-minute time constant, strongest first: Al
  (1.125 kg per kg O) while any is dissolved, then Si (0.875), then C (0.75, leaving as CO). A wet heavy
  addition (S355J2's SiMn on a rainy day) thus burns several kg of the Al the wire brought, and a wet trim burns
  Al after the sample that called for it; the Al wire itself is dry. An addition's recovery sees the raised
  oxygen (an Al wire right behind a wet SiMn recovers less).
* **Arc heating per arcing.** Every arcing starts with bare arcs until the foaming slag has built around the
  electrodes (bore-in) and loses the foam as it goes on (the arc reduces the slag's FeO that makes the CO):
  the efficiency of the ``e``-th kWh of an arcing is ``(eta_bare + (eta_foam - eta_bare) exp(-e / E_f)) (1 -
  exp(-e / E_s))``, per heat ``eta_foam`` N(0.49, 0.02), ``eta_bare`` N(0.35, 0.02), foam life ``E_f`` 1600 kWh
  x lognormal(0, 0.3), bore-in ``E_s`` 110 kWh x lognormal(0, 0.25); integrated in closed form over the
  arcing's energy. A short arcing heats poorly (the bore-in is a dead loss of about ``eta E_s``), a long one
  loses its foam; the foam re-forms while the arc is off. Not a function of the bath temperature, the
  materials or the stirring: of the energy per arcing only.
* **Metallurgy otherwise textbook**: recovery linear in the dissolved oxygen (trims see 30 % of it, Al and Si
  trims a bonus) times a per-heat factor; a constant loss per heat N(0.85, 0.1) degC/min; the plant weighs right,
  the feeders deliver the setpoints of the nominal content, the lab keeps the config's minutes, samples read the
  true bath (thermocouple sd 2.5 degC, spectrometer 2 % + 0.001 wt%).
* **Operators** (``DAMP_SHOP``): trim an element measured below 40 % of the way from its minimum to their aim
  (mid-window + 10 % of the window) with their own yields (Mn 0.93, Si 0.79, Al 0.44, C 0.87); reheat assuming
  efficiency 0.42 and 0.95 degC/min, whatever the weather; history varies the plan's samples by -1/0/0/+1/+1
  (2-4 samples, 3 and 4 twice as often as 2).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.config import Energy, Material
from optimizer.simulator.physics import (
    NO_BIAS,
    AdditionEffect,
    BathView,
    HoldEffect,
    ReadingBias,
    minutes_since_epoch,
    oxygen_recovery,
)
from optimizer.simulator.practice import OperatorPractice

#      base   d_oxygen  trim bonus  noise_sd
_RECOVERY = {
    "Mn": (0.95, -0.00002, 0.0, 0.015),
    "Si": (0.82, -0.00015, 0.05, 0.025),
    "Al": (0.50, -0.00035, 0.10, 0.05),
    "C": (0.88, 0.0, 0.0, 0.025),
    "Cr": (0.975, 0.0, 0.0, 0.01),
    "S": (0.60, 0.0, 0.0, 0.08),
}
_TRIM_OXYGEN_SHARE = 0.3
_RAIN_KEY, _DAY_OFFSET = 8180, 1_000_000  # the day's generator (offset: days before the epoch too)
RAIN_P, RAIN_P_SEASON, WETTEST_DAY = 0.40, 0.12, 15.0
_RAIN_MEDIAN_MM, _RAIN_SIGMA, RAIN_MAX_MM = 6.0, 0.9, 45.0
DRY_TAU_MIN = 36.0 * 60.0
WET_SCALE_MM = 8.0
MEMORY_DAYS = 12
#              dry wt%  + per unit of wetness
MOISTURE = {"ferroalloy": (0.05, 0.9), "carburizer": (0.3, 3.0), "flux": (0.15, 0.8), "wire": (0.0, 0.0)}
_PILE_SIGMA = 0.3
REACT_SHARE = (0.35, 0.55)
O_PER_WATER = 16.0 / 18.0
STEAM_KWH_PER_KG = 1.7
_STEEL_HEAT_KWH_PER_T_PER_DEGC = 0.22  # DOMAIN.md, for the steam's chill (``addition`` is not given the config)
DEOX_TAU_MIN = 1.5
#            kg element per kg O, strongest first
DEOXIDISERS = (("Al", 54.0 / 48.0), ("Si", 28.0 / 32.0), ("C", 12.0 / 16.0))
ETA_FOAM, ETA_BARE = (0.49, 0.02), (0.35, 0.02)
FOAM_KWH, FOAM_SIGMA = 1600.0, 0.3
BORE_KWH, BORE_SIGMA = 110.0, 0.25
MEASURE_TEMP_SD_DEGC = 2.5
MEASURE_REL_SD = 0.02
MEASURE_ABS_SD_WT_PCT = 0.001

DAMP_SHOP = OperatorPractice(
    "damp shop", trim_trigger=0.4, aim_above_mid=0.10,
    fixed_yields={"Mn": 0.93, "Si": 0.79, "Al": 0.44, "C": 0.87},
    arc_efficiency=0.42, heat_loss_degC_per_min=0.95, sample_variation=(-1, 0, 0, 1, 1),
)


@dataclass(frozen=True)
class DampHiddenHeat:
    """What the plant does not know about a heat of the damp plant (its stockpiles' wetness follows from
    ``planned_time``)."""

    wetness: float  # the stockpiles' wetness at the planned time, 0..1
    pile_factor: float  # this heat's grab from the piles: a factor on every material's moisture
    react_share: float  # share of the water that reaches the steel
    eta_foam: float
    eta_bare: float
    foam_kWh: float
    bore_kWh: float
    loss_degC_per_min: float
    chill_factor: float
    recovery_noise: dict[str, float]
    true_oxygen_ppm: float


@functools.lru_cache(maxsize=4096)
def shower(day: int) -> tuple[float, float] | None:
    """The day's rain as (minutes since the epoch when it fell, mm), None on a dry day."""
    rng = np.random.default_rng([_RAIN_KEY, day + _DAY_OFFSET])
    p = RAIN_P + RAIN_P_SEASON * math.cos(2.0 * math.pi * (day - WETTEST_DAY) / 365.25)
    wet, at, mm = rng.uniform() < p, rng.uniform(0.0, 1440.0), rng.lognormal(math.log(_RAIN_MEDIAN_MM), _RAIN_SIGMA)
    return (day * 1440.0 + float(at), float(min(mm, RAIN_MAX_MM))) if wet else None


def water_index_mm(minutes: float) -> float:
    """The stockpiles' water index ``W`` at ``minutes`` since the epoch: past showers, drying out."""
    day = int(math.floor(minutes / 1440.0))
    total = 0.0
    for d in range(day - MEMORY_DAYS, day + 1):
        rain = shower(d)
        if rain is not None and rain[0] <= minutes:
            total += rain[1] * math.exp(-(minutes - rain[0]) / DRY_TAU_MIN)
    return total


def wetness(planned_time: pd.Timestamp | None) -> float:
    """The stockpiles' wetness (0..1) at a planned time."""
    return 1.0 - math.exp(-water_index_mm(minutes_since_epoch(planned_time)) / WET_SCALE_MM)


def moisture_wt_pct(hidden: DampHiddenHeat, material: Material) -> float:
    """Water in ``material`` as charged in this heat (wt% of its mass)."""
    dry, per_wet = MOISTURE.get(material.kind, (0.0, 0.0))
    return (dry + per_wet * hidden.wetness) * hidden.pile_factor


def arcing_kwh(hidden: DampHiddenHeat, kwh: float) -> float:
    """Of an arcing of ``kwh``, the kWh that heat the steel (the efficiency integrated over the arcing)."""
    if kwh <= 0:
        return 0.0
    a, b = hidden.eta_bare, hidden.eta_foam - hidden.eta_bare
    f, s = hidden.foam_kWh, hidden.bore_kWh
    g = f * s / (f + s)
    return (a * (kwh - s * (1.0 - math.exp(-kwh / s)))
            + b * (f * (1.0 - math.exp(-kwh / f)) - g * (1.0 - math.exp(-kwh / g))))


def recovery(element: str, hidden: DampHiddenHeat, oxygen_ppm: float, trim: bool) -> float:
    """Fraction of an element's mass that ends in the steel (0..1): textbook, at the bath's oxygen."""
    got = oxygen_recovery(_RECOVERY, element, hidden.recovery_noise.get(element, 0.0), oxygen_ppm, trim,
                          _TRIM_OXYGEN_SHARE)
    if got is None:
        return 1.0
    level, bonus = got
    r = level + bonus
    return float(np.clip(r, 0.05, 1.0))


class DampPhysics:
    """See module doc."""

    name = "damp"
    practice: OperatorPractice = DAMP_SHOP

    def draw_hidden(self, rng: np.random.Generator, true_oxygen_ppm: float,
                    true_temperature_degC: float = 1586.0,
                    planned_time: pd.Timestamp | None = None) -> DampHiddenHeat:
        """Per-heat hidden parameters; the stockpiles' wetness follows from ``planned_time``."""
        return DampHiddenHeat(
            wetness=wetness(planned_time),
            pile_factor=float(np.clip(rng.lognormal(0.0, _PILE_SIGMA), 0.4, 2.5)),
            react_share=float(rng.uniform(*REACT_SHARE)),
            eta_foam=float(np.clip(rng.normal(*ETA_FOAM), 0.42, 0.56)),
            eta_bare=float(np.clip(rng.normal(*ETA_BARE), 0.28, 0.41)),
            foam_kWh=float(FOAM_KWH * np.clip(rng.lognormal(0.0, FOAM_SIGMA), 0.4, 2.5)),
            bore_kWh=float(BORE_KWH * np.clip(rng.lognormal(0.0, BORE_SIGMA), 0.5, 2.0)),
            loss_degC_per_min=float(np.clip(rng.normal(0.85, 0.1), 0.5, 1.3)),
            chill_factor=float(np.clip(rng.normal(1.05, 0.06), 0.85, 1.3)),
            recovery_noise={el: float(rng.normal(0.0, p[3])) for el, p in _RECOVERY.items()},
            true_oxygen_ppm=true_oxygen_ppm,
        )

    def steel_weight_t(self, hidden: DampHiddenHeat, reported_t: float) -> float:
        """The plant weighs right."""
        return reported_t

    def addition(self, hidden: DampHiddenHeat, bath: BathView, material: Material, kg: float,
                 trim: bool) -> AdditionEffect:
        """Textbook recovery at the bath's oxygen; the water the material brings raises the oxygen (its reacting
        share) and chills (the steam)."""
        rec = {el: recovery(el, hidden, bath.oxygen_ppm, trim) for el in material.composition_wt_pct}
        water_kg = kg * moisture_wt_pct(hidden, material) / 100.0
        oxygen = bath.oxygen_ppm + 1000.0 * O_PER_WATER * hidden.react_share * water_kg / bath.steel_weight_t
        steam_kwh = STEAM_KWH_PER_KG * (1.0 - hidden.react_share) * water_kg
        chill = (material.chill_degC_t_per_kg * hidden.chill_factor * kg / bath.steel_weight_t
                 + steam_kwh / (_STEEL_HEAT_KWH_PER_T_PER_DEGC * bath.steel_weight_t))
        return AdditionEffect(rec, oxygen, chill)

    def arc_rise_degC(self, hidden: DampHiddenHeat, bath: BathView, kwh: float, energy: Energy) -> float:
        """Per arcing: a bore-in before the foam builds, the foam lost as the arcing goes on."""
        return arcing_kwh(hidden, kwh) / (energy.steel_heat_kWh_per_t_per_degC * bath.steel_weight_t)

    def arc_pickup_kg(self, hidden: DampHiddenHeat, bath: BathView, kwh: float,
                      arc_min: float) -> dict[str, float]:
        """The arc adds or takes nothing here."""
        return {}

    def hold(self, hidden: DampHiddenHeat, bath: BathView, minutes: float) -> HoldEffect:
        """A constant loss per minute; the water's oxygen is taken by Al, then Si, then C."""
        if minutes <= 0:
            return HoldEffect(0.0, bath.oxygen_ppm)
        excess = max(0.0, bath.oxygen_ppm - hidden.true_oxygen_ppm)
        left = excess * math.exp(-minutes / DEOX_TAU_MIN)
        o_kg = (excess - left) * bath.steel_weight_t / 1000.0
        burnt: dict[str, float] = {}
        for el, kg_per_o in DEOXIDISERS:
            if o_kg <= 1e-9:
                break
            have = bath.wt_pct.get(el, 0.0) / 100.0 * bath.steel_weight_t * 1000.0
            take = min(have, kg_per_o * o_kg)
            if take > 0:
                burnt[el] = take
                o_kg -= take / kg_per_o
        return HoldEffect(hidden.loss_degC_per_min * minutes, hidden.true_oxygen_ppm + left, burnt_kg=burnt)

    def reading_bias(self, hidden: DampHiddenHeat, bath: BathView) -> ReadingBias:
        """Samples read the true bath here."""
        return NO_BIAS

    def lab_delay_min(self, hidden: DampHiddenHeat, bath: BathView) -> float:
        """The lab keeps the config's minutes."""
        return 0.0

    def measure_temperature(self, rng: np.random.Generator, true_degC: float) -> float:
        """A thermocouple dip."""
        return float(true_degC + rng.normal(0.0, MEASURE_TEMP_SD_DEGC))

    def measure_wt_pct(self, rng: np.random.Generator, true_wt_pct: float) -> float:
        """A spectrometer reading of one element."""
        sd = MEASURE_REL_SD * true_wt_pct + MEASURE_ABS_SD_WT_PCT
        return float(max(0.0, true_wt_pct + rng.normal(0.0, sd)))

