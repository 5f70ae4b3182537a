"""The ``tariff`` hidden plant physics: a ladle furnace whose transformer tap follows the electricity tariff of
the hour, and whose heavy slag takes part of every arcing's heat and passes it to the steel only afterwards. A
held-out plant (docs/simulator.md, "The ninth plant"); private: the optimizer and the generated files never see
these parameters.

* **Tariff and tap (from the schedule clock, shared by every heat of the hour).** The shop buys power on a
  time-of-use tariff (times UTC): on weekdays the peak hours 07:00-11:00 and 16:00-20:00 run the transformer on
  its low tap, the shoulder hours 11:00-16:00 and 20:00-22:00 on the middle tap, the night 22:00-07:00 and the
  whole weekend on the top tap. A lower tap means a lower secondary voltage and a shorter arc, better buried in
  the slag, so more of its energy goes to the bath: tap efficiency top 0.40, middle 0.44, low 0.48, plus a
  per-heat offset N(0, 0.015) (electrodes, slag foam). The tap is the one of the hour when the arcing starts
  (the planned time plus the minutes since arrival), so a heat that runs into the peak changes tap mid-heat.
  The plant's heating rate is kept (the shop raises the current on a low tap).
* **Heavy slag stores the arc's heat.** Of every arcing's heat a share ``f = 0.32 S / (S + 1.5 t)`` goes into
  the slag first, ``S`` the slag's mass: a per-heat carry-over slag (lognormal, median 1.0 t, sd 0.4, 0.3-3 t)
  plus the lime and fluorspar charged so far. The bath rises at once by ``(1 - f) eta kWh / (0.22 W)``; the
  slag's store ``f / (1 - f)`` of that rise passes to the steel after the arc stops, first order with a per-heat
  time constant (lognormal, median 5 min, sd 0.2), of which a per-heat share U(0.6, 0.8) reaches the steel (the
  rest leaves through the slag's top). A dip right after an arcing reads a bath that is still warming; only
  the last arcing's store is tracked (the earlier ones have passed by then). Unlike ``stirred``'s stratified
  upper bath this is not a reading artefact: the steel itself is cooler, and warms later.
* **Metallurgy otherwise textbook**: recovery linear in the dissolved oxygen (trims see 30 % of it, Al and Si
  trims a bonus) times a per-heat factor; a constant loss per heat N(0.85, 0.1) degC/min; the addition's chill
  linear in kg/t (per-heat factor N(1.08, 0.06)); the plant weighs right, the feeders deliver the setpoints of
  the nominal content, the lab keeps the config's minutes, samples read the true bath (thermocouple sd 2.5
  degC, spectrometer 2 % + 0.001 wt%).
* **Operators** (``TARIFF_SHOP``): trim an element measured below 30 % of the way from its minimum to their aim
  (mid-window + 15 % of the window) with their own yields (Mn 0.93, Si 0.80, Al 0.46, C 0.87); reheat assuming
  efficiency 0.41 and 0.8 degC/min, whatever the tap; history varies the plan's samples by -1/-1/0/0/+1 (2-4
  samples, 2 and 3 twice as often as 4).
"""

from __future__ import annotations

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
    "Si": (0.81, -0.00015, 0.05, 0.025),
    "Al": (0.49, -0.00035, 0.10, 0.05),
    "C": (0.88, 0.0, 0.0, 0.025),
    "Cr": (0.975, 0.0, 0.0, 0.01),
    "S": (0.60, 0.0, 0.0, 0.08),
}
_TRIM_OXYGEN_SHARE = 0.3
#            hours (UTC, start inclusive, end exclusive) on weekdays; everything else (night, weekend): top tap
PEAK_HOURS = ((7.0, 11.0), (16.0, 20.0))
SHOULDER_HOURS = ((11.0, 16.0), (20.0, 22.0))
TAP_EFFICIENCY = {"top": 0.40, "middle": 0.44, "low": 0.48}
ETA_OFFSET_SD = 0.015
CARRYOVER_SLAG_T, _SLAG_SIGMA, SLAG_RANGE_T = 1.0, 0.4, (0.3, 3.0)
SLAG_FORMERS = ("Lime", "Fluorspar")
STORE_MAX, STORE_HALF_T = 0.32, 1.5
RELEASE_TAU_MIN, _RELEASE_SIGMA = 5.0, 0.2
RETURN_SHARE = (0.6, 0.8)
MEASURE_TEMP_SD_DEGC = 2.5
MEASURE_REL_SD = 0.02
MEASURE_ABS_SD_WT_PCT = 0.001
_EPOCH_WEEKDAY = 3  # 2026-01-01, the schedule epoch, is a Thursday (Monday 0)

