"""The ``skull`` hidden plant physics: ladles that arrive with a skull of an earlier heat's steel frozen to their
walls and bottom, which melts back into the bath during the treatment. A held-out plant (docs/simulator.md, "The
eleventh plant"); private: the optimizer and the generated files never see these parameters.

* **The skull.** A ladle that waited long between heats, or was not cast to empty, keeps a skull: steel of the
  heat it last carried, frozen at the walls and the bottom. With a probability that is higher for a heat that
  arrives colder (its ladle waited longer) the heat's ladle carries a heavy skull (lognormal, median 2.0 t, sd
  0.45, 0.5-5 t), else a thin residue (0.05-0.25 t). Its chemistry is the final chemistry of an earlier heat of
  some grade of the shop's mix (structural Mn-Si, high-Mn structural, medium-carbon, low-carbon Al-killed), a
  little scattered, its Al half burnt. The crane scale weighs it with the steel (the ladle's tare is the clean
  ladle), so the reported weight is right once it has melted; the arrival sample reads the liquid only.
* **Melting back while the heat goes on.** What is still frozen melts first order in time, ``m(t) = m0 exp(-t /
  tau)``, per heat ``tau`` = 20 min x lognormal(0, 0.3) x sqrt(m0 / 2 t) x exp((1586 - T_arrival) / 40) (a
  thick skull and a cold ladle melt slower), clipped to 6-80 min. Each kg that melts mixes the earlier heat's
  chemistry into the bath (the bath's element masses change by ``kg x (c_skull - c_bath) / 100``: a Mn-rich
  skull raises a low-Mn heat's Mn, a low-carbon skull dilutes a medium-carbon heat's C, both booked in
  ``HoldEffect.burnt_kg``, negative for what the skull brings) and takes 0.13 kWh of the bath's heat (sensible
  heat from the wall's ~1250 degC plus the latent heat). Unlike every other plant the chemistry moves towards
  another grade's while the heat waits, and in either direction; the temperature loss follows the skull, not
  the minutes alone.
* **Metallurgy otherwise textbook**: recovery linear in the dissolved oxygen (trims see 30 % of it, Al and Si
  trims a bonus) times a per-heat factor; arc efficiency per heat, linear in energy; a constant loss per heat;
  the addition's chill linear in kg/t; the feeders deliver the setpoints of the nominal content, the lab keeps
  the config's minutes, samples read the true bath, the arc adds or takes nothing.
* **Operators** (``SKULL_SHOP``): their own trigger, aim and yields; their heat balance knows nothing of the
  skull; history varies the plan's samples by -1/0/0/+1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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
# the final chemistry (wt%) of the earlier heats a skull can come from, and how often each is met
_SKULL_CHEMISTRY: tuple[tuple[float, dict[str, float]], ...] = (
    (0.30, {"C": 0.14, "Mn": 1.05, "Si": 0.22, "Al": 0.035, "P": 0.016, "S": 0.011, "Cr": 0.04, "Ni": 0.04,
            "Cu": 0.09}),
    (0.30, {"C": 0.17, "Mn": 1.48, "Si": 0.38, "Al": 0.035, "P": 0.015, "S": 0.010, "Cr": 0.04, "Ni": 0.04,
            "Cu": 0.09}),
    (0.25, {"C": 0.46, "Mn": 0.72, "Si": 0.26, "Al": 0.025, "P": 0.016, "S": 0.012, "Cr": 0.05, "Ni": 0.04,
            "Cu": 0.09}),
    (0.15, {"C": 0.035, "Mn": 0.27, "Si": 0.012, "Al": 0.042, "P": 0.012, "S": 0.009, "Cr": 0.04, "Ni": 0.04,
            "Cu": 0.08}),
)
SKULL_AL_LEFT = 0.5  # the frozen steel's Al is half burnt at the wall
_SKULL_SCATTER = 0.05  # relative, per element
HEAVY_SKULL_T, _HEAVY_SIGMA, HEAVY_RANGE_T = 2.0, 0.45, (0.5, 5.0)
THIN_RANGE_T = (0.05, 0.25)
TAU_MIN, _TAU_SIGMA, TAU_RANGE_MIN = 20.0, 0.3, (6.0, 80.0)
ARRIVAL_REF_DEGC, _TAU_COLD_DEGC, _P_COLD_DEGC = 1586.0, 40.0, 30.0
MELT_KWH_PER_KG = 0.13
STEEL_HEAT_KWH_PER_T_PER_DEGC = 0.22
MEASURE_TEMP_SD_DEGC = 2.5
MEASURE_REL_SD = 0.02
MEASURE_ABS_SD_WT_PCT = 0.001

SKULL_SHOP = OperatorPractice(
    "skull shop", trim_trigger=0.35, aim_above_mid=0.10,
    fixed_yields={"Mn": 0.94, "Si": 0.80, "Al": 0.45, "C": 0.88},
    arc_efficiency=0.43, heat_loss_degC_per_min=0.9, sample_variation=(-1, 0, 0, 1),
)


@dataclass(frozen=True)
class SkullHiddenHeat:
    """What the plant does not know about a heat of the skull plant."""

    skull_t: float  # frozen in the ladle on arrival
    skull_wt_pct: dict[str, float]  # the earlier heat's chemistry
    melt_tau_min: float
    arc_efficiency: float
    loss_degC_per_min: float
    chill_factor: float
    recovery_noise: dict[str, float]
    true_oxygen_ppm: float


def heavy_skull_probability(true_temperature_degC: float) -> float:
    """The chance that a heat arriving at this true temperature comes in a ladle with a heavy skull."""
    return float(np.clip(0.45 + (ARRIVAL_REF_DEGC - true_temperature_degC) / _P_COLD_DEGC * 0.25, 0.15, 0.85))


def frozen_kg(hidden: SkullHiddenHeat, minutes: float) -> float:
    """Skull still frozen ``minutes`` after arrival (kg)."""
    return hidden.skull_t * 1000.0 * math.exp(-max(minutes, 0.0) / hidden.melt_tau_min)


def melted_kg(hidden: SkullHiddenHeat, start_min: float, minutes: float) -> float:
    """Skull that melts from ``start_min`` over ``minutes`` (kg)."""
    return frozen_kg(hidden, start_min) - frozen_kg(hidden, start_min + max(minutes, 0.0))


def mixing_kg(skull_wt_pct: Mapping[str, float], bath_wt_pct: Mapping[str, float], kg: float) -> dict[str, float]:
    """What ``kg`` of melted skull changes in the bath's element masses (kg; positive: the skull brings it)."""
    return {el: kg * (skull_wt_pct.get(el, 0.0) - pct) / 100.0 for el, pct in bath_wt_pct.items()}


