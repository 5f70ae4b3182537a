"""What a heat looks like between two decisions, and what a decision says: the types the heat-by-heat advisor,
the plant simulator and the plant connectors share.

A heat at the ladle furnace is a sequence: the arrival sample (sample 0), then stages. A stage is what happens
between two samples: additions at its start, holding and stirring, arc heating, then the sample that ends it.
After every sample a controller (today's operator, or the advisor) either finishes the heat (the last sample is
the final measurement and the heat goes to the caster) or orders one more stage.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import pandas as pd

Closing = Literal["sample", "dip"]
CLOSINGS: tuple[Closing, ...] = ("sample", "dip")


@dataclass(frozen=True)
class Sample:
    """One measurement of the bath: a temperature dip and a chemistry sample (wt%). An empty ``wt_pct`` is a
    temperature dip alone (no chemistry sample was taken)."""

    sample_no: int
    minutes_from_start: float
    temperature_degC: float
    wt_pct: Mapping[str, float]

    @property
    def is_dip(self) -> bool:
        """A temperature dip without a chemistry sample."""
        return not self.wt_pct


@dataclass(frozen=True)
class StageRecord:
    """What was done in one stage: additions at its start (kg), arc energy (kWh) and arc time (min)."""

    additions_kg: Mapping[str, float]
    arc_energy_kWh: float
    arc_time_min: float = 0.0


@dataclass(frozen=True)
class HeatState:
    """What the plant knows about a heat at a decision: its context, every sample so far (``samples[0]`` is the
    arrival) and the stages done (``len(stages) == len(samples) - 1``). ``decision_minutes_from_start`` is when
    the decision is asked (the lab result's arrival); a sample reads the bath when it is taken, and the heat has
    cooled and waited since (``waited_min``). NaN: at the last sample's time."""

    heat_id: str
    grade: str
    steel_weight_t: float
    samples: tuple[Sample, ...]
    stages: tuple[StageRecord, ...] = ()
    oxygen_ppm: float = math.nan
    slag_feo_wt_pct: float = math.nan
    planned_time: pd.Timestamp | None = None
    decision_minutes_from_start: float = math.nan

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError(f"heat {self.heat_id}: a heat state needs at least the arrival sample")
        if len(self.stages) != len(self.samples) - 1:
            raise ValueError(f"heat {self.heat_id}: {len(self.samples)} samples need {len(self.samples) - 1} "
                             f"stages before them, got {len(self.stages)}")
        if self.decision_minutes_from_start < self.last.minutes_from_start:  # NaN compares False: not given
            raise ValueError(f"heat {self.heat_id}: decision_minutes_from_start {self.decision_minutes_from_start} "
                             f"is before the last sample (minutes_from_start {self.last.minutes_from_start})")

    @property
    def waited_min(self) -> float:
        """Minutes from the last sample to this decision (0 when the decision time is not given)."""
        if math.isnan(self.decision_minutes_from_start):
            return 0.0
        return self.decision_minutes_from_start - self.last.minutes_from_start

    @property
    def last(self) -> Sample:
        """The latest sample."""
        return self.samples[-1]

    @property
    def n_stages(self) -> int:
        """Stages done (= samples taken after arrival)."""
        return len(self.stages)

    @property
    def n_chemistry_samples(self) -> int:
        """Chemistry samples taken after arrival (dips alone not counted)."""
        return sum(not s.is_dip for s in self.samples[1:])

    def added_kg(self) -> dict[str, float]:
        """Total additions so far, per material (kg)."""
        out: dict[str, float] = {}
        for st in self.stages:
            for m, kg in st.additions_kg.items():
                out[m] = out.get(m, 0.0) + kg
        return out

    def energy_kWh(self) -> float:
        """Arc energy so far (kWh)."""
        return sum(st.arc_energy_kWh for st in self.stages)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> HeatState:
        """Parse a ``dosing advise`` input line; ValueError names the field and why."""
        if not isinstance(raw, Mapping):
            raise ValueError(f"a heat state is a JSON object, got {type(raw).__name__}")
        for key in ("heat_id", "grade", "steel_weight_t", "samples"):
            if key not in raw:
                raise ValueError(f"field {key!r} is missing (needed: heat_id, grade, steel_weight_t, samples)")
        samples = tuple(_sample(i, s) for i, s in enumerate(_list(raw, "samples")))
        stages = tuple(_stage(i, s) for i, s in enumerate(_list(raw, "stages", required=False)))
        when = raw.get("planned_time")
        return cls(str(raw["heat_id"]), str(raw["grade"]), _number(raw, "steel_weight_t", 5.0, 500.0), samples,
                   stages, oxygen_ppm=_optional(raw, "oxygen_ppm", 0.0, 2000.0),
                   slag_feo_wt_pct=_optional(raw, "slag_feo_wt_pct", 0.0, 60.0),
                   planned_time=None if when is None else pd.Timestamp(when),
                   decision_minutes_from_start=_optional(raw, "decision_minutes_from_start", 0.0, 600.0))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``dosing advise`` input line)."""
        return {
            "heat_id": self.heat_id, "grade": self.grade, "steel_weight_t": self.steel_weight_t,
            "oxygen_ppm": None if math.isnan(self.oxygen_ppm) else self.oxygen_ppm,
            "slag_feo_wt_pct": None if math.isnan(self.slag_feo_wt_pct) else self.slag_feo_wt_pct,
            "planned_time": None if self.planned_time is None else pd.Timestamp(self.planned_time).isoformat(),
            "decision_minutes_from_start": None if math.isnan(self.decision_minutes_from_start)
            else self.decision_minutes_from_start,
            "samples": [{"sample_no": s.sample_no, "minutes_from_start": s.minutes_from_start,
                         "temperature_degC": s.temperature_degC, "wt_pct": dict(s.wt_pct)} for s in self.samples],
            "stages": [{"additions_kg": dict(st.additions_kg), "arc_energy_kWh": st.arc_energy_kWh,
                        "arc_time_min": st.arc_time_min} for st in self.stages],
        }


def _list(raw: Mapping[str, Any], key: str, required: bool = True) -> list[Any]:
    v = raw.get(key, None if required else [])
    if not isinstance(v, list):
        raise ValueError(f"field {key!r} must be a list, got {type(v).__name__}")
    return v


def _number(raw: Mapping[str, Any], key: str, low: float, high: float, where: str = "") -> float:
    v = raw.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ValueError(f"{where}{key}: must be a finite number, got {v!r}")
    if not low <= v <= high:
        raise ValueError(f"{where}{key}: {v} is outside the plausible range {low:g}..{high:g}")
    return float(v)


def _optional(raw: Mapping[str, Any], key: str, low: float, high: float) -> float:
    return math.nan if raw.get(key) is None else _number(raw, key, low, high)


def _sample(i: int, raw: Any) -> Sample:
    where = f"samples[{i}]."
    if not isinstance(raw, Mapping):
        raise ValueError(f"samples[{i}] must be an object")
    wt = raw.get("wt_pct", {})
    if not isinstance(wt, Mapping):
        raise ValueError(f"{where}wt_pct must be an object element -> wt%")
    return Sample(int(raw.get("sample_no", i)), _number(raw, "minutes_from_start", 0.0, 600.0, where),
                  _number(raw, "temperature_degC", 1450.0, 1750.0, where),
                  {str(el): _number(wt, el, 0.0, 30.0, f"{where}wt_pct.") for el in wt})


def _stage(i: int, raw: Any) -> StageRecord:
    where = f"stages[{i}]."
    if not isinstance(raw, Mapping):
        raise ValueError(f"stages[{i}] must be an object")
    adds = raw.get("additions_kg", {})
    if not isinstance(adds, Mapping):
        raise ValueError(f"{where}additions_kg must be an object material -> kg")
    return StageRecord({str(m): _number(adds, m, 0.0, 20000.0, f"{where}additions_kg.") for m in adds},
                       _number(raw, "arc_energy_kWh", 0.0, 50000.0, where),
                       _number(raw, "arc_time_min", 0.0, 300.0, where) if "arc_time_min" in raw else 0.0)


@dataclass(frozen=True)
class StageDecision:
    """What to do next with a heat.

    ``finish``: the last sample is the final measurement, the heat leaves (nothing else is set). Otherwise one
    more stage: add ``additions_kg`` now, hold ``hold_min`` (a heat too hot waits), stir ``stir_min``, heat with
    ``arc_energy_kWh``, then measure: ``closing`` is ``"sample"`` (chemistry sample and temperature dip) or
    ``"dip"`` (a temperature dip alone: the chemistry is already in window and the stage adds nothing).
    ``predicted`` holds the expected state after the stage with its 90 %
    interval (outcome -> (mean, low, high)); ``flags`` name anything outside what the history supports;
    ``reason`` says why, in words.
    """

    finish: bool
    additions_kg: Mapping[str, float] = field(default_factory=dict)
    arc_energy_kWh: float = 0.0
    hold_min: float = 0.0
    stir_min: float = 0.0
    predicted: Mapping[str, tuple[float, float, float]] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    reason: str = ""
    source: str = ""
    p_finish: float = math.nan  # probability that the sample closing this stage lets the heat finish
    closing: Closing = "sample"

    def __post_init__(self) -> None:
        if self.closing not in CLOSINGS:
            raise ValueError(f"closing must be one of {CLOSINGS}, got {self.closing!r}")
        if self.closing == "dip" and any(kg > 0 for kg in self.additions_kg.values()):
            raise ValueError("a stage closed by a temperature dip alone adds no material (its chemistry is not "
                             "measured)")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``dosing advise`` output line)."""
        return {"finish": self.finish, "additions_kg": {m: kg for m, kg in self.additions_kg.items() if kg > 0},
                "arc_energy_kWh": self.arc_energy_kWh, "hold_min": self.hold_min, "stir_min": self.stir_min,
                "closing": self.closing,
                "predicted": {k: list(v) for k, v in self.predicted.items()}, "flags": list(self.flags),
                "reason": self.reason, "source": self.source,
                "p_finish": None if math.isnan(self.p_finish) else self.p_finish}


@runtime_checkable
class HeatController(Protocol):
    """Decides a heat stage by stage: on its arrival, then after every sample."""

    def on_arrival(self, state: HeatState) -> StageDecision: ...

    def on_sample(self, state: HeatState) -> StageDecision: ...
