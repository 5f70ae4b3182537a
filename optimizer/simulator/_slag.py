"""The ``slag`` hidden plant physics: a second ladle furnace whose laws differ in kind from ``standard``.
Private: the optimizer and the generated files never see these parameters (see docs/simulator.md).

* Recovery is a product of saturating and power laws, not a sum of linear terms. Each addition loses a share
  of each element to dissolved oxygen, ``A (1 - exp(-O / O0))``, and the oxygen it burns is consumed
  (stoichiometrically, down to an equilibrium floor): a big addition exhausts the oxygen, so its share of loss
  is smaller, and what goes in later (Al wire after SiMn, every trim) sees less oxygen and recovers more.
  While the heat waits, slag re-oxidises the bath a little. A second loss goes to the slag:
  ``exp(-B s (FeO / 3)^p exp((T - 1590) / tau))`` with a per-heat slag oxidation ``s``; so recovery falls
  faster than linearly with FeO and with temperature.
* The oxygen burnt heats the bath (half the heat of oxidation of Al, Si, Mn, C); additions chill more than the
  config says, superlinearly in kg per t.
* Arc efficiency falls as the bath gets hotter, ``eta(T) = eta_1580 (1 - k (T - 1580))``, with a per-heat level
  (electrode and foaming-slag state), so the rise of E kWh is ``(1 - u0 exp(-k eta_1580 E / c W)) / k`` with
  ``u0 = 1 - k (T0 - 1580)``: concave in energy.
* Heat loss is radiation-like plus the ladle's refractory soak: ``L_rad ((T + 273) / 1873)^4 +
  L_ref exp(-t / 25 min)``, with a cold or hot ladle per heat.
* Its operators (``SLAG_SHOP``) trim everything measured below an aim above mid-window after every
  intermediate sample, with their own fixed yields, and vary the sample count uniformly by -1/0/+1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.config import Energy, Material
from optimizer.simulator.physics import NO_BIAS, AdditionEffect, BathView, HoldEffect, ReadingBias
from optimizer.simulator.practice import OperatorPractice

# element: (r_max, A oxygen-loss share, O0 ppm, B slag loss, p FeO exponent, tau degC, per-heat noise sd)
_LAW = {
    "Mn": (0.985, 0.05, 300.0, 0.06, 1.3, 250.0, 0.010),
    "Si": (0.94, 0.16, 250.0, 0.17, 1.5, 200.0, 0.020),
    "Al": (0.82, 0.60, 120.0, 0.60, 1.3, 150.0, 0.035),
    "C": (0.93, 0.08, 400.0, 0.07, 1.0, 100.0, 0.020),
    "Cr": (0.985, 0.02, 300.0, 0.02, 1.0, 300.0, 0.008),
    "S": (0.55, 0.0, 1.0, 0.0, 1.0, 1.0, 0.080),
}
_O_PER_KG = {"Al": 0.889, "Si": 1.143, "Mn": 0.291, "C": 1.333, "Cr": 0.462}  # kg O per kg element oxidised
_HEAT_KWH_PER_KG = {"Al": 8.6, "Si": 9.0, "Mn": 2.0, "C": 2.6, "Cr": 3.0}  # heat of oxidation
_HEAT_TO_BATH = 0.5  # the rest heats the slag and the ladle
_STEEL_HEAT_KWH_PER_T_PER_DEGC = 0.22  # liquid steel (DOMAIN.md)
_O_FLOOR_PPM = 5.0
_ETA_SLOPE_PER_DEGC = 0.002  # arc efficiency falls 20 % per 100 degC
_REFRACTORY_TAU_MIN = 25.0
_AL_FADE_SHARE = 0.8  # of the oxygen picked up while holding, the share dissolved Al takes
_AL_FLOOR_WT_PCT = 0.002
_HOLD_STEP_MIN = 0.5
MEASURE_TEMP_SD_DEGC = 3.0
MEASURE_REL_SD = 0.02
MEASURE_ABS_SD_WT_PCT = 0.0008

SLAG_SHOP = OperatorPractice(
    "slag shop", trim_trigger=1.0, aim_above_mid=0.2,
    fixed_yields={"Mn": 0.95, "Si": 0.85, "Al": 0.50, "C": 0.90},
    arc_efficiency=0.43, heat_loss_degC_per_min=0.75, sample_variation=(-1, 0, 1),
)


@dataclass(frozen=True)
class SlagHiddenHeat:
    """What the plant does not know about a heat of the slag plant."""

    slag_feo_wt_pct: float
    slag_oxidation: float  # per-heat multiplier of the slag loss (carry-over slag, its basicity)
    reoxidation_ppm_per_min: float
    arc_efficiency_1580: float
    radiation_loss_degC_per_min: float
    refractory_loss_degC_per_min: float  # extra loss of the ladle at arrival, fading with time
    chill_factor: float
    recovery_noise: dict[str, float]
    true_oxygen_ppm: float


class SlagPhysics:
    """See module doc."""

    name = "slag"
    practice: OperatorPractice = SLAG_SHOP

    def draw_hidden(self, rng: np.random.Generator, true_oxygen_ppm: float,
                    true_temperature_degC: float = 1586.0,
                    planned_time: pd.Timestamp | None = None) -> SlagHiddenHeat:
        """Per-heat hidden parameters (independent of the arrival temperature and the time); 30 % of heats get
        a cold ladle."""
        feo = float(np.clip(rng.lognormal(np.log(3.5), 0.2), 1.0, 12.0))
        cold = bool(rng.random() < 0.3)
        return SlagHiddenHeat(
            slag_feo_wt_pct=feo,
            slag_oxidation=float(np.clip(rng.lognormal(0.0, 0.1), 0.5, 2.0)),
            reoxidation_ppm_per_min=float(0.9 * feo / 3.5 * rng.uniform(0.5, 1.5)),
            arc_efficiency_1580=float(np.clip(rng.normal(0.44, 0.02) * rng.uniform(0.92, 1.06), 0.3, 0.6)),
            radiation_loss_degC_per_min=float(np.clip(rng.normal(0.62, 0.06), 0.4, 0.9)),
            refractory_loss_degC_per_min=float(rng.uniform(0.6, 1.1) if cold else rng.uniform(0.1, 0.4)),
            chill_factor=float(np.clip(rng.normal(1.15, 0.06), 0.9, 1.4)),
            recovery_noise={el: float(rng.normal(0.0, p[6])) for el, p in _LAW.items()},
            true_oxygen_ppm=true_oxygen_ppm,
        )

    def steel_weight_t(self, hidden: SlagHiddenHeat, reported_t: float) -> float:
        """The plant weighs right: the reported weight is the true one."""
        return reported_t

    def addition(self, hidden: SlagHiddenHeat, bath: BathView, material: Material, kg: float,
                 trim: bool) -> AdditionEffect:
        """Oxygen loss (limited by the oxygen there is), slag loss, oxidation heat and chill (see module doc)."""
        w_kg = bath.steel_weight_t * 1000.0
        added = {el: kg * pct / 100.0 for el, pct in material.composition_wt_pct.items()}
        o_loss = {el: _oxygen_loss_share(el, bath.oxygen_ppm) for el in added}
        demand_kg = sum(added[el] * o_loss[el] * _O_PER_KG.get(el, 0.0) for el in added)
        available_kg = max(bath.oxygen_ppm - _O_FLOOR_PPM, 0.0) * w_kg * 1e-6
        scale = min(1.0, available_kg / demand_kg) if demand_kg > 0 else 1.0
        rec = {el: self._recovery(el, hidden, bath.temperature_degC, o_loss[el] * scale) for el in added}
        burnt_heat_kwh = sum(added[el] * o_loss[el] * scale * _HEAT_KWH_PER_KG.get(el, 0.0) for el in added)
        oxygen = bath.oxygen_ppm - demand_kg * scale / (w_kg * 1e-6)
        kg_per_t = kg / bath.steel_weight_t
        chill = material.chill_degC_t_per_kg * hidden.chill_factor * kg_per_t * (1.0 + 0.006 * kg_per_t)
        heat = _HEAT_TO_BATH * burnt_heat_kwh / (_STEEL_HEAT_KWH_PER_T_PER_DEGC * bath.steel_weight_t)
        return AdditionEffect(rec, max(oxygen, _O_FLOOR_PPM), chill - heat)

    def _recovery(self, element: str, hidden: SlagHiddenHeat, temperature_degC: float, o_loss: float) -> float:
        if element not in _LAW:
            return 1.0
        r_max, _, _, b, p, tau, _ = _LAW[element]
        slag = b * hidden.slag_oxidation * (hidden.slag_feo_wt_pct / 3.0) ** p * math.exp((temperature_degC - 1590.0)
                                                                                          / tau)
        r = r_max * (1.0 - o_loss) * math.exp(-slag) * math.exp(hidden.recovery_noise[element])
        return float(np.clip(r, 0.05, 1.0))

    def arc_rise_degC(self, hidden: SlagHiddenHeat, bath: BathView, kwh: float, energy: Energy) -> float:
        """Efficiency falling linearly with temperature, integrated over the energy (see module doc)."""
        k, eta = _ETA_SLOPE_PER_DEGC, hidden.arc_efficiency_1580
        u0 = 1.0 - k * (bath.temperature_degC - 1580.0)
        u = u0 * math.exp(-k * eta * kwh / (energy.steel_heat_kWh_per_t_per_degC * bath.steel_weight_t))
        return (u0 - u) / k

    def arc_pickup_kg(self, hidden: SlagHiddenHeat, bath: BathView, kwh: float, arc_min: float) -> dict[str, float]:
        """The arc adds nothing to the bath here."""
        return {}

    def hold(self, hidden: SlagHiddenHeat, bath: BathView, minutes: float) -> HoldEffect:
        """Radiation-like loss plus the fading refractory soak, in steps of 0.5 min; slag and air re-oxidise the
    bath: dissolved Al takes the oxygen first (Al fade), the rest stays dissolved."""
        t, temp, left = bath.minutes_from_start, bath.temperature_degC, minutes
        while left > 1e-12:
            dt = min(_HOLD_STEP_MIN, left)
            rate = (hidden.radiation_loss_degC_per_min * ((temp + 273.15) / 1873.15) ** 4
                    + hidden.refractory_loss_degC_per_min * math.exp(-(t + dt / 2) / _REFRACTORY_TAU_MIN))
            temp -= rate * dt
            t += dt
            left -= dt
        return HoldEffect(bath.temperature_degC - temp, *_reoxidise(hidden, bath, minutes))

    def reading_bias(self, hidden: SlagHiddenHeat, bath: BathView) -> ReadingBias:
        """Samples read the true bath here."""
        return NO_BIAS

    def lab_delay_min(self, hidden: SlagHiddenHeat, bath: BathView) -> float:
        """The lab answers within the config's sampling minutes."""
        return 0.0

    def measure_temperature(self, rng: np.random.Generator, true_degC: float) -> float:
        """A thermocouple dip (a little noisier than the standard plant's)."""
        return float(true_degC + rng.normal(0.0, MEASURE_TEMP_SD_DEGC))

    def measure_wt_pct(self, rng: np.random.Generator, true_wt_pct: float) -> float:
        """A spectrometer reading of one element."""
        sd = MEASURE_REL_SD * true_wt_pct + MEASURE_ABS_SD_WT_PCT
        return float(max(0.0, true_wt_pct + rng.normal(0.0, sd)))