TARIFF_SHOP = OperatorPractice(
    "tariff shop", trim_trigger=0.3, aim_above_mid=0.15,
    fixed_yields={"Mn": 0.93, "Si": 0.80, "Al": 0.46, "C": 0.87},
    arc_efficiency=0.41, heat_loss_degC_per_min=0.8, sample_variation=(-1, -1, 0, 0, 1),
)


@dataclass(frozen=True)
class TariffHiddenHeat:
    """What the plant does not know about a heat of the tariff plant (its taps follow from ``planned_min``)."""

    planned_min: float  # minutes since the schedule epoch of the heat's planned start
    eta_offset: float  # this heat's offset on every tap's efficiency
    carryover_slag_t: float
    release_tau_min: float
    return_share: float
    loss_degC_per_min: float
    chill_factor: float
    recovery_noise: dict[str, float]
    true_oxygen_ppm: float


def tap(minutes: float) -> str:
    """The transformer tap at ``minutes`` since the schedule epoch: ``top``, ``middle`` or ``low``."""
    day = math.floor(minutes / 1440.0)
    if (day + _EPOCH_WEEKDAY) % 7 >= 5:  # Saturday, Sunday
        return "top"
    hour = (minutes - day * 1440.0) / 60.0
    if any(a <= hour < b for a, b in PEAK_HOURS):
        return "low"
    if any(a <= hour < b for a, b in SHOULDER_HOURS):
        return "middle"
    return "top"


def tap_at(planned_time: pd.Timestamp | None, minutes_from_start: float = 0.0) -> str:
    """The tap ``minutes_from_start`` after a planned time."""
    return tap(minutes_since_epoch(planned_time) + minutes_from_start)


def efficiency(hidden: TariffHiddenHeat, bath: BathView) -> float:
    """The arc's efficiency on the tap of the hour the arcing starts."""
    return TAP_EFFICIENCY[tap(hidden.planned_min + bath.minutes_from_start)] + hidden.eta_offset


def slag_t(hidden: TariffHiddenHeat, bath: BathView) -> float:
    """The slag's mass (t): carry-over plus the slag formers charged so far."""
    return hidden.carryover_slag_t + sum(bath.added_kg.get(m, 0.0) for m in SLAG_FORMERS) / 1000.0


def store_share(hidden: TariffHiddenHeat, bath: BathView) -> float:
    """Share ``f`` of an arcing's heat that the slag takes first."""
    s = slag_t(hidden, bath)
    return STORE_MAX * s / (s + STORE_HALF_T)


def recovery(element: str, hidden: TariffHiddenHeat, oxygen_ppm: float, trim: bool) -> float:
    """Fraction of an element's mass that ends in the steel (0..1): textbook, at the bath's oxygen."""
    got = oxygen_recovery(_RECOVERY, element, hidden.recovery_noise.get(element, 0.0), oxygen_ppm, trim,
                          _TRIM_OXYGEN_SHARE)
    if got is None:
        return 1.0
    level, bonus = got
    r = level + bonus
    return float(np.clip(r, 0.05, 1.0))


