"""Solve a dosing model with HiGHS and read back values, binding limits and marginal costs."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import SolutionStatus

from optimizer.config import PlantConfig


@dataclass(frozen=True)
class SolveOutcome:
    """What HiGHS returned: status, objective, best bound, relative gap and wall time (s)."""

    status: str
    feasible: bool
    objective: float
    bound: float
    gap: float
    seconds: float
    solver_version: str


def solve(model: pyo.ConcreteModel, cfg: PlantConfig, time_limit_s: float | None = None) -> SolveOutcome:
    """Solve with the config's time limit and MIP gap; never raises on infeasible/limits (see ``feasible``)."""
    opt = SolverFactory("highs")
    t0 = time.perf_counter()
    res = opt.solve(model, time_limit=time_limit_s or cfg.solver.time_limit_s, rel_gap=cfg.solver.mip_gap,
                    load_solutions=False, raise_exception_on_nonoptimal_result=False)
    seconds = time.perf_counter() - t0
    feasible = res.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
    if feasible:
        res.solution_loader.load_vars()
    obj = res.incumbent_objective if res.incumbent_objective is not None else math.nan
    bound = res.objective_bound if res.objective_bound is not None else math.nan
    gap = abs(obj - bound) / max(abs(obj), 1e-9) if feasible and math.isfinite(bound) else math.nan
    version = ".".join(str(v) for v in res.solver_version) if res.solver_version else ""
    return SolveOutcome(res.termination_condition.name, feasible, obj, bound, gap, seconds, version)


def marginal_costs(model: pyo.ConcreteModel, cfg: PlantConfig) -> dict[tuple, float]:
    """Duals of the spec, inventory and material limits at the MIP solution (integers fixed, LP re-solve).

    Returns currency per unit of limit (per wt%, per degC, per kg); empty if the LP cannot be solved.
    """
    lp = model.clone()
    for v in lp.component_data_objects(pyo.Var):
        if v.is_integer() or v.is_binary():
            v.fix(round(v.value or 0.0))
    pyo.TransformationFactory("core.relax_integer_vars").apply_to(lp)
    opt = SolverFactory("highs")
    res = opt.solve(lp, time_limit=cfg.solver.time_limit_s, load_solutions=False,
                    raise_exception_on_nonoptimal_result=False)
    if res.solution_status != SolutionStatus.optimal:
        return {}
    duals = res.solution_loader.get_duals()
    out: dict[tuple, float] = {}
    for name in ("spec", "inventory", "material_min"):
        comp = lp.find_component(name)
        if comp is None:
            continue
        for idx, con in comp.items():
            d = duals.get(con, 0.0)
            if abs(d) > 1e-9:
                out[(name, *(idx if isinstance(idx, tuple) else (idx,)))] = abs(d)
    return out
