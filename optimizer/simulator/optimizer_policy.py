"""The optimizer as a simulator policy: surrogates trained on history, the dosing program decides each day.

Heats are planned one day at a time (the daily inventory is shared by that day's heats). Heats the program
finds infeasible get no setpoints from it; in closed-loop evaluation the operator then runs today's practice on
them, and their ids are kept (``fallbacks``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from optimizer.config import PlantConfig
from optimizer.dosing.model import DosingOptions
from optimizer.dosing.run import optimize_heats
from optimizer.schedule import HeatContext
from optimizer.schema import TEMPERATURE, element_of
from optimizer.simulator.history import simulate_history
from optimizer.simulator.policies import HeatPlan, Level2Policy
from optimizer.surrogates import train_surrogates
from optimizer.surrogates.surrogate import Surrogates


@dataclass
class OptimizerPolicy:
    """Plans heats with the dosing program over the given surrogates."""

    cfg: PlantConfig
    surrogates: Surrogates
    workers: int | None = None
    name: str = "optimizer"
    fallbacks: list[str] = field(default_factory=list)

    def decide(self, context: HeatContext) -> HeatPlan:
        """Plan one heat on its own."""
        return self.decide_many([context])[0]

    def decide_many(self, contexts: Sequence[HeatContext]) -> list[HeatPlan]:
        """Plan day by day (daily inventory is per day), in the order given."""
        days: dict[object, list[HeatContext]] = {}
        for c in contexts:
            days.setdefault(c.planned_time.date() if c.planned_time is not None else None, []).append(c)
        by_id: dict[str, HeatPlan] = {}
        for day_heats in days.values():
            by_id.update(zip([c.heat_id for c in day_heats], self._plan_day(day_heats), strict=True))
        return [by_id[c.heat_id] for c in contexts]

    def _plan_day(self, contexts: list[HeatContext]) -> list[HeatPlan]:
        result = optimize_heats(self.cfg, contexts, self.surrogates, DosingOptions(), workers=self.workers,
                                explain=False)
        baseline = Level2Policy(self.cfg)
        plans = []
        for ctx, r in zip(contexts, result.heats, strict=True):
            if not r.feasible:
                self.fallbacks.append(ctx.heat_id)
                plans.append(baseline.decide(ctx))
                continue
            aims = {el: p for o, (p, _, _) in r.predicted.items() if (el := element_of(o)) is not None}
            t = r.predicted.get(TEMPERATURE)
            plans.append(HeatPlan(r.additions_kg, r.arc_energy_kWh, r.n_samples, aims, t[0] if t else None,
                                  source=self.name))
        return plans


def optimizer_from_simulated_history(cfg: PlantConfig, history_heats: int = 2000, history_seed: int = 0,
                                     workers: int | None = None, physics: str | None = None) -> OptimizerPolicy:
    """Train surrogates on simulator history made by today's practice in the plant ``physics`` (default
    ``standard``), then optimize with them."""
    heats, _ = simulate_history(cfg, history_heats, history_seed, physics=physics)
    surrogates, _ = train_surrogates(cfg, heats)
    return OptimizerPolicy(cfg, surrogates, workers)
