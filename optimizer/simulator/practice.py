"""How a plant's operators correct a heat after an intermediate sample: their trim and reheat rule.

This is plant practice, not physics: it is what a level-2 system and its operators do, so it may be read
and reported. Each plant physics names the practice of its operators (``Physics.practice``), so a simulated
plant changes its operators together with its physics.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OperatorPractice:
    """The trim and reheat rule of one plant's operators (see ``plant.PlanFollower``).

    ``trim_trigger``: an element measured below ``min + trim_trigger x (aim - min)`` is trimmed (0.25: only
    clear misses; 1.0: anything below the aim). ``aim_above_mid``: the operators' chemistry aim as a fraction
    of the window above mid-window (None: the plan's aim, else the grade's aim). ``fixed_yields`` per element
    (empty: the carrier's configured ``prior_recovery``). ``arc_efficiency`` and ``heat_loss_degC_per_min``:
    what the operators' heat balance assumes (None: the config's priors). ``sample_variation``: how history
    varies the plan's sample count (added to it, drawn uniformly per heat). ``finish_margin``: from the second
    sample on, the operators finish as soon as every constrained element and the temperature read inside their
    windows narrowed by this share of the width at each end (a one-sided limit by this share of itself; None:
    they finish after the plan's samples only). ``reheat_each_stage``: after a sample the next stage heats to the
    aim temperature at its own sample (False: the energy still needed is spread over the remaining stages).
    ``stir_min_per_heat``: the operators' stirring minutes over the plan's stages (None: the plant's 12 min).
    """

    name: str
    trim_trigger: float = 0.25
    aim_above_mid: float | None = None
    fixed_yields: dict[str, float] = field(default_factory=dict)
    arc_efficiency: float | None = None
    heat_loss_degC_per_min: float | None = None
    sample_variation: tuple[int, ...] = (-1, 0, 0, 1)
    finish_margin: float | None = None
    reheat_each_stage: bool = False
    stir_min_per_heat: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.trim_trigger <= 1.0:
            raise ValueError(f"practice {self.name}: trim_trigger must be in [0, 1], got {self.trim_trigger}")
        bad = {el: y for el, y in self.fixed_yields.items() if not 0.0 < y <= 1.0}
        if bad:
            raise ValueError(f"practice {self.name}: fixed yields must be in (0, 1], got {bad}")
        if self.finish_margin is not None and not 0.0 <= self.finish_margin < 0.5:
            raise ValueError(f"practice {self.name}: finish_margin must be in [0, 0.5), got {self.finish_margin}")
        if self.stir_min_per_heat is not None and not 0.0 <= self.stir_min_per_heat <= 60.0:
            raise ValueError(f"practice {self.name}: stir_min_per_heat must be in [0, 60] min, got "
                             f"{self.stir_min_per_heat}")
        if not self.sample_variation:
            raise ValueError(f"practice {self.name}: sample_variation needs at least one entry")


TODAY = OperatorPractice("today")  # the shipped plant's level-2 trims (config yields, plan aims, clear misses only)
