"""The night plan as the day's plan: expected materials and arc energy for the day, with ranges, and inventory risk.

The point plan decides every heat from its expected arrival state. The real arrival is known only when the heat
arrives, and the heat is then dosed for it (by the advisor, or by tomorrow's plan). How much the day will use is
therefore a spread, not a number. It is found by propagating the arrival spread through the same program:

1. per heat, ``draws`` arrival states: for a heat whose arrival the schedule left out, whole arrival states of
   random history heats of its grade (chemistry, temperature and oxygen together: their correlations are kept);
   for a heat whose schedule gives the arrival, the given values with normal noise of their ``sd_`` columns
   (none given: no spread);
2. each drawn heat solved alone by the night's program (same surrogates, windows, confidence and sample choice),
   the night's shadow prices of scarce materials in its objective: the plan the heat would get if it arrived so,
   with the stock priced in as the advisor prices it;
3. ``days`` days drawn by picking one solved draw per heat at random (heats arrive independently) and summing:
   per material and for the energy the day's mean and quantiles, and the share of days whose need exceeds the
   stock. A material whose high quantile exceeds its stock is at risk.

Drawn states for which the program has no plan (the arrival is outside what the grade's window allows at its
confidence) are counted in ``no_plan_draws`` and left out of the sums: the range is then a lower bound for
those heats. It is the use of the plans; trims beyond a plan (when a sample misses) are not in it.
"""

from __future__ import annotations

import math
import multiprocessing as mp
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from optimizer.config import PlantConfig
from optimizer.dosing.model import DosingOptions
from optimizer.dosing.pool import HeatPool
from optimizer.dosing.results import DosingResult, HeatPlanResult
from optimizer.recommendation import DayUse, MaterialUse, UseRange
from optimizer.schedule import HeatContext
from optimizer.schema import element_col

QUANTILES = (0.1, 0.9)
DRAWS_PER_HEAT = 20
DAYS = 4000
METHOD = ("each heat solved alone by the night's program for {draws} arrival states drawn from its grade's "
          "history heats (or the schedule's values with their sd), scarce materials at the night's shadow price; "
          "{days} days of one draw per heat summed")


class ArrivalDraws(Protocol):
    """Arrival states a planned heat may have (e.g. ``optimizer.stages.arrival.HistoryArrivals``)."""

    def draw(self, context: HeatContext, n: int, rng: np.random.Generator) -> list[HeatContext]: ...


def spread_draws(context: HeatContext, n: int, rng: np.random.Generator) -> list[HeatContext]:
    """``n`` copies of a heat whose arrival is given, each value with normal noise of its sd (from ``context.sd``,
    keyed like the schedule's columns: ``initial_<El>_wt_pct``, ``initial_temperature_degC``). Without any sd
    the arrival has no spread: one copy (``n`` identical solves would cost time and show nothing)."""
    out = []
    if not any(v > 0 for v in context.sd.values()):
        n = min(n, 1)
    for k in range(n):
        chem = {el: max(v + rng.normal(0.0, context.sd.get(element_col("initial", el), 0.0)), 0.0)
                for el, v in context.initial_wt_pct.items()}
        temp = context.initial_temperature_degC + rng.normal(0.0, context.sd.get("initial_temperature_degC", 0.0))
        oxy = context.initial_oxygen_ppm
        if math.isfinite(oxy):
            oxy = max(oxy + rng.normal(0.0, context.sd.get("initial_oxygen_ppm", 0.0)), 0.0)
        out.append(replace(context, heat_id=f"{context.heat_id}#{k}", initial_wt_pct=chem,
                           initial_temperature_degC=temp, initial_oxygen_ppm=oxy, sd={}))
    return out


