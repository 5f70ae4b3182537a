"""What planning returns: one heat's plan (or why it has none) and the whole day's result."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from optimizer.costs import money
from optimizer.dosing.exactness import ModelCheck
from optimizer.dosing.rounding import RoundingCheck

ROUNDING_FAILED = "no feeder setpoints inside the hard limits"
"""Status of a heat whose solution has no feeder setpoints near it inside every hard limit (rounding.py)."""


@dataclass
class Timings:
    """Time per phase, in s: CPU time of the model build, the solve call, HiGHS's own run inside it, the
    extraction and the diagnoses, summed over solves (also discarded trial solves; a joint solve's time split
    evenly over its heats); ``wall`` is the whole run's wall time (a day's result only)."""

    build: float = 0.0
    solve: float = 0.0
    highs: float = 0.0
    extract: float = 0.0
    diagnose: float = 0.0
    wall: float = 0.0

    def add(self, results: Iterable[HeatPlanResult]) -> None:
        """Add the time of every solve behind ``results``."""
        for r in results:
            for f in fields(self):
                setattr(self, f.name, getattr(self, f.name) + getattr(r.timings, f.name))


@dataclass
class HeatPlanResult:
    """One heat's solution (or diagnosis) plus the explanation figures."""

    heat_id: str
    feasible: bool
    additions_kg: dict[str, float] = field(default_factory=dict)
    arc_energy_kWh: float = 0.0
    n_samples: int = 0
    predicted: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    cost: float = 0.0
    material_cost: float = 0.0
    energy_cost: float = 0.0
    sampling_cost: float = 0.0
    co2_kg: float = 0.0
    gap: float = math.nan
    status: str = ""
    binding: list[str] = field(default_factory=list)
    marginal: dict[str, float] = field(default_factory=dict)
    # dual of the day's stock row per material (currency per kg), when the stock was in this heat's program
    inventory_price_per_kg: dict[str, float] = field(default_factory=dict)
    diagnosis: str = ""
    timings: Timings = field(default_factory=Timings)
    confidence: float = math.nan  # each limit is held with this probability (the grade's, or lower: confidence.py)
    model_check: ModelCheck | None = None  # the embedded models re-predicted at the plan (exactness.py)
    rounding: RoundingCheck | None = None  # the feeder setpoints re-predicted and re-checked (rounding.py)

    @property
    def money(self) -> float:
        """What the plant pays for the plan, without the internal CO2 charge (optimizer/costs.py)."""
        return money(self.material_cost, self.energy_cost, self.sampling_cost)


@dataclass
class DosingResult:
    """All heats' results, how they were solved and the time spent in each phase (s)."""

    heats: list[HeatPlanResult]
    joint: bool
    status: str
    max_gap: float
    timings: Timings = field(default_factory=Timings)
    coordination: dict = field(default_factory=dict)  # shadow prices and duality gap when price-coordinated

    @property
    def total_cost(self) -> float:
        return sum(h.cost for h in self.heats if h.feasible)

    @property
    def total_co2_kg(self) -> float:
        return sum(h.co2_kg for h in self.heats if h.feasible)

    @property
    def shadow_price_per_kg(self) -> dict[str, float]:
        """The day's shadow price of each scarce material (currency per kg): what one more kg of its stock would
        save the day's plan. From the price coordination when the heats were coordinated, else the dual of the
        stock row of the joint program (binaries fixed, LP re-solve: ``marginal_costs``). Empty when every plan
        fits the stock on its own (no material is scarce at the expected arrival) or the run was not explained."""
        if self.coordination:
            return {m: float(p) for m, p in self.coordination["prices_per_kg"].items() if p > 0}
        out: dict[str, float] = {}
        for h in self.heats:
            for m, p in h.inventory_price_per_kg.items():
                if h.feasible and p > 0:
                    out[m] = max(out.get(m, 0.0), p)
        return out
