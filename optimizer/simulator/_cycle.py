"""The ``cycle`` hidden plant physics: a ladle furnace whose ladles come in at the thermal state their cycle left
them in, and whose arc burns Mn and Al off the bath. A held-out plant (docs/simulator.md, "The seventh plant");
private: the optimizer and the generated files never see these parameters.

* **Ladle cycle (per ladle and day, from the schedule).** A fleet of 8 ladles; each day the shop runs 4, 5 or 6
  of them in turn (drawn from the day's number), one per 52.5-minute slot, so a ladle stands empty between two
  of its heats for the turn's length less the 135 minutes it holds steel (LF, casting, tapping): 75-180 min.
  Every ladle's slide gate is changed every 3-5 of its heats (its period and phase per ladle and day): the heat
  after a change waits 45-100 min longer. Each day 0-3 ladles come back from repair into the turn at one of their
  slots: they come off the preheater with a hot face of 900-1100 degC and a cold lining (its soak ``H`` = 0),
  which builds heat by heat, ``H_k = 1 - 0.55^k`` for the k-th heat after the return (``H`` = 1 otherwise). A
  heat's own crane and caster delays add a lognormal ~10 min.
* **Wall temperature.** The hot face cools while the ladle stands empty: ``T_face = 700 + (T_end - 700)
  exp(-empty / tau_c)`` with ``T_end = 1300 + 100 H`` degC (the face when the last cast ended) and ``tau_c = 90 +
  110 H`` min (a soaked lining keeps its face hot longer); a heat right off the preheater has the preheater's
  face. Typically 950-1200 degC.
* **Heat loss by conduction into the wall.** Besides a shell and surface loss per heat (N(0.42, 0.05)
  degC/min) the bath loses ``0.0045 (1 + (1 - H)) (T - T_face) / sqrt(t + 15)`` degC/min to the lining (the
  transient of a semi-infinite wall, ``t`` minutes since arrival, 15 min since tapping): proportional to the
  bath's superheat over the wall (a hotter bath loses more), decaying as ``1 / sqrt(t)`` (not exponentially), and
  larger in a lining that has not soaked. Integrated over a wait in steps of at most 2 min.
* **Arc heating, less the freeboard.** The arc radiates onto the ladle wall above the bath; a cold wall absorbs
  a share ``0.10 (1250 - T_face) / 300 x sqrt(15 / (t + 15))`` of the arc's heat (at most 20 %) that a soaked
  wall gives back: the efficiency per heat N(0.44, 0.02) times ``1 -`` that share, linear in energy.
* **Arc-zone losses.** While the arc burns, Mn evaporates from the arc spot and air drawn in at the electrode
  ports oxidises Al: per arc minute the bath loses ``0.0012 x exposure x exp((T - 1590) / 150)`` of its
  dissolved Mn and ``0.010 x exposure`` of its dissolved Al, with ``exposure = x_heat 2 / (1 + lime kg/t / 4)``
  (a thicker lime slag covers the arc; ``x_heat`` lognormal(0, 0.25) per heat: electrode regulation, arc length).
  A heat that needs much reheating (a cold ladle) loses more; they come in as negative ``arc_pickup_kg``, which
  the plant books as burnt.
* **Metallurgy otherwise textbook**: recovery linear in the dissolved oxygen (trims see 30 % of it, Al and Si trims
  a bonus) times a per-heat factor; oxygen is not consumed; chill linear in kg/t (per-heat factor N(1.06,
  0.06)); the plant weighs right, the feeders deliver the setpoints, the lab keeps the config's minutes, samples
  read the true bath (thermocouple sd 2.5 degC, spectrometer 2 % + 0.001 wt%).
* **Operators** (``CYCLE_SHOP``): trim an element measured below half-way from its minimum to their aim
  (mid-window + 5 % of the window) with their own yields (Mn 0.93, Si 0.80, Al 0.42, C 0.88); reheat assuming
  efficiency 0.43 and the config's 0.9 degC/min in every ladle; history varies the plan's samples by -1/0/0/+1.
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
    "Al": (0.52, -0.00035, 0.10, 0.05),
    "C": (0.88, 0.0, 0.0, 0.025),
    "Cr": (0.975, 0.0, 0.0, 0.01),
    "S": (0.60, 0.0, 0.0, 0.08),
}
_TRIM_OXYGEN_SHARE = 0.3
_DAY_KEY, _GATE_KEY, _RETURN_KEY = 7170, 7171, 7172
N_LADLES, SLOT_MIN = 8, 52.5
TURN_SIZES, _TURN_P = (4, 5, 6), (0.25, 0.5, 0.25)
OCCUPIED_MIN = 135.0  # a ladle holds steel this long per cycle (LF, casting, tapping)
_GATE_PERIODS = (3, 4, 5)
GATE_EXTRA_MIN = (45.0, 100.0)
_RETURNS, _RETURNS_P = (0, 1, 2, 3), (0.15, 0.35, 0.35, 0.15)
PREHEAT_FACE_DEGC = (900.0, 1100.0)
SOAK_PER_HEAT = 0.55  # share of the lining's cold reserve left after each heat
_DELAY_MEDIAN_MIN, _DELAY_SIGMA = 10.0, 0.6
_FACE_AMBIENT_DEGC, _FACE_END_DEGC, _FACE_END_SOAK_DEGC = 700.0, 1300.0, 100.0
_COOL_TAU_MIN, _COOL_TAU_SOAK_MIN = 90.0, 110.0
WALL_A = 0.0045  # degC/min per degC of superheat over the face, at 1 min since tapping (1 / sqrt(min))
WALL_COLD_EXTRA = 1.0  # relative, for a lining that has not soaked at all
TAP_MIN = 15.0  # minutes from tapping to the heat's arrival at the LF
_HOLD_STEP_MIN = 2.0
_FREEBOARD_SHARE, _FREEBOARD_REF_DEGC, _FREEBOARD_SPAN_DEGC, _FREEBOARD_MAX = 0.10, 1250.0, 300.0, 0.20
MN_ARC_LOSS_PER_MIN, AL_ARC_LOSS_PER_MIN = 0.0012, 0.010
_MN_ARC_TAU_DEGC = 150.0
_LIME = "Lime"  # the shipped config's lime (a plant physics knows its own materials)
_COVER_LIME_KG_PER_T = 4.0
MEASURE_TEMP_SD_DEGC = 2.5
MEASURE_REL_SD = 0.02
MEASURE_ABS_SD_WT_PCT = 0.001

CYCLE_SHOP = OperatorPractice(
    "cycle shop", trim_trigger=0.5, aim_above_mid=0.05,
    fixed_yields={"Mn": 0.93, "Si": 0.80, "Al": 0.42, "C": 0.88},
    arc_efficiency=0.43, heat_loss_degC_per_min=0.9,
)


@dataclass(frozen=True)
class LadleState:
    """A ladle's thermal state when a heat arrives in it (from the schedule: the day's turn, the ladle's gate
    changes and returns from repair)."""

    ladle: int
    turn: int  # ladles in the day's turn
    use: int  # the ladle's heats so far that day (0: its first)
    empty_min: float  # minutes the ladle stood empty before this heat (inf: off the preheater)
    soak: float  # the lining's soak H, 0 (cold lining) .. 1 (in steady cycle)
    face_degC: float  # hot-face temperature at arrival
    gate_change: bool
    heats_since_return: int | None  # None: no return from repair today before this heat


@dataclass(frozen=True)
class CycleHiddenHeat:
    """What the plant does not know about a heat of the cycle plant (its ladle's state follows from
    ``planned_time``)."""

    ladle: LadleState
    shell_loss_degC_per_min: float
    arc_efficiency: float
    arc_exposure: float
    chill_factor: float
    recovery_noise: dict[str, float]
    true_oxygen_ppm: float


def day_plan(day: int) -> tuple[int, list[int], list[tuple[int, int, float]]]:
    """The shop's ladles on ``day`` (days since the epoch): the turn's size, which ladle stands at each position
    of the turn, and the returns from repair as (position, use, preheater face degC)."""
    rng = np.random.default_rng([_DAY_KEY, day])
    turn = int(rng.choice(TURN_SIZES, p=_TURN_P))
    order = [int(x) for x in rng.permutation(N_LADLES)[:turn]]
    n_ret = int(rng.choice(_RETURNS, p=_RETURNS_P))
    uses = int(math.ceil(1440.0 / SLOT_MIN / turn))
    cells = rng.choice(turn * uses, size=min(n_ret, turn * uses), replace=False)
    returns = [(int(c) % turn, int(c) // turn, float(rng.uniform(*PREHEAT_FACE_DEGC))) for c in sorted(cells)]
    return turn, order, returns


def gate_pattern(ladle: int, day: int) -> tuple[int, int]:
    """(period, phase) of ``ladle``'s slide-gate changes on ``day``: before every ``period``-th heat."""
    rng = np.random.default_rng([_GATE_KEY, ladle, day])
    period = int(rng.choice(_GATE_PERIODS))
    return period, int(rng.integers(period))


