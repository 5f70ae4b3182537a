"""Price coordination of heats that share a daily inventory (Lagrangian relaxation of the stock constraint).

One joint MILP over all heats is hard when each heat carries tree binaries. Instead every heat is solved alone
with a shadow price lambda_m per kg of each scarce material added to its objective (not to its reported cost).
Raising lambda_m never raises a heat's optimal use of m, so per material a bracket-and-bisect search finds a
price at which the heats together fit the stock, re-solving only heats that still use m; the plan at that price
is feasible for the joint problem. While bisecting, a heat whose use is the same at both ends of the bracket
keeps its plan (it stays optimal in between), so only heats that switch are re-solved. The Lagrangian bound

    L(lambda) = sum_h min_x [cost_h(x) + lambda . use_h(x)] - lambda . stock

is a lower bound on the joint optimum (up to the per-heat MIP gaps), so ``duality_gap`` says how far from the
joint optimum the coordinated plan can be. Returns ``None`` when some heat fails to solve or no price within
the search makes the stock suffice; the caller then falls back to the joint MILP.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Plans = dict[str, Any]  # heat id -> HeatPlanResult
SolveHeats = Callable[[dict[str, float], list[str]], Plans]
TOL_KG = 1e-6
FIRST_STEP = 3.0  # first price tried, in unit prices of the material
GAP_TOL = 1e-3  # stop narrowing the price when the plan is this close to the Lagrangian bound
log = logging.getLogger(__name__)


@dataclass
class Coordinated:
    """The coordinated plans, the shadow prices (currency per kg) and how good they are."""

    plans: Plans
    prices: dict[str, float]
    cost: float
    bound: float
    evaluations: int
    resolved_heats: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def duality_gap(self) -> float:
        return (self.cost - self.bound) / abs(self.cost) if self.cost else 0.0


def use_kg(plans: Plans, material: str) -> float:
    return sum(p.additions_kg.get(material, 0.0) for p in plans.values())


def coordinate(stock_kg: dict[str, float], unit_price: dict[str, float], initial: Plans, solve_heats: SolveHeats,
               rounds: int = 3, bracket_steps: int = 10, bisect_steps: int = 6) -> Coordinated | None:
    """Find shadow prices that make ``initial`` (each heat's own optimum) fit ``stock_kg`` (see module doc)."""
    plans, prices = dict(initial), {m: 0.0 for m in stock_kg}
    state = {"evals": 0, "resolved": 0}

    def resolve(at: dict[str, float], base: Plans, material: str, upper: Plans | None = None) -> Plans | None:
        """Re-solve at prices ``at`` the heats of ``base`` (plans at a lower price of ``material``) that use it;
        with ``upper`` (plans at a higher price) only those whose use differs between the two: a heat using the
        same amount at both prices keeps its ``base`` plan, which stays optimal in between."""
        ids = [h for h, p in base.items() if p.additions_kg.get(material, 0.0) > TOL_KG
               and (upper is None or abs(p.additions_kg.get(material, 0.0)
                                         - upper[h].additions_kg.get(material, 0.0)) > TOL_KG)]
        state["evals"] += 1
        state["resolved"] += len(ids)
        new = solve_heats(at, ids) if ids else {}
        if any(not p.feasible for p in new.values()):
            return None
        plans = {**base, **new}
        log.debug("%s at %.4f per kg: %d heats re-solved, use %.0f kg", material, at[material], len(ids),
                  use_kg(plans, material))
        return plans

    for _ in range(rounds):
        short = [m for m in stock_kg if use_kg(plans, m) > stock_kg[m] + TOL_KG]
        if not short:
            break
        for m in short:
            found = _price_for(m, stock_kg[m], max(unit_price.get(m, 1.0), 1e-3), prices, plans, resolve,
                               bracket_steps, bisect_steps)
            if found is None:
                return None
            prices[m], plans = found
    if any(use_kg(plans, m) > stock_kg[m] + TOL_KG for m in stock_kg):
        return None
    cost = sum(p.cost for p in plans.values())
    bound = cost + sum(prices[m] * (use_kg(plans, m) - stock_kg[m]) for m in stock_kg)
    return Coordinated(plans, prices, cost, bound, state["evals"], state["resolved"])


def _price_for(m: str, stock: float, step: float, prices: dict[str, float], plans: Plans, resolve,  # noqa: ANN001
               bracket_steps: int, bisect_steps: int, gap_tol: float = GAP_TOL) -> tuple[float, Plans] | None:
    """Smallest price of ``m`` (to the search's tolerance) at which its use fits ``stock``: (price, plans).

    Bracket: raise the price from three unit prices, the bracket tripling, while the stock is still short
    (every heat still using ``m`` is re-solved at each step: these rounds cost most, so the bracket starts
    high and grows fast; the bisection after it re-solves few heats). A ceiling price tried first, to skip
    heats whose use it does not change, was slower: the kept models then warm-start from far-off plans.
    Then bisect, re-solving only heats whose use differs at the two ends. Stop when the plan at the upper end
    is within ``gap_tol`` of the Lagrangian bound (its unused stock times its price, relative to its cost):
    closer than the heats' own MIP gaps is noise.
    (Regula falsi instead of bisection was tried: the total use is flat at high prices, so it crept down from
    the upper end and re-solved more heats, 876 against 683 on the 200-heat benchmark.)"""
    lo, lo_plans = prices[m], plans
    hi, hi_plans = lo + FIRST_STEP * step, None
    for _ in range(bracket_steps):
        hi_plans = resolve({**prices, m: hi}, lo_plans, m)
        if hi_plans is None:
            return None
        if use_kg(hi_plans, m) <= stock + TOL_KG:
            break
        lo, lo_plans, hi = hi, hi_plans, lo + 3 * (hi - lo)  # 3, 9, 21, 45 unit prices: the bracket triples
    else:
        return None
    for _ in range(bisect_steps):
        u_hi = use_kg(hi_plans, m)
        cost_hi = sum(p.cost for p in hi_plans.values())
        if hi * (stock - u_hi) <= gap_tol * abs(cost_hi) or hi - lo <= 1e-6 * max(1.0, hi):
            break
        mid = 0.5 * (lo + hi)
        if not math.isfinite(mid):
            break
        mid_plans = resolve({**prices, m: mid}, lo_plans, m, upper=hi_plans)
        if mid_plans is None:
            return None
        if use_kg(mid_plans, m) <= stock + TOL_KG:
            hi, hi_plans = mid, mid_plans
        else:
            lo, lo_plans = mid, mid_plans
    return hi, hi_plans
