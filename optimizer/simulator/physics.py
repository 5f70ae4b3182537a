"""The seam between the simulated plant and its hidden physics: what the plant asks a physics, and the names.

A physics draws each heat's hidden parameters (never written to files, never shown to a policy) and answers
the plant's questions about the true bath: what an addition recovers and how much it chills, how much the arc
heats, how much the bath cools and re-oxidises while it waits, how noisy the measurements are, and what the
level-2 gets wrong about masses and time: the true steel weight, what a feeder delivers, a lot's content, how
long the lab takes. It also names the practice of the plant's operators (their trims), so choosing a physics by
name chooses a plant.

The implementations are private (``_physics.py``: ``standard``, ``_slag.py``: ``slag``, ``_carryover.py``:
``carryover``, ``_stirred.py``: ``stirred``, ``_lots.py``: ``lots``, ``_glaze.py``: ``glaze``, ``_cycle.py``:
``cycle``, ``_damp.py``: ``damp``, ``_tariff.py``: ``tariff``, ``_revert.py``: ``revert``, ``_skull.py``:
``skull``); only their names are public (:func:`physics_names`, :func:`get_physics`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np
import pandas as pd

from optimizer.config import Energy, Material
from optimizer.simulator.practice import OperatorPractice


class HiddenState(Protocol):
    """A heat's hidden parameters (each physics has its own; the plant only reads the true oxygen)."""

    true_oxygen_ppm: float


@dataclass(frozen=True)
class BathView:
    """The true bath when the physics is asked (temperature, dissolved oxygen, minutes since arrival, true weight,
    dissolved composition), what went into the ladle so far (kg per material, slag formers included), what
    of it has not dissolved yet (kg per element), and the last arcing: its temperature rise (degC) and the
    minutes since it ended (inf: no arcing yet)."""

    temperature_degC: float
    oxygen_ppm: float
    minutes_from_start: float
    steel_weight_t: float
    wt_pct: Mapping[str, float]
    added_kg: Mapping[str, float] = field(default_factory=dict)
    undissolved_kg: Mapping[str, float] = field(default_factory=dict)
    arc_rise_degC: float = 0.0
    minutes_since_arc: float = math.inf


# the hidden plants' schedule clock: ladle turns, campaigns and shifts count from here
SCHEDULE_EPOCH = pd.Timestamp("2026-01-01T00:00:00Z")


def utc(planned_time: pd.Timestamp) -> pd.Timestamp:
    """A planned time in UTC (a naive time is taken as UTC, as the simulator's start is)."""
    ts = pd.Timestamp(planned_time)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def minutes_since_epoch(planned_time: pd.Timestamp | None) -> float:
    """Minutes from ``SCHEDULE_EPOCH`` to a planned time (None: 0, the epoch)."""
    return 0.0 if planned_time is None else (utc(planned_time) - SCHEDULE_EPOCH).total_seconds() / 60.0


# (base recovery, per ppm of dissolved oxygen about 400 ppm, bonus of a trim, per-heat log-noise sd) per element
RecoveryTable = Mapping[str, tuple[float, float, float, float]]


def oxygen_recovery(table: RecoveryTable, element: str, log_noise: float, oxygen_ppm: float, trim: bool,
                    trim_oxygen_share: float) -> tuple[float, float] | None:
    """A hidden plant's textbook recovery of ``element`` (DOMAIN.md section 3), before its own laws and clipping:
    (``(base + d_oxygen (O - 400)) x exp(log_noise)`` at the oxygen the addition meets, a trim meeting
    ``trim_oxygen_share`` of it; the trim's bonus, 0 for a main addition). None for an element ``table`` has not
    (it is fully recovered)."""
    if element not in table:
        return None
    base, d_o, bonus, _ = table[element]
    o_ppm = oxygen_ppm * (trim_oxygen_share if trim else 1.0)
    return (base + d_o * (o_ppm - 400.0)) * math.exp(log_noise), (bonus if trim else 0.0)


@dataclass(frozen=True)
class ReadingBias:
    """What a sample reads beyond the true (dissolved, mean) bath before the instrument's own noise: degC on the
    thermocouple dip (e.g. a stratified bath), wt% per element on the spectrometer (e.g. a calibration offset).
    Zero and empty: the sample sees the true bath."""

    temperature_degC: float = 0.0
    wt_pct: Mapping[str, float] = field(default_factory=dict)


