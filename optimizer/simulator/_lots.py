"""The ``lots`` hidden plant physics: a ladle furnace whose metallurgy is textbook but whose masses are not what
the level-2 believes: the steel weight, what the feeders deliver and what the ferroalloys contain, with a
conventional lab that keeps the heat waiting. A held-out plant (docs/simulator.md, "The fifth plant"); private:
the optimizer and the generated files never see these parameters.

* **Steel weight.** The reported weight (crane scale at tapping, the heat's ``steel_weight_t``) includes the
  carry-over slag and the scale's calibration error: the true weight is ``reported (1 + e)``, ``e = -1.2 % +
  week offset (sd 0.8 %, one per calendar week, from the week's number) + N(0, 2 %)`` per heat, clipped to -7..+5
  %. Every addition dilutes into the true mass, the arc heats it and an addition chills it.
* **Delivery lots.** Each material comes in lots that last some days (SiMn 3, HC FeMn 5, FeSi75 6, Al wire 4,
  carburizer 7, others 8), offset from each other; a heat's lot follows from its planned time and the lot's
  composition is drawn from the lot's number (the same for every heat of the lot, history or evaluation): the
  main element's content differs from the nominal by a relative sd of 2.5 % (ferroalloys), 1.5 % (carburizer),
  0.4 % (wire), the other elements by 10 %; a lot's sizing (fines share) scales every element's recovery by
  ``lognormal(0, 2 %)`` (lumps), 0.5 % (wire). The config's nominal composition is what the plant believes.
* **Weigh hoppers.** What a hopper discharges differs from the setpoint (what the level-2 logs): ``setpoint (1 +
  g) + d`` with a per-heat, per-hopper gain error ``g ~ N(0, 1.2 %)`` and an in-flight (dribble) error ``d ~ N(1.5,
  2.5) kg`` per discharge, clipped at 0: a small trim misses by a large share.
* **Al wire feeder.** The setpoint is fed in whole metres of the nominal 0.191 kg/m (9.5 mm wire), the lot's true
  kg per metre differs (sd 1.2 %: diameter tolerance) and the feeder's rolls slip a per-heat 0-6 % (mean 2 %).
* **Conventional lab.** A chemistry result takes longer than the config's minutes, by a per-heat 0.5-7 min
  (lognormal, median 2.5: the lab is shared with the converter shop); the sample reads the bath when it is
  taken, the heat waits and cools until the result.
* **Metallurgy** (textbook): recovery linear in the dissolved oxygen (trims see 30 % of it, Al and Si trims a
  bonus) times a per-heat factor and the lot's sizing factor; oxygen is not consumed; arc efficiency per heat
  N(0.43, 0.02), linear in energy; a constant loss per heat N(0.85, 0.1) degC/min; the chill linear in kg/t of the
  true mass. Nothing fades, nothing lags, samples read the true bath.
* **Operators** (``LOTS_SHOP``): trim an element below 40 % of the way from its minimum to their aim (mid-window
  + 10 % of the window) with their own yields; reheat assuming efficiency 0.43 and 1.0 degC/min (a rule of thumb
  that covers the lab's wait); history varies the plan's samples by -1/0/0/+1.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.config import Energy, Material
from optimizer.simulator.physics import (
    NO_BIAS,
    SCHEDULE_EPOCH,
    AdditionEffect,
    BathView,
    HoldEffect,
    ReadingBias,
    oxygen_recovery,
    utc,
)
from optimizer.simulator.practice import OperatorPractice

# recovery of a lump lot without fines = base + d_oxygen (O_ppm - 400) (a trim sees 30 % of the oxygen), x per-heat
# noise x the lot's sizing factor (its fines are lost), + the trim bonus
_RECOVERY = {
    #      base   d_oxygen  trim bonus  noise_sd
    "Mn": (0.95, -0.00002, 0.0, 0.015),
    "Si": (0.82, -0.00015, 0.05, 0.025),
    "Al": (0.46, -0.00035, 0.10, 0.05),
    "C": (0.89, 0.0, 0.0, 0.025),
    "Cr": (0.98, 0.0, 0.0, 0.01),
    "S": (0.60, 0.0, 0.0, 0.08),
}
_TRIM_OXYGEN_SHARE = 0.3
_WEIGHT_BIAS, _WEIGHT_WEEK_SD, _WEIGHT_HEAT_SD, _WEIGHT_RANGE = -0.008, 0.007, 0.015, (-0.06, 0.04)
_SCALE_KEY, _LOT_KEY = 5150, 5151  # the crane scale's calibration history, the stores' delivery history
_LOT_DAYS = {"SiMn": 3.0, "HC_FeMn": 5.0, "FeSi75": 6.0, "Al_wire": 4.0, "Carburizer": 7.0}
_LOT_DAYS_DEFAULT = 8.0
_MAIN_SD = {"ferroalloy": 0.015, "carburizer": 0.015, "wire": 0.004, "flux": 0.0}
_MINOR_SD = 0.10
_FINES_RANGE = {"ferroalloy": (0.03, 0.15), "carburizer": (0.02, 0.12)}  # share of fines in a lot (others: none)
_FINES_LOSS = 0.35  # share of the fines lost to the slag and the off-gas
_HOPPER_GAIN_SD, _DRIBBLE_MEAN_KG, _DRIBBLE_SD_KG = 0.012, 1.5, 2.5
_WIRE_KG_PER_M, _WIRE_LOT_SD, _SLIP_MEAN, _SLIP_SD, _SLIP_MAX = 0.191, 0.012, 0.02, 0.012, 0.06
_LAB_MEDIAN_MIN, _LAB_SIGMA, _LAB_RANGE_MIN = 2.5, 0.5, (0.5, 7.0)
MEASURE_TEMP_SD_DEGC = 2.5
MEASURE_REL_SD = 0.018
MEASURE_ABS_SD_WT_PCT = 0.0008

LOTS_SHOP = OperatorPractice(
    "lots shop", trim_trigger=0.4, aim_above_mid=0.10,
    fixed_yields={"Mn": 0.93, "Si": 0.78, "Al": 0.45, "C": 0.88},
    arc_efficiency=0.43, heat_loss_degC_per_min=1.0,
)


@dataclass(frozen=True)
class Lot:
    """One delivery lot of a material: its true content (wt% per element) and its sizing's recovery factor."""

    number: int
    composition_wt_pct: dict[str, float]
    sizing_factor: float  # recovery factor of the lot's fines (1: no fines)
    wire_kg_per_m: float = _WIRE_KG_PER_M