class TariffPhysics:
    """See module doc."""

    name = "tariff"
    practice: OperatorPractice = TARIFF_SHOP

    def draw_hidden(self, rng: np.random.Generator, true_oxygen_ppm: float,
                    true_temperature_degC: float = 1586.0,
                    planned_time: pd.Timestamp | None = None) -> TariffHiddenHeat:
        """Per-heat hidden parameters; the taps follow from ``planned_time``."""
        return TariffHiddenHeat(
            planned_min=minutes_since_epoch(planned_time),
            eta_offset=float(np.clip(rng.normal(0.0, ETA_OFFSET_SD), -0.04, 0.04)),
            carryover_slag_t=float(np.clip(CARRYOVER_SLAG_T * rng.lognormal(0.0, _SLAG_SIGMA), *SLAG_RANGE_T)),
            release_tau_min=float(RELEASE_TAU_MIN * np.clip(rng.lognormal(0.0, _RELEASE_SIGMA), 0.5, 2.0)),
            return_share=float(rng.uniform(*RETURN_SHARE)),
            loss_degC_per_min=float(np.clip(rng.normal(0.85, 0.1), 0.5, 1.3)),
            chill_factor=float(np.clip(rng.normal(1.08, 0.06), 0.85, 1.3)),
            recovery_noise={el: float(rng.normal(0.0, p[3])) for el, p in _RECOVERY.items()},
            true_oxygen_ppm=true_oxygen_ppm,
        )

    def steel_weight_t(self, hidden: TariffHiddenHeat, reported_t: float) -> float:
        """The plant weighs right."""
        return reported_t

    def addition(self, hidden: TariffHiddenHeat, bath: BathView, material: Material, kg: float,
                 trim: bool) -> AdditionEffect:
        """Textbook recovery at the bath's oxygen; a chill linear in kg/t."""
        rec = {el: recovery(el, hidden, bath.oxygen_ppm, trim) for el in material.composition_wt_pct}
        chill = material.chill_degC_t_per_kg * hidden.chill_factor * kg / bath.steel_weight_t
        return AdditionEffect(rec, bath.oxygen_ppm, chill)

    def arc_rise_degC(self, hidden: TariffHiddenHeat, bath: BathView, kwh: float, energy: Energy) -> float:
        """The tap's efficiency, less the slag's share (it reaches the steel later, see ``hold``)."""
        if kwh <= 0:
            return 0.0
        full = efficiency(hidden, bath) * kwh / (energy.steel_heat_kWh_per_t_per_degC * bath.steel_weight_t)
        return (1.0 - store_share(hidden, bath)) * full

    def arc_pickup_kg(self, hidden: TariffHiddenHeat, bath: BathView, kwh: float,
                      arc_min: float) -> dict[str, float]:
        """The arc adds or takes nothing here."""
        return {}

    def slag_heat_degC(self, hidden: TariffHiddenHeat, bath: BathView) -> float:
        """What the slag still holds of the last arcing's heat (degC of the bath, before the share lost)."""
        if bath.arc_rise_degC <= 0 or not math.isfinite(bath.minutes_since_arc):
            return 0.0
        f = store_share(hidden, bath)
        return bath.arc_rise_degC * f / (1.0 - f) * math.exp(-bath.minutes_since_arc / hidden.release_tau_min)

    def hold(self, hidden: TariffHiddenHeat, bath: BathView, minutes: float) -> HoldEffect:
        """A constant loss per minute, less the heat the slag passes back meanwhile."""
        if minutes <= 0:
            return HoldEffect(0.0, bath.oxygen_ppm)
        back = (hidden.return_share * self.slag_heat_degC(hidden, bath)
                * (1.0 - math.exp(-minutes / hidden.release_tau_min)))
        return HoldEffect(hidden.loss_degC_per_min * minutes - back, bath.oxygen_ppm)

    def reading_bias(self, hidden: TariffHiddenHeat, bath: BathView) -> ReadingBias:
        """Samples read the true bath here."""
        return NO_BIAS

    def lab_delay_min(self, hidden: TariffHiddenHeat, bath: BathView) -> float:
        """The lab keeps the config's minutes."""
        return 0.0

    def measure_temperature(self, rng: np.random.Generator, true_degC: float) -> float:
        """A thermocouple dip."""
        return float(true_degC + rng.normal(0.0, MEASURE_TEMP_SD_DEGC))

    def measure_wt_pct(self, rng: np.random.Generator, true_wt_pct: float) -> float:
        """A spectrometer reading of one element."""
        sd = MEASURE_REL_SD * true_wt_pct + MEASURE_ABS_SD_WT_PCT
        return float(max(0.0, true_wt_pct + rng.normal(0.0, sd)))
