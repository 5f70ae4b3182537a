"""Optimize a schedule: stages over one day plan (optimizer/dosing/day.py), each taking it and returning it.

1. ``first_pass``: each heat alone (no inventory), in the heat pool; heats outside the models' data refused.
2. ``confidence_search``: heats with no plan at their grade's confidence, at the highest the grade accepts.
3. ``diagnose_unplanned``: heats still without plan get a diagnosis, no setpoints.
4. ``plan_inventory``: if the plans together exceed a daily inventory, the feasible heats planned together
   (price coordination or one joint program).
5. ``summarize``: the :class:`DosingResult`; ``to_recommendation`` makes it a :class:`Recommendation`.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Sequence

from optimizer.config import PlantConfig
from optimizer.dosing.confidence import confidence_search
from optimizer.dosing.day import DayPlan, StageProgress
from optimizer.dosing.first_pass import first_pass, outside_domain
from optimizer.dosing.inventory import hard_joint, plan_inventory
from optimizer.dosing.model import DosingOptions
from optimizer.dosing.pool import HeatPool
from optimizer.dosing.results import DosingResult
from optimizer.dosing.summary import summarize
from optimizer.dosing.unplanned import diagnose_unplanned
from optimizer.schedule import HeatContext
from optimizer.surrogates.surrogate import Surrogates

STAGES = (first_pass, confidence_search, diagnose_unplanned, plan_inventory)
STAGE_NAMES = {first_pass: "solve each heat", confidence_search: "search a lower confidence",
               diagnose_unplanned: "diagnose heats without a plan", plan_inventory: "plan against the inventory"}
MIN_HEATS_FOR_WORKERS = 8  # fewer heats are solved inline (starting processes costs more than it saves)


def optimize_heats(cfg: PlantConfig, heats: Sequence[HeatContext], surrogates: Surrogates,
                   opts: DosingOptions | None = None, workers: int | None = None, explain: bool = True,
                   progress: StageProgress | None = None) -> DosingResult:
    """Plan every heat of ``heats`` (see module doc). ``progress(stage, answered, heats)`` is called as each
    heat's answer arrives (a stage may solve several batches; each batch counts from 1)."""
    started = time.perf_counter()
    opts = opts or DosingOptions()
    workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    if mp.current_process().daemon:  # e.g. a Dask worker: daemonic processes may not start children
        workers = 1
    outside = {h.heat_id: outside_domain(h, surrogates) for h in heats}
    n_inside = sum(not v for v in outside.values())
    n_workers = workers if workers > 1 and n_inside >= MIN_HEATS_FOR_WORKERS else 0
    coordinate = opts.inventory and hard_joint(surrogates)  # coordination re-solves heats: keep their models
    with HeatPool(cfg, surrogates, n_workers, keep_models=coordinate) as pool:  # watchdog: pool.py
        plan = DayPlan(cfg, heats, surrogates, opts, explain, pool, outside, started=started, progress=progress)
        for stage in STAGES:
            plan.stage = STAGE_NAMES[stage]
            plan = stage(plan)
        return summarize(plan)
