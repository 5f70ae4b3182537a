"""The ``stirred`` hidden plant physics: a ladle furnace whose argon stirring is its weak point, with a ladle
refractory campaign and a spectrometer recalibrated every shift. A held-out plant (docs/simulator.md, "The fourth
plant"); private: the optimizer and the generated files never see these parameters.

* **Ladle campaign.** Three ladles in rotation, each relined every 110 heats and offset from each other; a heat's
  ladle is drawn per heat, its place ``n`` in the lining campaign follows from the planned time, so heat loss and
  plug condition drift across the history. Shell loss grows as the lining wears, ``0.38 + 0.32 a`` degC/min
  (``a = (n - 1) / 110``); a fresh lining soaks heat for its first few heats (``0.5 exp(-(n - 1) / 3)``).
* **Porous plug.** Partly blocked with probability ``0.08 + 0.37 a`` (passing 10-40 % of the argon); stirring
  power ``eps = 60 W/t x plug share x lognormal(0, 0.2)``.
* **Mixing.** Every addition enters unmixed; a sample sees ``1 - exp(-t / tau)`` of it, ``tau = tau95 / 3 +
  melt sqrt(60 / eps)``, ``tau95 = 800 eps^-0.4`` s (Nakanishi's mixing time), melt 1.8 min for lumps, 2.6 min for
  carbon (the carburizer floats), 0.3 min for Al (wire fed deep). The caster gets all of it.
* **Recovery falls with the batch**: lumps of a big addition sit longer in the slag, the more so the weaker the
  stirring, ``r = r_max (1 - L q / (q + q0) (60 / eps)^0.3)``, ``q`` kg/t of this addition; Si also loses to the
  dissolved oxygen (``/ (1 + O / 2500)``), Al is the deoxidiser (``/ (1 + O / 180)``).
* **Deoxidation equilibrium.** An addition that brings Al or Si lowers the dissolved oxygen to the equilibrium
  with the bath's Al (above the 0.004 wt% bound in the tap slag's alumina) or Si, ``[Al]^2 [O]^3 = K_Al(T)``,
  ``[Si] [O]^2 = K_Si(T)``; nothing raises it.
* **Open eye.** Strong stirring opens the slag eye: dissolved Al fades ``0.004 (eps / 60)^0.5`` per min, and the
  eye radiates ``0.32 (eps / 60)^0.5`` degC/min on top of the shell loss.
* **Desulphurisation** by the lime slag, consuming Al: ``dS/dt = -k (S - 0.0015)``, ``k = 0.03 (eps / 60)^0.6
  Al / (Al + 0.01) min(1, lime kg/t / 4)`` per min, 0.5625 kg Al per kg S (3 CaO + 2 Al + 3 S = 3 CaS + Al2O3).
* **Arc efficiency** falls with weak stirring (the upper bath overheats and radiates), ``eta = 0.47 - 0.09 x 15 /
  (15 + eps)`` with a per-heat scatter; the rise is linear in energy.
* **Stratification.** A share ``s = 0.15 + 0.35 x 15 / (15 + eps)`` of the last arcing's rise stays in the upper
  bath where the thermocouple dips: a dip reads ``s rise exp(-t / tau_T)`` high, ``tau_T = 4 tau95 / 3`` (the
  hot layer is buoyant: it mixes slower than a tracer).
* **Spectrometer per shift.** Recalibrated at 06, 14 and 22 h UTC; each shift reads every element with its own
  relative bias (sd Mn 2 %, Si 2 %, C 3.5 %, Al 4 %, others 2 %), the same for every heat of the shift (drawn
  from the shift's number, not from the heat's stream), on top of a noise of 1.5 % + 0.0008 wt%.
* **Operators** (``STIRRED_SHOP``): trim what reads below half-way to their aim (mid-window + 5 % of the window)
  with their own yields, heat to the aim at every stage, and finish from the second sample on as soon as
  everything reads inside the windows narrowed by 15 % at each end; history varies the plan's 3 samples by
  -2/-1/0/0/+1.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.config import Energy, Material
from optimizer.simulator.physics import SCHEDULE_EPOCH, AdditionEffect, BathView, HoldEffect, ReadingBias, utc
from optimizer.simulator.practice import OperatorPractice

# element: (r_max, L batch loss share, q0 kg/t, mixing melt minutes, per-heat noise sd)
_LAW = {
    "Mn": (0.975, 0.06, 8.0, 1.8, 0.012),
    "Si": (0.90, 0.16, 6.0, 1.8, 0.025),
    "Al": (0.72, 0.05, 2.0, 0.3, 0.05),
    "C": (0.95, 0.12, 2.0, 2.6, 0.025),
    "Cr": (0.98, 0.03, 8.0, 1.8, 0.008),
    "S": (0.60, 0.0, 1.0, 1.8, 0.08),
}
_MELT_DEFAULT_MIN = 1.8
_THERMAL_TAU_FACTOR = 4.0  # a hot upper layer is buoyant: it mixes slower than a tracer
_EPS_REF_W_PER_T, _EPS_NOMINAL_W_PER_T, _EPS_ARC_W_PER_T = 60.0, 60.0, 15.0
_SI_O_HALF_PPM, _AL_O_HALF_PPM = 2500.0, 180.0
_AL_BOUND_WT_PCT = 0.004  # tap Al held in the tap slag's alumina: not a deoxidiser
_O_FLOOR_PPM = 2.0
_AL_FADE_PER_MIN = 0.004
_DESULF_PER_MIN, _S_EQ_WT_PCT, _AL_PER_S = 0.03, 0.0015, 0.5625
_LIME, _LIME_REF_KG_PER_T = "Lime", 4.0
_CAMPAIGN_HEATS, _LADLE_OFFSETS = 110, (0, 37, 81)
_HEAT_GAP_MIN = 52.5  # mean time between heats (heats.py: 45-60 min)
_SHIFT_H, _FIRST_SHIFT_H = 8, 6
_LAB_KEY = 4242  # the lab's calibration history: one stream per shift, shared by the shift's heats
_LAB_BIAS_SD = {"Mn": 0.02, "Si": 0.02, "C": 0.035, "Al": 0.04}
_LAB_BIAS_SD_DEFAULT = 0.02
_LAB_ELEMENTS = ("C", "Mn", "Si", "Al", "P", "S", "Cr", "Ni", "Cu")
MEASURE_TEMP_SD_DEGC = 2.0
MEASURE_REL_SD = 0.015
MEASURE_ABS_SD_WT_PCT = 0.0008

STIRRED_SHOP = OperatorPractice(
    "stirred shop", trim_trigger=0.5, aim_above_mid=0.05,
    fixed_yields={"Mn": 0.93, "Si": 0.80, "Al": 0.55, "C": 0.90},
    arc_efficiency=0.44, heat_loss_degC_per_min=0.85, sample_variation=(-2, -1, 0, 0, 1),
    finish_margin=0.15, reheat_each_stage=True, stir_min_per_heat=18.0,
)


@dataclass(frozen=True)
class StirredHiddenHeat:
    """What the plant does not know about a heat of the stirred plant; the laws that follow from the stirring
    power and the campaign are properties, so a changed ``stirring_W_per_t`` changes them all."""

    ladle: int
    campaign_heat: int  # 1 .. _CAMPAIGN_HEATS: heats on this ladle's lining, this one included
    plug_share: float  # of the nominal argon flow the porous plug passes (1: clear)
    stirring_W_per_t: float
    arc_scatter: float  # electrodes, arc length: added to the stirring's efficiency
    loss_factor: float
    chill_factor: float
    shift: int  # number of the spectrometer's calibration shift
    lab_bias: dict[str, float]  # this shift's relative spectrometer bias per element
    recovery_noise: dict[str, float]
    true_oxygen_ppm: float

    @property
    def _weak(self) -> float:
        return _EPS_ARC_W_PER_T / (_EPS_ARC_W_PER_T + self.stirring_W_per_t)

    @property
    def arc_efficiency(self) -> float:
        """Share of arc energy that heats the steel: lower when weak stirring lets the upper bath overheat."""
        return float(np.clip(0.47 - 0.09 * self._weak + self.arc_scatter, 0.3, 0.6))

    @property
    def stratified_share(self) -> float:
        """Share of an arcing's rise left in the upper bath when the arc stops."""
        return 0.15 + 0.35 * self._weak

    @property
    def thermal_tau_min(self) -> float:
        """Time constant of the upper bath's excess temperature (minutes)."""
        return _THERMAL_TAU_FACTOR * _tau95_min(self.stirring_W_per_t) / 3.0

    @property
    def loss_degC_per_min(self) -> float:
        """Shell (wear), fresh-lining soak and open-eye loss."""
        age = (self.campaign_heat - 1) / _CAMPAIGN_HEATS
        eye = math.sqrt(self.stirring_W_per_t / _EPS_REF_W_PER_T)
        return (0.38 + 0.32 * age + 0.5 * math.exp(-(self.campaign_heat - 1) / 3.0) + 0.32 * eye) * self.loss_factor

    def mixing_tau_min(self, element: str) -> float:
        """First-order mixing time of an addition's ``element`` (minutes)."""
        melt = _LAW[element][3] if element in _LAW else _MELT_DEFAULT_MIN
        return _tau95_min(self.stirring_W_per_t) / 3.0 + melt * math.sqrt(_EPS_REF_W_PER_T / self.stirring_W_per_t)


