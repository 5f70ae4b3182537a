"""The ``standard`` hidden plant physics. Private: the optimizer and the generated files never see these parameters.

Recovery of an element from an addition depends on dissolved oxygen, slag FeO, temperature and timing
(trims after deoxidation recover more Al and Si); the arc heats with a per-heat efficiency, the bath loses
heat per minute and is chilled by each addition. All figures are placeholders in the ranges of DOMAIN.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.config import Energy, Material
from optimizer.simulator.physics import NO_BIAS, AdditionEffect, BathView, HoldEffect, ReadingBias
from optimizer.simulator.practice import TODAY, OperatorPractice

# recovery = base + d_oxygen * (O_ppm - 400) + d_feo * (FeO - 3) + d_temp * (T - 1580), then x lognormal noise
_RECOVERY = {
    #      base   d_oxygen   d_feo   d_temp   noise_sd
    "Mn": (0.945, -0.00003, -0.006, 0.0, 0.015),
    "Si": (0.82, -0.00018, -0.008, 0.0, 0.03),
    "Al": (0.48, -0.0003, -0.012, 0.0, 0.06),
    "C": (0.88, 0.0, 0.0, -0.0002, 0.03),
    "Cr": (0.97, 0.0, -0.002, 0.0, 0.01),
    "S": (0.60, 0.0, 0.0, 0.0, 0.10),
}
_TRIM_BONUS = {"Al": 0.12, "Si": 0.06}  # trims come after deoxidation: less oxygen to burn them
ARC_EFFICIENCY_MEAN = 0.42  # the config's prior says 0.45: today's practice under-heats a little
MEASURE_TEMP_SD_DEGC = 2.5
MEASURE_REL_SD = 0.02
MEASURE_ABS_SD_WT_PCT = 0.001


@dataclass(frozen=True)
class HiddenHeat:
    """What the plant does not know about a heat."""

    slag_feo_wt_pct: float
    arc_efficiency: float
    loss_degC_per_min: float
    chill_factor: float
    recovery_noise: dict[str, float]
    true_oxygen_ppm: float


def draw_hidden(rng: np.random.Generator, true_oxygen_ppm: float) -> HiddenHeat:
    """Per-heat hidden parameters."""
    return HiddenHeat(
        slag_feo_wt_pct=float(np.clip(rng.lognormal(np.log(3.0), 0.45), 0.5, 15.0)),
        arc_efficiency=float(np.clip(rng.normal(ARC_EFFICIENCY_MEAN, 0.025), 0.3, 0.6)),
        loss_degC_per_min=float(np.clip(rng.normal(0.9, 0.12), 0.4, 1.6)),
        chill_factor=float(np.clip(rng.normal(1.1, 0.08), 0.8, 1.4)),
        recovery_noise={el: float(rng.normal(0.0, p[4])) for el, p in _RECOVERY.items()},
        true_oxygen_ppm=true_oxygen_ppm,
    )


def recovery(element: str, hidden: HiddenHeat, temperature_degC: float, trim: bool) -> float:
    """Fraction of an element's added mass that dissolves in the steel (0..1)."""
    if element not in _RECOVERY:
        return 1.0
    base, d_o, d_feo, d_t, _ = _RECOVERY[element]
    o_ppm = hidden.true_oxygen_ppm * (0.3 if trim else 1.0)
    r = base + d_o * (o_ppm - 400.0) + d_feo * (hidden.slag_feo_wt_pct - 3.0) + d_t * (temperature_degC - 1580.0)
    r = r * np.exp(hidden.recovery_noise[element]) + (_TRIM_BONUS.get(element, 0.0) if trim else 0.0)
    return float(np.clip(r, 0.05, 1.0))


def measure_temperature(rng: np.random.Generator, true_degC: float) -> float:
    """A thermocouple dip."""
    return float(true_degC + rng.normal(0.0, MEASURE_TEMP_SD_DEGC))


def measure_wt_pct(rng: np.random.Generator, true_wt_pct: float) -> float:
    """A spectrometer reading of one element."""
    sd = MEASURE_REL_SD * true_wt_pct + MEASURE_ABS_SD_WT_PCT
    return float(max(0.0, true_wt_pct + rng.normal(0.0, sd)))


class StandardPhysics:
    """Recoveries linear in oxygen, FeO and temperature with a fixed trim bonus, a constant per-heat arc
    efficiency and heat loss, a per-heat chill factor; today's operators (``practice.TODAY``)."""

    name = "standard"
    practice: OperatorPractice = TODAY

    def draw_hidden(self, rng: np.random.Generator, true_oxygen_ppm: float,
                    true_temperature_degC: float = 1586.0,
                    planned_time: pd.Timestamp | None = None) -> HiddenHeat:
        """Per-heat hidden parameters (independent of the arrival temperature and the time)."""
        return draw_hidden(rng, true_oxygen_ppm)

    def steel_weight_t(self, hidden: HiddenHeat, reported_t: float) -> float:
        """The plant weighs right: the reported weight is the true one."""
        return reported_t

    def addition(self, hidden: HiddenHeat, bath: BathView, material: Material, kg: float,
                 trim: bool) -> AdditionEffect:
        """Recoveries at the bath temperature; oxygen is not consumed (the trim factor stands for it)."""
        rec = {el: recovery(el, hidden, bath.temperature_degC, trim) for el in material.composition_wt_pct}
        chill = material.chill_degC_t_per_kg * hidden.chill_factor * kg / bath.steel_weight_t
        return AdditionEffect(rec, bath.oxygen_ppm, chill)

    def arc_rise_degC(self, hidden: HiddenHeat, bath: BathView, kwh: float, energy: Energy) -> float:
        """Linear in energy: efficiency x kWh / (heat capacity x weight)."""
        return hidden.arc_efficiency * kwh / (energy.steel_heat_kWh_per_t_per_degC * bath.steel_weight_t)

    def arc_pickup_kg(self, hidden: HiddenHeat, bath: BathView, kwh: float, arc_min: float) -> dict[str, float]:
        """The arc adds nothing to the bath here."""
        return {}

    def hold(self, hidden: HiddenHeat, bath: BathView, minutes: float) -> HoldEffect:
        """A constant loss per minute."""
        return HoldEffect(hidden.loss_degC_per_min * minutes, bath.oxygen_ppm)

    def reading_bias(self, hidden: HiddenHeat, bath: BathView) -> ReadingBias:
        """Samples read the true bath here."""
        return NO_BIAS

    def lab_delay_min(self, hidden: HiddenHeat, bath: BathView) -> float:
        """The lab answers within the config's sampling minutes."""
        return 0.0

    def measure_temperature(self, rng: np.random.Generator, true_degC: float) -> float:
        """A thermocouple dip."""
        return measure_temperature(rng, true_degC)

    def measure_wt_pct(self, rng: np.random.Generator, true_wt_pct: float) -> float:
        """A spectrometer reading of one element."""
        return measure_wt_pct(rng, true_wt_pct)
