"""The ``revert`` hidden plant physics: a ladle furnace whose slag gives silicon and manganese back to the steel.
A held-out plant (docs/simulator.md, "The tenth plant"); private: the optimizer and the generated files never
see these parameters.

* **The slag the heat builds.** The ladle arrives with a per-heat carry-over slag (lognormal, median 1.2 t, sd
  0.35, 0.4-3 t) of its own SiO2 (12-28 %), MnO (3-9 %) and CaO (30-45 %); every addition puts the share of its
  Si, Mn and Al that the steel does not recover (one less the textbook base below) into it as SiO2, MnO and
  Al2O3, and lime brings CaO (92 %). So the slag's SiO2 grows with the SiMn and FeSi75 the heat gets, lime
  dilutes it and raises its basicity ``B = CaO / SiO2``.
* **Reversion while the heat holds.** The dissolved Al reduces the slag's oxides back into the steel,
  ``4 [Al] + 3 (SiO2) = 2 (Al2O3) + 3 [Si]`` (0.781 kg Si per kg Al) and ``2 [Al] + 3 (MnO) = (Al2O3) + 3 [Mn]``
  (3.054 kg Mn per kg Al), first order in the dissolved Al: per minute a share ``k_Si + k_Mn`` of it goes,
  ``k_Si = 0.06 a_SiO2 x g``, ``k_Mn = 0.03 a_MnO x g``, with ``a_SiO2 = x_SiO2 x 2 / (1 + B)`` (a basic slag
  holds its silica), ``a_MnO = x_MnO`` (mass shares of the slag), ``g = exp((T - 1600) / 100) x`` a per-heat
  slag-metal contact factor (lognormal, sd 0.45, 0.4-2.5: stirring, the slag eye). The slag's pools are large
  against what returns (a few % of them), so they are not depleted. Unlike every other plant an element *rises*
  while the heat waits, and the Al it costs follows what else went into the heat, the lime and the temperature.
  The returned Si and Mn are booked as a negative ``HoldEffect.burnt_kg`` (the plant adds them to the bath).
* **Metallurgy otherwise textbook**: recovery linear in the dissolved oxygen (trims see 30 % of it, Al and Si
  trims a bonus) times a per-heat factor; arc efficiency per heat N(0.43, 0.02), linear in energy; a constant
  loss per heat N(0.88, 0.1) degC/min; the addition's chill linear in kg/t (per-heat factor N(1.06, 0.06)); the
  plant weighs right, the feeders deliver the setpoints of the nominal content, the lab keeps the config's
  minutes, samples read the true bath (thermocouple sd 2.5 degC, spectrometer 2 % + 0.001 wt%), the arc adds or
  takes nothing.
* **Operators** (``REVERT_SHOP``): trim an element measured below 30 % of the way from its minimum to their aim
  (mid-window + 10 % of the window) with their own yields (Mn 0.94, Si 0.79, Al 0.42, C 0.88); reheat assuming
  efficiency 0.43 and 0.9 degC/min; history varies the plan's samples by -1/0/0/0/+1 (2-4 samples, 3 most often).
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
    oxygen_recovery,
)
from optimizer.simulator.practice import OperatorPractice

#      base   d_oxygen  trim bonus  noise_sd
_RECOVERY = {
    "Mn": (0.95, -0.00002, 0.0, 0.015),
    "Si": (0.80, -0.00015, 0.05, 0.025),
    "Al": (0.50, -0.00035, 0.10, 0.05),
    "C": (0.88, 0.0, 0.0, 0.025),
    "Cr": (0.975, 0.0, 0.0, 0.01),
    "S": (0.60, 0.0, 0.0, 0.08),
}
_TRIM_OXYGEN_SHARE = 0.3
CARRYOVER_SLAG_T, _SLAG_SIGMA, SLAG_RANGE_T = 1.2, 0.35, (0.4, 3.0)
SIO2_SHARE, MNO_SHARE, CAO_SHARE = (0.12, 0.28), (0.03, 0.09), (0.30, 0.45)
LIME_CAO = 0.92
SLAG_FORMERS = ("Lime", "Fluorspar")
# kg of oxide per kg of the element that the steel did not recover
OXIDE_PER_KG = {"Si": 60.08 / 28.09, "Mn": 70.94 / 54.94, "Al": 101.96 / 53.96}
SI_PER_AL = 3 * 28.09 / (4 * 26.98)  # 4 Al + 3 SiO2 = 2 Al2O3 + 3 Si
MN_PER_AL = 3 * 54.94 / (2 * 26.98)  # 2 Al + 3 MnO = Al2O3 + 3 Mn
K_SI, K_MN = 0.06, 0.03  # per min per unit activity, at 1600 degC and a contact factor of 1
T_REF_DEGC, T_SCALE_DEGC = 1600.0, 100.0
_CONTACT_SIGMA = 0.45
MEASURE_TEMP_SD_DEGC = 2.5
MEASURE_REL_SD = 0.02
MEASURE_ABS_SD_WT_PCT = 0.001

REVERT_SHOP = OperatorPractice(
    "revert shop", trim_trigger=0.3, aim_above_mid=0.10,
    fixed_yields={"Mn": 0.94, "Si": 0.79, "Al": 0.42, "C": 0.88},
    arc_efficiency=0.43, heat_loss_degC_per_min=0.9, sample_variation=(-1, 0, 0, 0, 1),
)


@dataclass(frozen=True)
class RevertHiddenHeat:
    """What the plant does not know about a heat of the revert plant."""

    carryover_slag_t: float
    sio2_share: float  # of the carry-over slag
    mno_share: float
    cao_share: float
    contact: float  # slag-metal contact factor on the reversion rates
    arc_efficiency: float
    loss_degC_per_min: float
    chill_factor: float
    recovery_noise: dict[str, float]
    true_oxygen_ppm: float


@dataclass(frozen=True)
class Slag:
    """The slag's mass (kg) and its SiO2, MnO and CaO (kg) when it is asked."""

    total_kg: float
    sio2_kg: float
    mno_kg: float
    cao_kg: float

    @property
    def basicity(self) -> float:
        """CaO / SiO2 by mass."""
        return self.cao_kg / max(self.sio2_kg, 1e-9)

    @property
    def a_sio2(self) -> float:
        """The silica's activity: its mass share, lowered by a basic slag."""
        return self.sio2_kg / self.total_kg * 2.0 / (1.0 + self.basicity)

    @property
    def a_mno(self) -> float:
        """The MnO's activity: its mass share."""
        return self.mno_kg / self.total_kg


