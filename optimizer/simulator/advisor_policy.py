"""The heat-by-heat advisor as a simulator policy: every heat is decided on arrival and after each sample."""

from __future__ import annotations

from dataclasses import dataclass, field

from optimizer.advisor import Advisor, advisor_from_history
from optimizer.config import PlantConfig
from optimizer.schedule import HeatContext
from optimizer.simulator.history import simulate_history
from optimizer.stages.state import HeatController


@dataclass
class AdvisorPolicy:
    """Gives every heat the advisor as its controller (the advisor keeps no per-heat state)."""

    advisor: Advisor
    name: str = "advisor"
    fallbacks: list[str] = field(default_factory=list)

    def controller(self, context: HeatContext) -> HeatController:
        return self.advisor


def advisor_from_simulated_history(cfg: PlantConfig, history_heats: int = 2000, history_seed: int = 0,
                                   physics: str | None = None, residual: bool = False,
                                   **_: object) -> AdvisorPolicy:
    """Stage models learned from history that today's practice made in the simulated plant ``physics``, then the
    advisor decides (it never sees the physics, only the history's heat and sample tables). ``residual``: with
    the learned stage residuals."""
    heats, samples = simulate_history(cfg, history_heats, history_seed, physics=physics)
    return AdvisorPolicy(advisor_from_history(cfg, heats, samples, residual=residual))