def _oxygen_loss_share(element: str, oxygen_ppm: float) -> float:
    """Share of an element the dissolved oxygen would burn if there were enough of it: saturating in oxygen."""
    if element not in _LAW:
        return 0.0
    _, a, o0, *_ = _LAW[element]
    return a * (1.0 - math.exp(-max(oxygen_ppm - _O_FLOOR_PPM, 0.0) / o0))


def _reoxidise(hidden: SlagHiddenHeat, bath: BathView, minutes: float) -> tuple[float, dict[str, float]]:
    """(dissolved oxygen after, ppm; Al burnt, kg) for ``minutes`` of oxygen pick-up."""
    w_kg = bath.steel_weight_t * 1000.0
    picked_kg = hidden.reoxidation_ppm_per_min * minutes * w_kg * 1e-6
    al_kg = max(bath.wt_pct.get("Al", 0.0) - _AL_FLOOR_WT_PCT, 0.0) / 100.0 * w_kg
    burnt_al_kg = min(al_kg, _AL_FADE_SHARE * picked_kg / _O_PER_KG["Al"])
    oxygen = bath.oxygen_ppm + (picked_kg - burnt_al_kg * _O_PER_KG["Al"]) / (w_kg * 1e-6)
    return oxygen, ({"Al": burnt_al_kg} if "Al" in bath.wt_pct else {})