def slag(hidden: RevertHiddenHeat, added_kg: dict[str, float] | None, materials: dict[str, Material]) -> Slag:
    """The slag of the carry-over plus what the additions so far left in it (their unrecovered Si, Mn, Al as
    oxides at the textbook base recovery) and the slag formers; ``materials`` by name."""
    s0 = hidden.carryover_slag_t * 1000.0
    oxide = {"Si": s0 * hidden.sio2_share, "Mn": s0 * hidden.mno_share, "Al": 0.0}
    cao, total = s0 * hidden.cao_share, s0
    for name, kg in (added_kg or {}).items():
        m = materials.get(name)
        if name in SLAG_FORMERS:
            total += kg
            cao += LIME_CAO * kg if name == "Lime" else 0.0
        if m is None:
            continue
        for el, per in OXIDE_PER_KG.items():
            lost = kg * m.composition_wt_pct.get(el, 0.0) / 100.0 * (1.0 - _RECOVERY[el][0]) * per
            oxide[el] += lost
            total += lost
    return Slag(total, oxide["Si"], oxide["Mn"], cao)


def rates_per_min(hidden: RevertHiddenHeat, sl: Slag, temperature_degC: float) -> tuple[float, float]:
    """(k_Si, k_Mn): the shares of the dissolved Al per minute that reduce the slag's SiO2 and MnO."""
    g = math.exp((temperature_degC - T_REF_DEGC) / T_SCALE_DEGC) * hidden.contact
    return K_SI * sl.a_sio2 * g, K_MN * sl.a_mno * g


def recovery(element: str, hidden: RevertHiddenHeat, oxygen_ppm: float, trim: bool) -> float:
    """Fraction of an element's mass that ends in the steel (0..1): textbook, at the bath's oxygen."""
    got = oxygen_recovery(_RECOVERY, element, hidden.recovery_noise.get(element, 0.0), oxygen_ppm, trim,
                          _TRIM_OXYGEN_SHARE)
    if got is None:
        return 1.0
    level, bonus = got
    return float(np.clip(level + bonus, 0.05, 1.0))