def expected_day_use(cfg: PlantConfig, heats: Sequence[HeatContext], surrogates: Any, point: DosingResult,
                     arrivals: ArrivalDraws, forecast: Collection[str], draws: int = DRAWS_PER_HEAT,
                     days: int = DAYS, seed: int = 0, workers: int = 0,
                     shadow_price_per_kg: Mapping[str, float] | None = None) -> DayUse:
    """The day's expected use with ranges and its inventory risks (module doc). ``forecast``: ids of the heats
    whose arrival is the grade's expectation (drawn from ``arrivals``); the others are drawn with
    :func:`spread_draws`. Heats the point plan refused as outside the models' data are not drawn."""
    rng = np.random.default_rng(seed)
    if mp.current_process().daemon:  # e.g. a Dask worker: daemonic processes may not start children
        workers = 0
    prices = dict(point.shadow_price_per_kg if shadow_price_per_kg is None else shadow_price_per_kg)
    results = {r.heat_id: r for r in point.heats}
    drawn: dict[str, list[HeatContext]] = {}
    for h in heats:
        if results[h.heat_id].status == "outside the models' data":
            continue
        drawn[h.heat_id] = (arrivals.draw(h, draws, rng) if h.heat_id in forecast else spread_draws(h, draws, rng))
    opts = DosingOptions(inventory=False, shadow_price_per_kg=prices)
    with HeatPool(cfg, surrogates, workers, keep_models=False) as pool:
        found = pool.solve([c for cs in drawn.values() for c in cs], opts, explain=False)
    names = cfg.material_names
    use: dict[str, np.ndarray] = {}
    no_plan = 0
    for hid, cs in drawn.items():
        ok = [found[c.heat_id] for c in cs if found[c.heat_id].feasible]
        no_plan += len(cs) - len(ok)
        if ok:
            use[hid] = np.array([_row(r, names) for r in ok])
    total = np.zeros((days, len(names) + 1))
    for rows in use.values():
        total += rows[rng.integers(0, len(rows), days)]
    plan = np.sum([_row(r, names) for r in point.heats if r.feasible], axis=0) if any(
        r.feasible for r in point.heats) else np.zeros(len(names) + 1)
    return _summary(cfg, total, plan, draws, days, no_plan)


def _row(r: HeatPlanResult, names: list[str]) -> list[float]:
    return [r.additions_kg.get(m, 0.0) for m in names] + [r.arc_energy_kWh]


def _summary(cfg: PlantConfig, total: np.ndarray, plan: np.ndarray, draws: int, days: int,
             no_plan: int) -> DayUse:
    lo_q, hi_q = QUANTILES
    lows, highs = np.quantile(total, lo_q, axis=0), np.quantile(total, hi_q, axis=0)
    means = total.mean(axis=0)
    mats, risks = {}, []
    for i, mt in enumerate(cfg.materials):
        if plan[i] == 0 and highs[i] == 0:
            continue
        stock = mt.daily_inventory_kg if math.isfinite(mt.daily_inventory_kg) else None
        p_over = float(np.mean(total[:, i] > stock + 1e-6)) if stock is not None else 0.0
        at_risk = stock is not None and highs[i] > stock + 1e-6
        mats[mt.name] = MaterialUse(plan=float(plan[i]), expected=float(means[i]), low=float(lows[i]),
                                    high=float(highs[i]), stock=stock, p_over_stock=p_over, at_risk=at_risk)
        if at_risk:
            risks.append(f"{mt.name}: the day may need more than its stock: {lows[i]:,.0f}-{highs[i]:,.0f} kg "
                         f"({lo_q:.0%}-{hi_q:.0%}) against {stock:,.0f} kg, P(need > stock) = {p_over:.0%}")
    energy = UseRange(plan=float(plan[-1]), expected=float(means[-1]), low=float(lows[-1]), high=float(highs[-1]))
    return DayUse(quantiles=QUANTILES, draws_per_heat=draws, days_drawn=days, materials_kg=mats, energy_kWh=energy,
                  risks=risks, no_plan_draws=no_plan, method=METHOD.format(draws=draws, days=days))
