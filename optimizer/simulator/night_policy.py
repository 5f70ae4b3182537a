"""The night plan alone: a policy planned from expected arrival states, executed by today's operators.

The night before, only grade, time and weight are known; this wraps any planning policy so that it sees the
grade's expected arrival state (learned from history) instead of the heat's real arrival values. In the plant,
today's operators then follow the plan and trim with fixed yields after each intermediate sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from optimizer.schedule import HeatContext
from optimizer.simulator.policies import HeatPlan, Policy
from optimizer.stages.arrival import ExpectedArrival


@dataclass
class NightPlanPolicy:
    """``inner`` planned on expected arrival states (see module doc)."""

    inner: Policy
    arrival: ExpectedArrival
    name: str = "night plan"

    @property
    def fallbacks(self) -> list[str]:
        return list(getattr(self.inner, "fallbacks", []))

    def decide(self, context: HeatContext) -> HeatPlan:
        return self.decide_many([context])[0]

    def decide_many(self, contexts: Sequence[HeatContext]) -> list[HeatPlan]:
        return self.inner.decide_many([self.arrival.expect(c) for c in contexts])