class RevertPhysics:
    """See module doc."""

    name = "revert"
    practice: OperatorPractice = REVERT_SHOP

    def __init__(self) -> None:
        self._materials: dict[str, Material] = {}  # every material the plant has added, by name (its config)

    def draw_hidden(self, rng: np.random.Generator, true_oxygen_ppm: float,
                    true_temperature_degC: float = 1586.0,
                    planned_time: pd.Timestamp | None = None) -> RevertHiddenHeat:
        """Per-heat hidden parameters (the heat's own stream only)."""
        return RevertHiddenHeat(
            carryover_slag_t=float(np.clip(CARRYOVER_SLAG_T * rng.lognormal(0.0, _SLAG_SIGMA), *SLAG_RANGE_T)),
            sio2_share=float(rng.uniform(*SIO2_SHARE)),
            mno_share=float(rng.uniform(*MNO_SHARE)),
            cao_share=float(rng.uniform(*CAO_SHARE)),
            contact=float(np.clip(rng.lognormal(0.0, _CONTACT_SIGMA), 0.4, 2.5)),
            arc_efficiency=float(np.clip(rng.normal(0.43, 0.02), 0.36, 0.50)),
            loss_degC_per_min=float(np.clip(rng.normal(0.88, 0.1), 0.5, 1.3)),
            chill_factor=float(np.clip(rng.normal(1.06, 0.06), 0.85, 1.3)),
            recovery_noise={el: float(rng.normal(0.0, p[3])) for el, p in _RECOVERY.items()},
            true_oxygen_ppm=true_oxygen_ppm,
        )

    def steel_weight_t(self, hidden: RevertHiddenHeat, reported_t: float) -> float:
        """The plant weighs right."""
        return reported_t

    def addition(self, hidden: RevertHiddenHeat, bath: BathView, material: Material, kg: float,
                 trim: bool) -> AdditionEffect:
        """Textbook recovery at the bath's oxygen; a chill linear in kg/t; the material is remembered so the
        slag knows its content."""
        self._materials[material.name] = material
        rec = {el: recovery(el, hidden, bath.oxygen_ppm, trim) for el in material.composition_wt_pct}
        chill = material.chill_degC_t_per_kg * hidden.chill_factor * kg / bath.steel_weight_t
        return AdditionEffect(rec, bath.oxygen_ppm, chill)

    def arc_rise_degC(self, hidden: RevertHiddenHeat, bath: BathView, kwh: float, energy: Energy) -> float:
        """A constant efficiency per heat, linear in energy."""
        if kwh <= 0:
            return 0.0
        return hidden.arc_efficiency * kwh / (energy.steel_heat_kWh_per_t_per_degC * bath.steel_weight_t)

    def arc_pickup_kg(self, hidden: RevertHiddenHeat, bath: BathView, kwh: float,
                      arc_min: float) -> dict[str, float]:
        """The arc adds or takes nothing here."""
        return {}

    def slag(self, hidden: RevertHiddenHeat, bath: BathView) -> Slag:
        """The slag of this bath (see :func:`slag`)."""
        return slag(hidden, dict(bath.added_kg), self._materials)

    def hold(self, hidden: RevertHiddenHeat, bath: BathView, minutes: float) -> HoldEffect:
        """A constant loss per minute; the dissolved Al reduces the slag's SiO2 and MnO (first order, at the
        bath's temperature when the hold starts): Al burnt, Si and Mn returned (negative burnt)."""
        if minutes <= 0:
            return HoldEffect(0.0, bath.oxygen_ppm)
        loss = hidden.loss_degC_per_min * minutes
        al_kg = bath.wt_pct.get("Al", 0.0) / 100.0 * bath.steel_weight_t * 1000.0
        if al_kg <= 0:
            return HoldEffect(loss, bath.oxygen_ppm)
        k_si, k_mn = rates_per_min(hidden, self.slag(hidden, bath), bath.temperature_degC)
        k = k_si + k_mn
        if k <= 0:
            return HoldEffect(loss, bath.oxygen_ppm)
        gone = al_kg * (1.0 - math.exp(-k * minutes))
        burnt = {"Al": gone}
        if "Si" in bath.wt_pct:
            burnt["Si"] = -SI_PER_AL * gone * k_si / k
        if "Mn" in bath.wt_pct:
            burnt["Mn"] = -MN_PER_AL * gone * k_mn / k
        return HoldEffect(loss, bath.oxygen_ppm, burnt_kg=burnt)

    def reading_bias(self, hidden: RevertHiddenHeat, bath: BathView) -> ReadingBias:
        """Samples read the true bath here."""
        return NO_BIAS

    def lab_delay_min(self, hidden: RevertHiddenHeat, bath: BathView) -> float:
        """The lab keeps the config's minutes."""
        return 0.0

    def measure_temperature(self, rng: np.random.Generator, true_degC: float) -> float:
        """A thermocouple dip."""
        return float(true_degC + rng.normal(0.0, MEASURE_TEMP_SD_DEGC))

    def measure_wt_pct(self, rng: np.random.Generator, true_wt_pct: float) -> float:
        """A spectrometer reading of one element."""
        sd = MEASURE_REL_SD * true_wt_pct + MEASURE_ABS_SD_WT_PCT
        return float(max(0.0, true_wt_pct + rng.normal(0.0, sd)))