def recovery(element: str, hidden: SkullHiddenHeat, oxygen_ppm: float, trim: bool) -> float:
    """Fraction of an element's mass that ends in the steel (0..1): textbook, at the bath's oxygen."""
    got = oxygen_recovery(_RECOVERY, element, hidden.recovery_noise.get(element, 0.0), oxygen_ppm, trim,
                          _TRIM_OXYGEN_SHARE)
    if got is None:
        return 1.0
    level, bonus = got
    return float(np.clip(level + bonus, 0.05, 1.0))


class SkullPhysics:
    """See module doc."""

    name = "skull"
    practice: OperatorPractice = SKULL_SHOP

    def draw_hidden(self, rng: np.random.Generator, true_oxygen_ppm: float,
                    true_temperature_degC: float = 1586.0,
                    planned_time: pd.Timestamp | None = None) -> SkullHiddenHeat:
        """Per-heat hidden parameters (the heat's own stream only; a colder arrival: more and slower skull)."""
        heavy = bool(rng.random() < heavy_skull_probability(true_temperature_degC))
        heavy_t = float(np.clip(HEAVY_SKULL_T * rng.lognormal(0.0, _HEAVY_SIGMA), *HEAVY_RANGE_T))
        thin_t = float(rng.uniform(*THIN_RANGE_T))
        skull_t = heavy_t if heavy else thin_t
        shares = np.array([w for w, _ in _SKULL_CHEMISTRY])
        earlier = _SKULL_CHEMISTRY[int(rng.choice(len(shares), p=shares / shares.sum()))][1]
        scatter = rng.normal(0.0, _SKULL_SCATTER, len(earlier))
        chem = {el: max(0.0, pct * (1.0 + float(s))) * (SKULL_AL_LEFT if el == "Al" else 1.0)
                for (el, pct), s in zip(earlier.items(), scatter, strict=True)}
        cold = (ARRIVAL_REF_DEGC - true_temperature_degC) / _TAU_COLD_DEGC
        tau = TAU_MIN * rng.lognormal(0.0, _TAU_SIGMA) * math.sqrt(skull_t / HEAVY_SKULL_T) * math.exp(cold)
        return SkullHiddenHeat(
            skull_t=skull_t,
            skull_wt_pct=chem,
            melt_tau_min=float(np.clip(tau, *TAU_RANGE_MIN)),
            arc_efficiency=float(np.clip(rng.normal(0.43, 0.02), 0.36, 0.50)),
            loss_degC_per_min=float(np.clip(rng.normal(0.85, 0.1), 0.5, 1.3)),
            chill_factor=float(np.clip(rng.normal(1.06, 0.06), 0.85, 1.3)),
            recovery_noise={el: float(rng.normal(0.0, p[3])) for el, p in _RECOVERY.items()},
            true_oxygen_ppm=true_oxygen_ppm,
        )

    def steel_weight_t(self, hidden: SkullHiddenHeat, reported_t: float) -> float:
        """The scale weighs the skull with the steel: right once it has melted."""
        return reported_t

    def addition(self, hidden: SkullHiddenHeat, bath: BathView, material: Material, kg: float,
                 trim: bool) -> AdditionEffect:
        """Textbook recovery at the bath's oxygen; a chill linear in kg/t."""
        rec = {el: recovery(el, hidden, bath.oxygen_ppm, trim) for el in material.composition_wt_pct}
        chill = material.chill_degC_t_per_kg * hidden.chill_factor * kg / bath.steel_weight_t
        return AdditionEffect(rec, bath.oxygen_ppm, chill)

    def arc_rise_degC(self, hidden: SkullHiddenHeat, bath: BathView, kwh: float, energy: Energy) -> float:
        """A constant efficiency per heat, linear in energy."""
        if kwh <= 0:
            return 0.0
        return hidden.arc_efficiency * kwh / (energy.steel_heat_kWh_per_t_per_degC * bath.steel_weight_t)

    def arc_pickup_kg(self, hidden: SkullHiddenHeat, bath: BathView, kwh: float,
                      arc_min: float) -> dict[str, float]:
        """The arc adds or takes nothing here."""
        return {}

    def hold(self, hidden: SkullHiddenHeat, bath: BathView, minutes: float) -> HoldEffect:
        """A constant loss per minute plus the heat the melting skull takes; the melted skull mixes its chemistry
        into the bath (negative burnt: what it brings)."""
        if minutes <= 0:
            return HoldEffect(0.0, bath.oxygen_ppm)
        melted = melted_kg(hidden, bath.minutes_from_start, minutes)
        loss = hidden.loss_degC_per_min * minutes
        loss += melted * MELT_KWH_PER_KG / (STEEL_HEAT_KWH_PER_T_PER_DEGC * bath.steel_weight_t)
        burnt = {el: -kg for el, kg in mixing_kg(hidden.skull_wt_pct, bath.wt_pct, melted).items() if kg != 0.0}
        return HoldEffect(loss, bath.oxygen_ppm, burnt_kg=burnt)

    def reading_bias(self, hidden: SkullHiddenHeat, bath: BathView) -> ReadingBias:
        """Samples read the true (liquid) bath here."""
        return NO_BIAS

    def lab_delay_min(self, hidden: SkullHiddenHeat, bath: BathView) -> float:
        """The lab keeps the config's minutes."""
        return 0.0

    def measure_temperature(self, rng: np.random.Generator, true_degC: float) -> float:
        """A thermocouple dip."""
        return float(true_degC + rng.normal(0.0, MEASURE_TEMP_SD_DEGC))

    def measure_wt_pct(self, rng: np.random.Generator, true_wt_pct: float) -> float:
        """A spectrometer reading of one element."""
        sd = MEASURE_REL_SD * true_wt_pct + MEASURE_ABS_SD_WT_PCT
        return float(max(0.0, true_wt_pct + rng.normal(0.0, sd)))