NO_BIAS = ReadingBias()


@dataclass(frozen=True)
class AdditionEffect:
    """What one addition does: the fraction of each element that ends in the steel (0..1), the dissolved oxygen
    after it (ppm), the temperature drop it causes (degC) and, per element, the share of the recovered mass that
    has not dissolved yet (0..1; empty: all at once): it dissolves while the heat holds (``HoldEffect``). What
    actually went in: ``delivered_kg`` (the feeder's real kg; None: the setpoint ``kg``) of a material whose true
    content is ``composition_wt_pct`` (wt% per element, e.g. this delivery lot's; None: the config's nominal
    composition); ``recovery`` then covers the elements of that content."""

    recovery: Mapping[str, float]
    oxygen_ppm: float
    chill_degC: float
    undissolved_share: Mapping[str, float] = field(default_factory=dict)
    delivered_kg: float | None = None
    composition_wt_pct: Mapping[str, float] | None = None


@dataclass(frozen=True)
class HoldEffect:
    """What ``minutes`` of waiting do: temperature lost (degC), the dissolved oxygen after (ppm), the mass of
    each element the bath loses meanwhile (kg, e.g. Al fading as slag and air re-oxidise the steel) and the mass
    of each element's undissolved additions that dissolves meanwhile (kg, at most ``BathView.undissolved_kg``)."""

    loss_degC: float
    oxygen_ppm: float
    burnt_kg: Mapping[str, float] = field(default_factory=dict)
    dissolved_kg: Mapping[str, float] = field(default_factory=dict)


H = TypeVar("H", bound=HiddenState)  # each physics' own hidden parameters: what it draws, it is given back


@runtime_checkable
class Physics(Protocol[H]):
    """A plant's hidden physics (see module doc), generic in its own hidden state ``H``."""

    name: str
    practice: OperatorPractice

    def draw_hidden(self, rng: np.random.Generator, true_oxygen_ppm: float,
                    true_temperature_degC: float = 1586.0, planned_time: pd.Timestamp | None = None) -> H:
        """One heat's hidden parameters (drawn from the heat's own stream; the true arrival oxygen and
        temperature are given, so a physics may correlate its hidden state with them, and the heat's planned
        time, so it may depend on the shift or drift across the history; None: not known)."""
        ...

    def steel_weight_t(self, hidden: H, reported_t: float) -> float:
        """The heat's true steel weight (t) when the plant reports ``reported_t`` (the crane scale's figure, in the
        heat's context); ``reported_t`` itself: the plant weighs right."""
        ...

    def addition(self, hidden: H, bath: BathView, material: Material, kg: float,
                 trim: bool) -> AdditionEffect:
        """``kg`` (the setpoint) of ``material`` going into ``bath``; ``trim``: after the first sample (main
        additions: False)."""
        ...

    def arc_rise_degC(self, hidden: H, bath: BathView, kwh: float, energy: Energy) -> float:
        """Temperature rise of ``kwh`` of arc energy, before the losses of the arcing minutes."""
        ...

    def arc_pickup_kg(self, hidden: H, bath: BathView, kwh: float, arc_min: float) -> Mapping[str, float]:
        """Mass of each element the bath picks up while the arc burns ``arc_min`` minutes (kg, e.g. electrode
        carbon; empty: none); a negative mass is lost to the arc zone (e.g. Mn evaporated) and booked as burnt."""
        ...

    def hold(self, hidden: H, bath: BathView, minutes: float) -> HoldEffect:
        """``minutes`` of holding, stirring, arcing or sampling."""
        ...

    def reading_bias(self, hidden: H, bath: BathView) -> ReadingBias:
        """What a sample taken now reads beyond the true bath (``NO_BIAS``: nothing); the plant adds it to the
        true values before ``measure_temperature`` and ``measure_wt_pct``."""
        ...

    def lab_delay_min(self, hidden: H, bath: BathView) -> float:
        """Minutes a chemistry sample's result takes beyond the config's ``sampling.minutes_per_chemistry_sample``
        (0.0: none); the sample reads the bath when it is taken, the heat waits and cools until the result."""
        ...

    def measure_temperature(self, rng: np.random.Generator, true_degC: float) -> float:
        """A thermocouple dip."""
        ...

    def measure_wt_pct(self, rng: np.random.Generator, true_wt_pct: float) -> float:
        """A spectrometer reading of one element."""
        ...
