"""Cost-versus-CO2 front: re-solve the schedule over a sweep of CO2 prices (weighted-sum scalarisation).

Each point reports the money cost *without* the CO2 charge and the CO2 emitted, so points are comparable;
dominated points (possible with MIP gaps) are flagged, not hidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from optimizer.config import PlantConfig
from optimizer.dosing.day import StageProgress
from optimizer.dosing.model import DosingOptions
from optimizer.dosing.run import optimize_heats
from optimizer.schedule import HeatContext
from optimizer.surrogates.surrogate import Surrogates

DEFAULT_CO2_PRICES = (0.0, 50.0, 100.0, 200.0, 400.0, 800.0)


@dataclass(frozen=True)
class ParetoPoint:
    """One solved scenario of the sweep."""

    co2_price_per_t: float
    cost: float
    co2_kg: float
    infeasible_heats: int
    dominated: bool = False


def pareto_front(cfg: PlantConfig, heats: Sequence[HeatContext], surrogates: Surrogates,
                 co2_prices: Sequence[float] = DEFAULT_CO2_PRICES, workers: int | None = None,
                 progress: StageProgress | None = None) -> list[ParetoPoint]:
    """Solve once per CO2 price; return points sorted by CO2 with dominated ones flagged. ``progress`` is
    :func:`optimize_heats`'s, its stage prefixed by the CO2 price."""
    points = []
    for price in co2_prices:
        res = optimize_heats(cfg, heats, surrogates, DosingOptions(co2_price_per_t=price), workers=workers,
                             explain=False, progress=_at_price(progress, price))
        ok = [h for h in res.heats if h.feasible]
        money = sum(h.money for h in ok)
        points.append(ParetoPoint(price, money, sum(h.co2_kg for h in ok), len(res.heats) - len(ok)))
    points.sort(key=lambda p: (p.co2_kg, p.cost))
    return [
        ParetoPoint(p.co2_price_per_t, p.cost, p.co2_kg, p.infeasible_heats,
                    dominated=any(q.cost < p.cost - 1e-6 and q.co2_kg <= p.co2_kg + 1e-6 for q in points))
        for p in points
    ]


def _at_price(progress: StageProgress | None, price: float) -> StageProgress | None:
    if progress is None:
        return None
    return lambda stage, done, heats: progress(f"CO2 price {price:g}: {stage}", done, heats)
