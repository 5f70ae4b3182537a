"""The ``glaze`` hidden plant physics: a ladle furnace whose ladles carry the previous heat's slag as a glaze on
their walls, and whose samples now and then go wrong outright. A held-out plant (docs/simulator.md, "The sixth
plant"); private: the optimizer and the generated files never see these parameters.

* **Ladle glaze.** The shop runs a fleet of 12 ladles; a heat's ladle follows from its planned time (one ladle
  per 52.5-minute slot, in turn). Each ladle's glaze (the FeO + MnO-rich skull of its last heats' slag) is drawn
  per ladle and day from the ladle's number (every heat in that ladle that day shares it): lognormal around
  0.6, sd 0.6, clipped to 0.05-4 (a few ladles are heavily glazed). The glaze gives off its oxygen early in the
  heat and less and less later, ``G(t) = glaze exp(-t / 9 min)``: an addition loses ``0.10 G(t)`` of its Al
  recovery and ``0.03 G(t)`` of its Si (relative, at most 60 % and 25 %), and while the heat waits the glaze
  burns dissolved Al at ``0.9 kg/min x G(t)`` (never more than is dissolved). The loss is a transient of the
  ladle, not a steady fade: the same Al added 30 minutes later recovers nearly as the textbook says.
* **Gross measurement errors** (outliers, not noise). 5 % of temperature dips fail partly (the probe in the slag
  layer or a slow thermocouple): they read 12-45 degC low. 4 % of chemistry samples are slag-contaminated: they
  read Al high by 0.006-0.025 wt% (alumina counted as total Al), S high by 0.002-0.008 wt%, and Mn, Si, C and Cr
  2-6 % low (the spark spot on a porous, slag-diluted sample). Whether a sample goes wrong follows from the heat
  and the minute the sample is taken, so a sample's temperature and chemistry fail together and a heat replays
  identically.
* **Metallurgy otherwise textbook**: recovery linear in the dissolved oxygen (trims see 30 % of it, Al and Si trims
  a bonus) times a per-heat factor; oxygen is not consumed; arc efficiency per heat N(0.43, 0.02), linear in
  energy; a constant loss per heat N(0.9, 0.1) degC/min; the chill linear in kg/t (per-heat factor N(1.08, 0.06)).
* **Operators** (``GLAZE_SHOP``): they aim at mid-window and trim anything below 60 % of the way from the minimum
  to it, with their own yields (Mn 0.94, Si 0.80, Al 0.40, C 0.87: the Al yield learned in glazed ladles); reheat
  to the aim at every stage, assuming efficiency 0.43 and 0.9 degC/min; history varies the plan's samples by
  -1/0/0/+1. They take every reading at face value (a failed dip makes them reheat, a contaminated sample makes
  them trim Mn or skip an Al trim).
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
    "Si": (0.82, -0.00015, 0.05, 0.025),
    "Al": (0.50, -0.00035, 0.10, 0.05),
    "C": (0.88, 0.0, 0.0, 0.025),
    "Cr": (0.975, 0.0, 0.0, 0.01),
    "S": (0.60, 0.0, 0.0, 0.08),
}
_TRIM_OXYGEN_SHARE = 0.3
_GLAZE_KEY, _SAMPLE_KEY = 6160, 6161
N_LADLES, SLOT_MIN = 12, 52.5
_GLAZE_MEDIAN, _GLAZE_SIGMA, _GLAZE_RANGE = 0.6, 0.6, (0.05, 4.0)
GLAZE_TAU_MIN = 9.0
_GLAZE_LOSS = {"Al": (0.10, 0.60), "Si": (0.03, 0.25)}  # relative recovery loss per unit G(t), its cap
GLAZE_AL_BURN_KG_PER_MIN = 0.9
FAILED_DIP_P, FAILED_DIP_DEGC = 0.05, (12.0, 45.0)
CONTAMINATED_P = 0.04
_CONTAMINATION_ABS = {"Al": (0.006, 0.025), "S": (0.002, 0.008)}  # wt% read high
_CONTAMINATION_REL = ("Mn", "Si", "C", "Cr")  # read 2-6 % low
MEASURE_TEMP_SD_DEGC = 2.5
MEASURE_REL_SD = 0.02
MEASURE_ABS_SD_WT_PCT = 0.001

GLAZE_SHOP = OperatorPractice(
    "glaze shop", trim_trigger=0.6, aim_above_mid=0.0,
    fixed_yields={"Mn": 0.94, "Si": 0.80, "Al": 0.40, "C": 0.87},
    arc_efficiency=0.43, heat_loss_degC_per_min=0.9, reheat_each_stage=True,
)


@dataclass(frozen=True)
class GlazeHiddenHeat:
    """What the plant does not know about a heat of the glaze plant (its ladle's glaze follows from
    ``planned_time``, its samples' gross errors from ``sample_key``)."""

    ladle: int
    glaze: float
    sample_key: int
    arc_efficiency: float
    loss_degC_per_min: float
    chill_factor: float
    recovery_noise: dict[str, float]
    true_oxygen_ppm: float


def ladle_of(planned_time: pd.Timestamp | None) -> int:
    """The ladle a heat planned at ``planned_time`` goes in (the fleet in turn, one per slot)."""
    return int(math.floor(minutes_since_epoch(planned_time) / SLOT_MIN)) % N_LADLES


def ladle_glaze(ladle: int, day: int) -> float:
    """The glaze of ``ladle`` on ``day`` (days since the epoch): the same for every heat in it that day."""
    rng = np.random.default_rng([_GLAZE_KEY, ladle, day])
    return float(np.clip(_GLAZE_MEDIAN * rng.lognormal(0.0, _GLAZE_SIGMA), *_GLAZE_RANGE))


def glaze_now(hidden: GlazeHiddenHeat, minutes_from_start: float) -> float:
    """The glaze's oxygen activity ``G(t)`` at ``minutes_from_start``."""
    return hidden.glaze * math.exp(-max(0.0, minutes_from_start) / GLAZE_TAU_MIN)


def recovery(element: str, hidden: GlazeHiddenHeat, oxygen_ppm: float, minutes_from_start: float,
             trim: bool) -> float:
    """Fraction of an element's mass that ends in the steel (0..1): textbook, less the glaze's share."""
    got = oxygen_recovery(_RECOVERY, element, hidden.recovery_noise.get(element, 0.0), oxygen_ppm, trim,
                          _TRIM_OXYGEN_SHARE)
    if got is None:
        return 1.0
    level, bonus = got
    r = level + bonus
    if element in _GLAZE_LOSS:
        a, cap = _GLAZE_LOSS[element]
        r *= 1.0 - min(cap, a * glaze_now(hidden, minutes_from_start))
    return float(np.clip(r, 0.05, 1.0))


def sample_fault(hidden: GlazeHiddenHeat, minutes_from_start: float) -> tuple[float, dict[str, float]]:
    """A sample's gross error: (degC the dip reads low, 0: a good dip; per element the contamination, an
    absolute wt% for Al and S, a relative factor for the others; empty: a clean sample)."""
    rng = np.random.default_rng([_SAMPLE_KEY, hidden.sample_key, int(round(minutes_from_start * 1000))])
    u_dip, dip, u_chem = rng.random(), rng.uniform(*FAILED_DIP_DEGC), rng.random()
    contam = {el: float(rng.uniform(*r)) for el, r in _CONTAMINATION_ABS.items()}
    contam.update({el: float(rng.uniform(0.02, 0.06)) for el in _CONTAMINATION_REL})
    return (float(dip) if u_dip < FAILED_DIP_P else 0.0), (contam if u_chem < CONTAMINATED_P else {})


class GlazePhysics:
    """See module doc."""

    name = "glaze"
    practice: OperatorPractice = GLAZE_SHOP

    def draw_hidden(self, rng: np.random.Generator, true_oxygen_ppm: float,
                    true_temperature_degC: float = 1586.0,
                    planned_time: pd.Timestamp | None = None) -> GlazeHiddenHeat:
        """Per-heat hidden parameters; the ladle and its glaze follow from ``planned_time``."""
        ladle = ladle_of(planned_time)
        return GlazeHiddenHeat(
            ladle=ladle, glaze=ladle_glaze(ladle, int(minutes_since_epoch(planned_time) // 1440.0)),
            sample_key=int(rng.integers(2**62)),
            arc_efficiency=float(np.clip(rng.normal(0.43, 0.02), 0.35, 0.52)),
            loss_degC_per_min=float(np.clip(rng.normal(0.9, 0.1), 0.5, 1.3)),
            chill_factor=float(np.clip(rng.normal(1.08, 0.06), 0.85, 1.3)),
            recovery_noise={el: float(rng.normal(0.0, p[3])) for el, p in _RECOVERY.items()},
            true_oxygen_ppm=true_oxygen_ppm,
        )

    def steel_weight_t(self, hidden: GlazeHiddenHeat, reported_t: float) -> float:
        """The plant weighs right."""
        return reported_t

    def addition(self, hidden: GlazeHiddenHeat, bath: BathView, material: Material, kg: float,
                 trim: bool) -> AdditionEffect:
        """Textbook recovery less the glaze's share at this minute; the chill linear in kg/t."""
        rec = {el: recovery(el, hidden, bath.oxygen_ppm, bath.minutes_from_start, trim)
               for el in material.composition_wt_pct}
        chill = material.chill_degC_t_per_kg * hidden.chill_factor * kg / bath.steel_weight_t
        return AdditionEffect(rec, bath.oxygen_ppm, chill)

    def arc_rise_degC(self, hidden: GlazeHiddenHeat, bath: BathView, kwh: float, energy: Energy) -> float:
        """Linear in energy."""
        return hidden.arc_efficiency * kwh / (energy.steel_heat_kWh_per_t_per_degC * bath.steel_weight_t)

    def arc_pickup_kg(self, hidden: GlazeHiddenHeat, bath: BathView, kwh: float,
                      arc_min: float) -> dict[str, float]:
        """The arc adds nothing to the bath here."""
        return {}

    def hold(self, hidden: GlazeHiddenHeat, bath: BathView, minutes: float) -> HoldEffect:
        """A constant loss per minute; the glaze burns dissolved Al, less and less as it is spent."""
        t0 = bath.minutes_from_start
        spent = GLAZE_TAU_MIN * (math.exp(-t0 / GLAZE_TAU_MIN) - math.exp(-(t0 + minutes) / GLAZE_TAU_MIN))
        al_kg = bath.wt_pct.get("Al", 0.0) / 100.0 * bath.steel_weight_t * 1000.0
        burnt = min(al_kg, GLAZE_AL_BURN_KG_PER_MIN * hidden.glaze * spent) if minutes > 0 else 0.0
        return HoldEffect(hidden.loss_degC_per_min * minutes, bath.oxygen_ppm,
                          burnt_kg={"Al": max(0.0, burnt)})

    def reading_bias(self, hidden: GlazeHiddenHeat, bath: BathView) -> ReadingBias:
        """A failed dip reads low, a slag-contaminated sample reads Al and S high and the rest low."""
        dip, contam = sample_fault(hidden, bath.minutes_from_start)
        if dip == 0.0 and not contam:
            return NO_BIAS
        wt = {el: (contam[el] if el in _CONTAMINATION_ABS else -contam[el] * bath.wt_pct.get(el, 0.0))
              for el in contam if el in bath.wt_pct}
        return ReadingBias(temperature_degC=-dip, wt_pct=wt)

    def lab_delay_min(self, hidden: GlazeHiddenHeat, bath: BathView) -> float:
        """The lab keeps the config's minutes."""
        return 0.0

    def measure_temperature(self, rng: np.random.Generator, true_degC: float) -> float:
        """A thermocouple dip (its gross errors come in by ``reading_bias``)."""
        return float(true_degC + rng.normal(0.0, MEASURE_TEMP_SD_DEGC))

    def measure_wt_pct(self, rng: np.random.Generator, true_wt_pct: float) -> float:
        """A spectrometer reading of one element."""
        sd = MEASURE_REL_SD * true_wt_pct + MEASURE_ABS_SD_WT_PCT
        return float(max(0.0, true_wt_pct + rng.normal(0.0, sd)))
