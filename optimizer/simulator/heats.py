"""Draw the heats that arrive at the ladle furnace: grade, weight, chemistry after tapping, temperature, oxygen.

Heat ``k`` of a run with seed ``s`` is drawn from its own stream ``(s, k)``, so it is identical whatever
policy is later applied to it. History uses stream 0 of the seed, evaluation heats stream 1, so fresh
evaluation heats never repeat history heats for the same seed. The physics (by name, default ``standard``)
draws each heat's hidden parameters and travels with the heat, so the plant simulates the heat by the laws
it was drawn for; a heat's grade, weight and true arrival state do not depend on the physics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimizer.config import PlantConfig
from optimizer.schedule import HeatContext
from optimizer.schema import element_col
from optimizer.simulator._physics import StandardPhysics
from optimizer.simulator.physics import HiddenState, Physics
from optimizer.simulator.physics_registry import get_physics

HISTORY_STREAM, EVALUATION_STREAM = 0, 1
DEFAULT_START = pd.Timestamp("2026-01-05T06:00:00Z")

# chemistry after tapping (wt%), uniform ranges; C depends on the grade's family
_TAP_RANGES = {"Mn": (0.05, 0.15), "Si": (0.005, 0.02), "Al": (0.001, 0.004), "P": (0.008, 0.016),
               "S": (0.006, 0.015), "Cr": (0.02, 0.06), "Ni": (0.02, 0.06), "Cu": (0.05, 0.12)}


@dataclass(frozen=True)
class SimHeat:
    """A heat as the plant sees it (context, measured) and as it really is (true initial state, hidden, and the
    physics that drew the hidden parameters and simulates the heat)."""

    context: HeatContext
    true_initial_wt_pct: dict[str, float]
    true_initial_temperature_degC: float
    hidden: HiddenState
    physics: Physics = field(default_factory=StandardPhysics, repr=False, compare=False)


def heat_rng(seed: int, stream: int, index: int) -> np.random.Generator:
    """The random stream of one heat."""
    return np.random.default_rng([seed, stream, index])


def draw_heats(cfg: PlantConfig, n_heats: int, seed: int, stream: int = HISTORY_STREAM,
               start: pd.Timestamp = DEFAULT_START, grades: Sequence[str] | None = None,
               physics: str | Physics | None = None) -> list[SimHeat]:
    """``n_heats`` heats, one every 45-60 minutes from ``start``; ``grades`` restricts the grade mix to those
    grades (shares renormalised; unknown name -> UnknownGradeError listing the known grades); ``physics`` names
    the plant (default ``standard``; unknown name -> ValueError listing the names)."""
    if isinstance(n_heats, bool) or not isinstance(n_heats, int | np.integer) or n_heats <= 0:
        raise ValueError(f"the number of heats must be positive, got {n_heats!r}")
    phys = get_physics(physics)
    shares = grade_shares(cfg, grades)
    gaps = np.random.default_rng([seed, stream, 10**9]).uniform(45, 60, size=n_heats)
    times = (start + pd.to_timedelta(np.cumsum(gaps) - gaps[0], unit="min")).floor("s")
    prefix = "H" if stream == HISTORY_STREAM else "E"
    return [_draw_one(cfg, heat_rng(seed, stream, k), f"{prefix}{k:06d}", times[k], shares, phys)
            for k in range(n_heats)]


def grade_shares(cfg: PlantConfig, grades: Sequence[str] | None = None) -> np.ndarray:
    """Probability of each config grade (in config order) in the simulated mix."""
    keep = {cfg.grade(g).name for g in grades} if grades else set(cfg.grade_names)
    shares = np.array([g.share if g.name in keep else 0.0 for g in cfg.grades], dtype=float)
    if shares.sum() <= 0:  # all shares 0 in the config (allowed): equal mix of the kept grades
        shares = np.array([1.0 if g.name in keep else 0.0 for g in cfg.grades])
    return shares / shares.sum()


def _draw_one(cfg: PlantConfig, rng: np.random.Generator, heat_id: str, when: pd.Timestamp,
              shares: np.ndarray, physics: Physics) -> SimHeat:
    grade = cfg.grades[int(rng.choice(len(cfg.grades), p=shares))]
    lo, hi = cfg.plant.steel_weight_range_t
    weight = float(np.clip(rng.normal(cfg.plant.nominal_steel_weight_t, 0.05 * cfg.plant.nominal_steel_weight_t),
                           lo, hi))
    true = {el: float(rng.uniform(*_TAP_RANGES.get(el, (0.0, 0.01)))) for el in cfg.elements}
    if "C" in true:
        c = grade.chemistry_wt_pct.get("C")
        c_max = c.max if c is not None and c.max is not None else 0.2
        true["C"] = float(rng.uniform(0.35, 0.8) * c_max if c_max > 0.3 else rng.uniform(0.25, 0.55) * c_max)
    temp = float(np.clip(rng.normal(1586.0, 12.0), 1545.0, 1625.0))
    oxygen = float(np.clip(rng.lognormal(np.log(380.0), 0.35), 120.0, 1200.0))
    hidden = physics.draw_hidden(rng, oxygen, temp, planned_time=when)
    measured = {el: float(max(0.0, v + rng.normal(0, 0.02 * v + 0.0005))) for el, v in true.items()}
    ctx = HeatContext(
        heat_id=heat_id, grade=grade.name, steel_weight_t=round(weight, 2),
        initial_wt_pct={k: round(v, 5) for k, v in measured.items()},
        initial_temperature_degC=round(temp + float(rng.normal(0, 2.5)), 1),
        initial_oxygen_ppm=round(oxygen * float(np.exp(rng.normal(0, 0.08))), 1),
        planned_time=when,
    )
    return SimHeat(ctx, true, temp, hidden, physics)


def schedule_frame(cfg: PlantConfig, heats: list[SimHeat]) -> pd.DataFrame:
    """The heats' decision-time context as a schedule file (input of ``dosing optimize``)."""
    rows = []
    for h in heats:
        c = h.context
        row = {"heat_id": c.heat_id, "planned_time": c.planned_time, "grade": c.grade,
               "steel_weight_t": c.steel_weight_t}
        row.update({element_col("initial", el): c.initial_wt_pct[el] for el in cfg.elements})
        row.update({"initial_temperature_degC": c.initial_temperature_degC, "initial_oxygen_ppm": c.initial_oxygen_ppm})
        rows.append(row)
    return pd.DataFrame(rows)