def _tau95_min(eps_W_per_t: float) -> float:
    """Nakanishi's 95 % mixing time, 800 eps^-0.4 s, in minutes."""
    return 800.0 * eps_W_per_t ** -0.4 / 60.0


def campaign_heat(planned_time: pd.Timestamp | None, ladle: int) -> int:
    """The heat's place in ``ladle``'s lining campaign (1 ..), from its planned time (None: mid-campaign)."""
    if planned_time is None:
        return _CAMPAIGN_HEATS // 2
    heats = (utc(planned_time) - SCHEDULE_EPOCH).total_seconds() / 60.0 / _HEAT_GAP_MIN
    per_ladle = heats / len(_LADLE_OFFSETS)
    return int(math.floor(per_ladle + _LADLE_OFFSETS[ladle])) % _CAMPAIGN_HEATS + 1


def shift_number(planned_time: pd.Timestamp | None) -> int:
    """The spectrometer's calibration shift of a heat (06, 14, 22 h UTC; None: shift 0)."""
    if planned_time is None:
        return 0
    return int((utc(planned_time).timestamp() / 3600.0 - _FIRST_SHIFT_H) // _SHIFT_H)


def lab_bias(shift: int) -> dict[str, float]:
    """The relative spectrometer bias per element of one shift (the same for every heat in it), for the shipped
    config's elements; :func:`element_bias` gives any other."""
    rng = np.random.default_rng([_LAB_KEY, shift])
    return {el: float(rng.normal(0.0, _LAB_BIAS_SD.get(el, _LAB_BIAS_SD_DEFAULT))) for el in _LAB_ELEMENTS}


def element_bias(hidden: StirredHiddenHeat, element: str) -> float:
    """The heat's shift's relative bias on ``element`` (an element beyond the shipped ones: its own stream)."""
    if element in hidden.lab_bias:
        return hidden.lab_bias[element]
    rng = np.random.default_rng([_LAB_KEY, hidden.shift, zlib.crc32(element.encode())])
    return float(rng.normal(0.0, _LAB_BIAS_SD_DEFAULT))


class StirredPhysics:
    """See module doc."""

    name = "stirred"
    practice: OperatorPractice = STIRRED_SHOP

    def draw_hidden(self, rng: np.random.Generator, true_oxygen_ppm: float,
                    true_temperature_degC: float = 1586.0,
                    planned_time: pd.Timestamp | None = None) -> StirredHiddenHeat:
        """Per-heat hidden parameters; the ladle's campaign (loss, plug) and the shift's lab bias follow from
        ``planned_time``."""
        ladle = int(rng.integers(len(_LADLE_OFFSETS)))
        n = campaign_heat(planned_time, ladle)
        age = (n - 1) / _CAMPAIGN_HEATS
        blocked = bool(rng.random() < 0.08 + 0.37 * age)
        share = float(rng.uniform(0.10, 0.40)) if blocked else 1.0
        eps = float(np.clip(_EPS_NOMINAL_W_PER_T * share * rng.lognormal(0.0, 0.2), 3.0, 150.0))
        shift = shift_number(planned_time)
        return StirredHiddenHeat(
            ladle=ladle, campaign_heat=n, plug_share=share, stirring_W_per_t=eps,
            arc_scatter=float(rng.normal(0.0, 0.015)),
            loss_factor=float(rng.lognormal(0.0, 0.08)),
            chill_factor=float(np.clip(rng.normal(1.05, 0.05), 0.9, 1.25)),
            shift=shift, lab_bias=lab_bias(shift),
            recovery_noise={el: float(rng.normal(0.0, p[4])) for el, p in _LAW.items()},
            true_oxygen_ppm=true_oxygen_ppm,
        )

    def steel_weight_t(self, hidden: StirredHiddenHeat, reported_t: float) -> float:
        """The plant weighs right: the reported weight is the true one."""
        return reported_t

    def addition(self, hidden: StirredHiddenHeat, bath: BathView, material: Material, kg: float,
                 trim: bool) -> AdditionEffect:
        """Batch-size recovery, all of it unmixed at first; a deoxidiser lowers the oxygen to equilibrium."""
        q = kg / bath.steel_weight_t
        rec = {el: _recovery(el, hidden, bath.oxygen_ppm, q) for el in material.composition_wt_pct}
        oxygen = bath.oxygen_ppm
        if {"Al", "Si"} & set(rec):
            total = _total_wt_pct(bath)
            for el, pct in material.composition_wt_pct.items():
                total[el] = total.get(el, 0.0) + kg * pct / 100.0 * rec[el] / (bath.steel_weight_t * 10.0)
            oxygen = min(oxygen, max(_O_FLOOR_PPM, _equilibrium_oxygen_ppm(total, bath.temperature_degC)))
        chill = material.chill_degC_t_per_kg * hidden.chill_factor * q
        return AdditionEffect(rec, oxygen, chill, {el: 1.0 for el in rec})

    def arc_rise_degC(self, hidden: StirredHiddenHeat, bath: BathView, kwh: float, energy: Energy) -> float:
        """Linear in energy at the heat's efficiency (lower under weak stirring)."""
        return hidden.arc_efficiency * kwh / (energy.steel_heat_kWh_per_t_per_degC * bath.steel_weight_t)

    def arc_pickup_kg(self, hidden: StirredHiddenHeat, bath: BathView, kwh: float,
                      arc_min: float) -> dict[str, float]:
        """The arc adds nothing to the bath here."""
        return {}

    def hold(self, hidden: StirredHiddenHeat, bath: BathView, minutes: float) -> HoldEffect:
        """A constant loss per heat (campaign, eye); additions mix; Al fades at the eye and to desulphurisation."""
        w_kg = bath.steel_weight_t * 1000.0
        mixed = {el: kg * (1.0 - math.exp(-minutes / hidden.mixing_tau_min(el)))
                 for el, kg in bath.undissolved_kg.items()}
        burnt: dict[str, float] = {}
        al_kg = max(bath.wt_pct.get("Al", 0.0), 0.0) / 100.0 * w_kg
        if "Al" in bath.wt_pct:
            eye = _AL_FADE_PER_MIN * math.sqrt(hidden.stirring_W_per_t / _EPS_REF_W_PER_T)
            burnt["Al"] = al_kg * (1.0 - math.exp(-eye * minutes))
        if "S" in bath.wt_pct and "Al" in bath.wt_pct:
            s_removed = _desulphurised_kg(hidden, bath, minutes)
            al_used = min(_AL_PER_S * s_removed, al_kg - burnt["Al"])
            burnt["S"] = s_removed
            burnt["Al"] += max(al_used, 0.0)
        return HoldEffect(hidden.loss_degC_per_min * minutes, bath.oxygen_ppm, burnt, mixed)

    def reading_bias(self, hidden: StirredHiddenHeat, bath: BathView) -> ReadingBias:
        """The stratified upper bath on the dip, this shift's calibration on the spectrometer."""
        strat = hidden.stratified_share * bath.arc_rise_degC * math.exp(-bath.minutes_since_arc
                                                                         / hidden.thermal_tau_min)
        return ReadingBias(strat, {el: element_bias(hidden, el) * v for el, v in bath.wt_pct.items()})

    def lab_delay_min(self, hidden: StirredHiddenHeat, bath: BathView) -> float:
        """The lab answers within the config's sampling minutes."""
        return 0.0

    def measure_temperature(self, rng: np.random.Generator, true_degC: float) -> float:
        """A thermocouple dip (a good lance: sd 2 degC)."""
        return float(true_degC + rng.normal(0.0, MEASURE_TEMP_SD_DEGC))

    def measure_wt_pct(self, rng: np.random.Generator, true_wt_pct: float) -> float:
        """A spectrometer reading of one element (its shift's bias is in ``true_wt_pct`` already)."""
        sd = MEASURE_REL_SD * true_wt_pct + MEASURE_ABS_SD_WT_PCT
        return float(max(0.0, true_wt_pct + rng.normal(0.0, sd)))


def _recovery(element: str, hidden: StirredHiddenHeat, oxygen_ppm: float, kg_per_t: float) -> float:
    """Fraction of an element's added mass that ends in the steel (see module doc), clipped to 0.05-1."""
    if element not in _LAW:
        return 1.0
    r_max, loss, q0, _, _ = _LAW[element]
    weak = (_EPS_REF_W_PER_T / hidden.stirring_W_per_t) ** 0.3
    r = r_max * (1.0 - loss * kg_per_t / (kg_per_t + q0) * weak)
    if element == "Si":
        r /= 1.0 + oxygen_ppm / _SI_O_HALF_PPM
    elif element == "Al":
        r /= 1.0 + oxygen_ppm / _AL_O_HALF_PPM
    return float(np.clip(r * math.exp(hidden.recovery_noise[element]), 0.05, 1.0))


def _total_wt_pct(bath: BathView) -> dict[str, float]:
    """The bath's composition with what has not mixed yet (wt%)."""
    w_kg = bath.steel_weight_t * 1000.0
    return {el: v + 100.0 * bath.undissolved_kg.get(el, 0.0) / w_kg for el, v in bath.wt_pct.items()}


def _equilibrium_oxygen_ppm(wt_pct: dict[str, float], temperature_degC: float) -> float:
    """Dissolved oxygen in equilibrium with the bath's Al (above the bound share) or Si, whichever is lower."""
    t_k = temperature_degC + 273.15
    out = math.inf
    al = wt_pct.get("Al", 0.0) - _AL_BOUND_WT_PCT
    if al > 1e-5:
        out = min(out, (10.0 ** (-62780.0 / t_k + 20.54) / al ** 2) ** (1.0 / 3.0) * 1e4)
    si = wt_pct.get("Si", 0.0)
    if si > 1e-5:
        out = min(out, math.sqrt(10.0 ** (-30410.0 / t_k + 11.59) / si) * 1e4)
    return out


def _desulphurised_kg(hidden: StirredHiddenHeat, bath: BathView, minutes: float) -> float:
    """Sulphur the lime slag takes from the bath in ``minutes`` (kg; first order towards equilibrium)."""
    w_kg = bath.steel_weight_t * 1000.0
    al = max(bath.wt_pct["Al"], 0.0)
    lime = min(1.0, bath.added_kg.get(_LIME, 0.0) / bath.steel_weight_t / _LIME_REF_KG_PER_T)
    k = _DESULF_PER_MIN * (hidden.stirring_W_per_t / _EPS_REF_W_PER_T) ** 0.6 * al / (al + 0.01) * lime
    excess = max(bath.wt_pct["S"] - _S_EQ_WT_PCT, 0.0) / 100.0 * w_kg
    return excess * (1.0 - math.exp(-k * minutes))