def gate_extra_min(ladle: int, day: int, use: int) -> float:
    """Minutes a gate change before ``ladle``'s heat ``use`` on ``day`` keeps it out of the turn."""
    return float(np.random.default_rng([_GATE_KEY, ladle, day, use]).uniform(*GATE_EXTRA_MIN))


def face_degC(empty_min: float, soak: float) -> float:
    """The hot face after ``empty_min`` minutes standing empty, for a lining soaked ``soak`` (0..1)."""
    end = _FACE_END_DEGC + _FACE_END_SOAK_DEGC * soak
    tau = _COOL_TAU_MIN + _COOL_TAU_SOAK_MIN * soak
    return _FACE_AMBIENT_DEGC + (end - _FACE_AMBIENT_DEGC) * math.exp(-empty_min / tau)


def ladle_state(planned_time: pd.Timestamp | None, delay_min: float = 0.0) -> LadleState:
    """The state of the ladle a heat planned at ``planned_time`` arrives in (``delay_min``: the heat's own extra
    empty minutes, crane and caster)."""
    minutes = minutes_since_epoch(planned_time)
    day = int(minutes // 1440.0)
    turn, order, returns = day_plan(day)
    index = int(math.floor(minutes / SLOT_MIN)) - int(math.ceil(day * 1440.0 / SLOT_MIN))
    index = max(index, 0)
    position, use = index % turn, index // turn
    ladle = order[position]
    back = [u for p, u, _ in returns if p == position and u <= use]
    since = use - max(back) if back else None
    soak = 1.0 if since is None else 1.0 - SOAK_PER_HEAT ** since
    period, phase = gate_pattern(ladle, day)
    gate = (use + phase) % period == 0
    empty = turn * SLOT_MIN - OCCUPIED_MIN + delay_min + (gate_extra_min(ladle, day, use) if gate else 0.0)
    if since == 0:
        pre = next(f for p, u, f in returns if p == position and u == use)
        return LadleState(ladle, turn, use, math.inf, 0.0, pre, gate, 0)
    return LadleState(ladle, turn, use, empty, soak, face_degC(empty, soak), gate, since)


def wall_loss_degC(hidden: CycleHiddenHeat, temperature_degC: float, t0_min: float, minutes: float) -> float:
    """What the lining takes from the bath at ``temperature_degC`` from minute ``t0_min`` over ``minutes``."""
    s = hidden.ladle
    a = WALL_A * (1.0 + WALL_COLD_EXTRA * (1.0 - s.soak)) * max(0.0, temperature_degC - s.face_degC)
    return a * 2.0 * (math.sqrt(t0_min + minutes + TAP_MIN) - math.sqrt(max(0.0, t0_min) + TAP_MIN))


def freeboard_share(hidden: CycleHiddenHeat, minutes_from_start: float) -> float:
    """Share of the arc's heat a cold wall above the bath absorbs at ``minutes_from_start``."""
    cold = max(0.0, (_FREEBOARD_REF_DEGC - hidden.ladle.face_degC) / _FREEBOARD_SPAN_DEGC)
    decay = math.sqrt(TAP_MIN / (max(0.0, minutes_from_start) + TAP_MIN))
    return min(_FREEBOARD_MAX, _FREEBOARD_SHARE * cold * decay)


def arc_exposure(hidden: CycleHiddenHeat, bath: BathView) -> float:
    """How exposed the arc is: the heat's own factor, less as a thicker lime slag covers it."""
    lime = bath.added_kg.get(_LIME, 0.0) / bath.steel_weight_t
    return hidden.arc_exposure * 2.0 / (1.0 + lime / _COVER_LIME_KG_PER_T)


def recovery(element: str, hidden: CycleHiddenHeat, oxygen_ppm: float, trim: bool) -> float:
    """Fraction of an element's mass that ends in the steel (0..1): textbook."""
    got = oxygen_recovery(_RECOVERY, element, hidden.recovery_noise.get(element, 0.0), oxygen_ppm, trim,
                          _TRIM_OXYGEN_SHARE)
    if got is None:
        return 1.0
    level, bonus = got
    r = level + bonus
    return float(np.clip(r, 0.05, 1.0))


class CyclePhysics:
    """See module doc."""

    name = "cycle"
    practice: OperatorPractice = CYCLE_SHOP

    def draw_hidden(self, rng: np.random.Generator, true_oxygen_ppm: float,
                    true_temperature_degC: float = 1586.0,
                    planned_time: pd.Timestamp | None = None) -> CycleHiddenHeat:
        """Per-heat hidden parameters; the ladle's state follows from ``planned_time`` (and the heat's delays)."""
        delay = float(_DELAY_MEDIAN_MIN * rng.lognormal(0.0, _DELAY_SIGMA))
        return CycleHiddenHeat(
            ladle=ladle_state(planned_time, min(delay, 90.0)),
            shell_loss_degC_per_min=float(np.clip(rng.normal(0.42, 0.05), 0.3, 0.6)),
            arc_efficiency=float(np.clip(rng.normal(0.44, 0.02), 0.36, 0.52)),
            arc_exposure=float(np.clip(rng.lognormal(0.0, 0.25), 0.4, 2.5)),
            chill_factor=float(np.clip(rng.normal(1.06, 0.06), 0.85, 1.3)),
            recovery_noise={el: float(rng.normal(0.0, p[3])) for el, p in _RECOVERY.items()},
            true_oxygen_ppm=true_oxygen_ppm,
        )

    def steel_weight_t(self, hidden: CycleHiddenHeat, reported_t: float) -> float:
        """The plant weighs right."""
        return reported_t

    def addition(self, hidden: CycleHiddenHeat, bath: BathView, material: Material, kg: float,
                 trim: bool) -> AdditionEffect:
        """Textbook recovery; the chill linear in kg/t."""
        rec = {el: recovery(el, hidden, bath.oxygen_ppm, trim) for el in material.composition_wt_pct}
        chill = material.chill_degC_t_per_kg * hidden.chill_factor * kg / bath.steel_weight_t
        return AdditionEffect(rec, bath.oxygen_ppm, chill)

    def arc_rise_degC(self, hidden: CycleHiddenHeat, bath: BathView, kwh: float, energy: Energy) -> float:
        """Linear in energy, less what a cold freeboard absorbs at this minute of the heat."""
        eta = hidden.arc_efficiency * (1.0 - freeboard_share(hidden, bath.minutes_from_start))
        return eta * kwh / (energy.steel_heat_kWh_per_t_per_degC * bath.steel_weight_t)

    def arc_pickup_kg(self, hidden: CycleHiddenHeat, bath: BathView, kwh: float,
                      arc_min: float) -> dict[str, float]:
        """Negative: Mn evaporated at the arc spot and Al oxidised by the air the arc draws in (kg)."""
        if arc_min <= 0:
            return {}
        x = arc_exposure(hidden, bath)
        w_kg = bath.steel_weight_t * 1000.0
        rates = {"Mn": MN_ARC_LOSS_PER_MIN * x * math.exp((bath.temperature_degC - 1590.0) / _MN_ARC_TAU_DEGC),
                 "Al": AL_ARC_LOSS_PER_MIN * x}
        return {el: -bath.wt_pct[el] / 100.0 * w_kg * (1.0 - math.exp(-rate * arc_min))
                for el, rate in rates.items() if bath.wt_pct.get(el, 0.0) > 0.0}

    def hold(self, hidden: CycleHiddenHeat, bath: BathView, minutes: float) -> HoldEffect:
        """The shell's constant loss plus the lining's conduction, integrated in steps; nothing fades."""
        if minutes <= 0:
            return HoldEffect(0.0, bath.oxygen_ppm)
        steps = max(1, math.ceil(minutes / _HOLD_STEP_MIN))
        dt, temp, t = minutes / steps, bath.temperature_degC, bath.minutes_from_start
        for _ in range(steps):
            temp -= hidden.shell_loss_degC_per_min * dt + wall_loss_degC(hidden, temp, t, dt)
            t += dt
        return HoldEffect(bath.temperature_degC - temp, bath.oxygen_ppm)

    def reading_bias(self, hidden: CycleHiddenHeat, bath: BathView) -> ReadingBias:
        """Samples read the true bath here."""
        return NO_BIAS

    def lab_delay_min(self, hidden: CycleHiddenHeat, bath: BathView) -> float:
        """The lab keeps the config's minutes."""
        return 0.0

    def measure_temperature(self, rng: np.random.Generator, true_degC: float) -> float:
        """A thermocouple dip."""
        return float(true_degC + rng.normal(0.0, MEASURE_TEMP_SD_DEGC))

    def measure_wt_pct(self, rng: np.random.Generator, true_wt_pct: float) -> float:
        """A spectrometer reading of one element."""
        sd = MEASURE_REL_SD * true_wt_pct + MEASURE_ABS_SD_WT_PCT
        return float(max(0.0, true_wt_pct + rng.normal(0.0, sd)))
