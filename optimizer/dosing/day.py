"""The day plan: the one state every planning stage reads and returns (optimizer/dosing/run.py runs them)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from optimizer.config import PlantConfig
from optimizer.dosing.model import DosingOptions
from optimizer.dosing.pool import NO_ANSWER, HeatPool
from optimizer.dosing.results import ROUNDING_FAILED, HeatPlanResult, Timings
from optimizer.schedule import HeatContext
from optimizer.surrogates.surrogate import Surrogates

StageProgress = Callable[[str, int, int], None]  # (stage, heats answered in this batch, heats in the batch)


@dataclass
class DayPlan:
    """A schedule being planned: its inputs, the heat pool serving the solves, and what the stages found so far.

    ``alone`` are the options of a heat solved on its own (no inventory); ``outside`` the context values, per
    heat, the surrogates never saw (refused heats); ``results`` the current result of every heat; ``lowered``
    the confidence of heats planned below their grade's (the inventory stage keeps them there)."""

    cfg: PlantConfig
    heats: Sequence[HeatContext]
    surrogates: Surrogates
    opts: DosingOptions
    explain: bool
    pool: HeatPool
    outside: dict[str, list[str]] = field(default_factory=dict)
    results: dict[str, HeatPlanResult] = field(default_factory=dict)
    lowered: dict[str, float] = field(default_factory=dict)
    joint: bool = False
    coordination: dict = field(default_factory=dict)  # shadow prices and duality gap when price-coordinated
    timings: Timings = field(default_factory=Timings)
    started: float = field(default_factory=time.perf_counter)
    progress: StageProgress | None = None  # told of every heat answered, per stage (run.py names the stage)
    stage: str = ""

    def on_answer(self, heats: int) -> Callable[[str], None] | None:
        """The pool's per-heat callback for a batch of ``heats`` in the current stage (None: nobody watches)."""
        if self.progress is None:
            return None
        report, stage, done = self.progress, self.stage, [0]

        def answered(heat_id: str) -> None:
            done[0] += 1
            report(stage, done[0], heats)

        return answered

    @property
    def alone(self) -> DosingOptions:
        return DosingOptions(co2_price_per_t=self.opts.co2_price_per_t, inventory=False)

    @property
    def inside(self) -> list[HeatContext]:
        """Heats within the surrogates' data (the ones that are planned)."""
        return [h for h in self.heats if not self.outside.get(h.heat_id)]

    def unplanned(self) -> list[HeatContext]:
        """Heats inside the data with no plan yet, worth searching or diagnosing (module doc of confidence.py)."""
        return [h for h in self.inside if unplanned(self.results[h.heat_id])]

    def solve(self, heats: list[HeatContext], opts: DosingOptions, explain: bool) -> dict[str, HeatPlanResult]:
        """Solve ``heats`` in the heat pool, their time tallied."""
        found = self.pool.solve(heats, opts, explain, on_answer=self.on_answer(len(heats)))
        self.timings.add(found.values())
        return found


def unplanned(r: HeatPlanResult) -> bool:
    """No plan, and worth searching or diagnosing: a heat the watchdog gave up on (NO_ANSWER) would only stall
    again; its result already says why. Nor one whose solution had no feeder setpoints inside the hard limits
    (rounding.py): its diagnosis says which."""
    return not r.feasible and r.status not in (NO_ANSWER, ROUNDING_FAILED)