@dataclass(frozen=True)
class LotsHiddenHeat:
    """What the plant does not know about a heat of the lots plant (the lots themselves follow from
    ``planned_time``, the hoppers' errors from ``feeder_key``)."""

    weight_error: float  # true weight / reported - 1
    week: int
    planned_time: pd.Timestamp | None
    feeder_key: int  # this heat's hopper errors: one stream per material
    wire_slip: float
    lab_delay_min: float
    arc_efficiency: float
    loss_degC_per_min: float
    chill_factor: float
    recovery_noise: dict[str, float]
    true_oxygen_ppm: float


def _days(planned_time: pd.Timestamp | None) -> float:
    return 0.0 if planned_time is None else (utc(planned_time) - SCHEDULE_EPOCH).total_seconds() / 86400.0


def _key(name: str) -> int:
    return zlib.crc32(name.encode())


def week_number(planned_time: pd.Timestamp | None) -> int:
    """The crane scale's calibration week (weeks since the epoch; None: week 0)."""
    return int(_days(planned_time) // 7.0)


def scale_offset(week: int) -> float:
    """The crane scale's relative error of one calibration week (the same for every heat in it)."""
    return float(np.random.default_rng([_SCALE_KEY, week]).normal(0.0, _WEIGHT_WEEK_SD))


def lot_number(material: str, planned_time: pd.Timestamp | None) -> int:
    """The delivery lot of ``material`` a heat at ``planned_time`` uses (lots of each material are offset)."""
    days = _LOT_DAYS.get(material, _LOT_DAYS_DEFAULT)
    phase = (_key(material) % 1000) / 1000.0
    return int(math.floor(_days(planned_time) / days + phase))


def lot(material: Material, number: int) -> Lot:
    """The true content and sizing of lot ``number`` of ``material`` (drawn from the lot's number: every heat of
    the lot shares it); the main element varies by the kind's sd, the others by 10 %, the sum stays <= 100; a
    lumpy lot's fines share loses 35 % of itself (the sizing factor of every element's recovery)."""
    rng = np.random.default_rng([_LOT_KEY, _key(material.name), number])
    nominal = material.composition_wt_pct
    main = max(nominal, key=lambda el: nominal[el], default=None)
    comp: dict[str, float] = {}
    for el in sorted(nominal):
        sd = _MAIN_SD.get(material.kind, 0.0) if el == main else _MINOR_SD
        comp[el] = float(nominal[el] * np.exp(np.clip(rng.normal(0.0, sd), -3 * sd, 3 * sd)))
    total = sum(comp.values())
    if total > 100.0:
        comp = {el: v * 100.0 / total for el, v in comp.items()}
    fines = _FINES_RANGE.get(material.kind)
    sizing = 1.0 - _FINES_LOSS * float(rng.uniform(*fines)) if fines is not None else 1.0
    kg_per_m = float(_WIRE_KG_PER_M * (1.0 + np.clip(rng.normal(0.0, _WIRE_LOT_SD), -0.04, 0.04)))
    return Lot(number, comp, sizing, kg_per_m)


def delivered_kg(hidden: LotsHiddenHeat, material: Material, setpoint_kg: float, this_lot: Lot) -> float:
    """What the feeder really puts in for ``setpoint_kg``: a wire in whole metres of the nominal kg/m, at the
    lot's kg/m, less the rolls' slip; a hopper with its gain and in-flight errors (never below 0)."""
    if setpoint_kg <= 0:
        return 0.0
    if material.kind == "wire":
        metres = max(1, round(setpoint_kg / _WIRE_KG_PER_M))
        return metres * this_lot.wire_kg_per_m * (1.0 - hidden.wire_slip)
    gain, dribble = hopper_error(hidden, material.name)
    return max(0.0, setpoint_kg * (1.0 + gain) + dribble)


def hopper_error(hidden: LotsHiddenHeat, material: str) -> tuple[float, float]:
    """This heat's gain error (relative) and in-flight error (kg per discharge) of ``material``'s hopper."""
    rng = np.random.default_rng([hidden.feeder_key, _key(material)])
    gain = float(np.clip(rng.normal(0.0, _HOPPER_GAIN_SD), -0.04, 0.04))
    dribble = float(np.clip(rng.normal(_DRIBBLE_MEAN_KG, _DRIBBLE_SD_KG), -6.0, 9.0))
    return gain, dribble


def recovery(element: str, hidden: LotsHiddenHeat, oxygen_ppm: float, trim: bool, sizing: float) -> float:
    """Fraction of an element's delivered mass that ends in the steel (0..1)."""
    got = oxygen_recovery(_RECOVERY, element, hidden.recovery_noise.get(element, 0.0), oxygen_ppm, trim,
                          _TRIM_OXYGEN_SHARE)
    if got is None:
        return 1.0
    level, bonus = got
    return float(np.clip(level * sizing + bonus, 0.05, 1.0))


class LotsPhysics:
    """See module doc."""

    name = "lots"
    practice: OperatorPractice = LOTS_SHOP

    def draw_hidden(self, rng: np.random.Generator, true_oxygen_ppm: float,
                    true_temperature_degC: float = 1586.0,
                    planned_time: pd.Timestamp | None = None) -> LotsHiddenHeat:
        """Per-heat hidden parameters; the scale's week and the lots follow from ``planned_time``."""
        week = week_number(planned_time)
        e = _WEIGHT_BIAS + scale_offset(week) + float(rng.normal(0.0, _WEIGHT_HEAT_SD))
        lab = float(np.clip(_LAB_MEDIAN_MIN * rng.lognormal(0.0, _LAB_SIGMA), *_LAB_RANGE_MIN))
        return LotsHiddenHeat(
            weight_error=float(np.clip(e, *_WEIGHT_RANGE)), week=week, planned_time=planned_time,
            feeder_key=int(rng.integers(2**62)),
            wire_slip=float(np.clip(rng.normal(_SLIP_MEAN, _SLIP_SD), 0.0, _SLIP_MAX)),
            lab_delay_min=lab,
            arc_efficiency=float(np.clip(rng.normal(0.43, 0.02), 0.35, 0.52)),
            loss_degC_per_min=float(np.clip(rng.normal(0.85, 0.1), 0.5, 1.3)),
            chill_factor=float(np.clip(rng.normal(1.05, 0.06), 0.85, 1.25)),
            recovery_noise={el: float(rng.normal(0.0, p[3])) for el, p in _RECOVERY.items()},
            true_oxygen_ppm=true_oxygen_ppm,
        )

    def steel_weight_t(self, hidden: LotsHiddenHeat, reported_t: float) -> float:
        """The crane scale's figure corrected by the heat's weighing error."""
        return reported_t * (1.0 + hidden.weight_error)

    def lot_of(self, hidden: LotsHiddenHeat, material: Material) -> Lot:
        """The lot of ``material`` this heat uses."""
        return lot(material, lot_number(material.name, hidden.planned_time))

    def addition(self, hidden: LotsHiddenHeat, bath: BathView, material: Material, kg: float,
                 trim: bool) -> AdditionEffect:
        """The feeder delivers its own kg of the lot's content; textbook recovery times the lot's sizing; the chill
        of what was delivered into the true mass."""
        this_lot = self.lot_of(hidden, material)
        fed = delivered_kg(hidden, material, kg, this_lot)
        rec = {el: recovery(el, hidden, bath.oxygen_ppm, trim, this_lot.sizing_factor)
               for el in this_lot.composition_wt_pct}
        chill = material.chill_degC_t_per_kg * hidden.chill_factor * fed / bath.steel_weight_t
        return AdditionEffect(rec, bath.oxygen_ppm, chill, delivered_kg=fed,
                              composition_wt_pct=dict(this_lot.composition_wt_pct))

    def arc_rise_degC(self, hidden: LotsHiddenHeat, bath: BathView, kwh: float, energy: Energy) -> float:
        """Linear in energy: efficiency x kWh / (heat capacity x the true weight)."""
        return hidden.arc_efficiency * kwh / (energy.steel_heat_kWh_per_t_per_degC * bath.steel_weight_t)

    def arc_pickup_kg(self, hidden: LotsHiddenHeat, bath: BathView, kwh: float, arc_min: float) -> dict[str, float]:
        """The arc adds nothing to the bath here."""
        return {}

    def hold(self, hidden: LotsHiddenHeat, bath: BathView, minutes: float) -> HoldEffect:
        """A constant loss per minute; nothing fades."""
        return HoldEffect(hidden.loss_degC_per_min * minutes, bath.oxygen_ppm)

    def reading_bias(self, hidden: LotsHiddenHeat, bath: BathView) -> ReadingBias:
        """Samples read the true bath here."""
        return NO_BIAS

    def lab_delay_min(self, hidden: LotsHiddenHeat, bath: BathView) -> float:
        """The conventional lab's extra minutes for this heat."""
        return hidden.lab_delay_min

    def measure_temperature(self, rng: np.random.Generator, true_degC: float) -> float:
        """A thermocouple dip."""
        return float(true_degC + rng.normal(0.0, MEASURE_TEMP_SD_DEGC))

    def measure_wt_pct(self, rng: np.random.Generator, true_wt_pct: float) -> float:
        """A spectrometer reading of one element."""
        sd = MEASURE_REL_SD * true_wt_pct + MEASURE_ABS_SD_WT_PCT
        return float(max(0.0, true_wt_pct + rng.normal(0.0, sd)))

