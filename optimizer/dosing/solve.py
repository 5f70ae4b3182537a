"""Solve a dosing model with HiGHS and read back values, binding limits and marginal costs."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import SolutionStatus

from optimizer.config import PlantConfig
from optimizer.dosing.limits import MarginalKey, MarginalKind


@dataclass(frozen=True)
class SolveOutcome:
    """What HiGHS returned: status, objective, best bound, relative gap, the wall time of the whole solve call
    (s: Pyomo writing the model into HiGHS, HiGHS, reading the solution back) and HiGHS's own run time (s)."""

    status: str
    feasible: bool
    objective: float
    bound: float
    gap: float
    seconds: float
    solver_version: str
    highs_seconds: float = math.nan


def solve(model: pyo.ConcreteModel, cfg: PlantConfig, time_limit_s: float | None = None,
          rel_gap: float | None = None) -> SolveOutcome:
    """Solve with the config's time limit and MIP gap (or ``rel_gap``); never raises on infeasible/limits (see
    ``feasible``)."""
    return _run(SolverFactory("highs"), model, cfg, time_limit_s, rel_gap=rel_gap)


# after ``update()`` the kept model is in HiGHS as it stands: nothing for the solve call to look for
_NO_UPDATES = {k: False for k in ("check_for_new_or_removed_constraints", "check_for_new_or_removed_vars",
                                  "check_for_new_or_removed_params", "check_for_new_objective",
                                  "update_constraints", "update_vars", "update_parameters",
                                  "update_named_expressions", "update_objective")}


class KeptSolve:
    """A model kept with its HiGHS instance (Pyomo's persistent interface). After mutable parameters change
    (the coordination prices), ``solve`` pushes only the changes and gives HiGHS the previous solution as a MIP
    start, which stays feasible because only the objective changed: no rebuild, no re-write, and HiGHS skips
    most of its search for a first incumbent."""

    def __init__(self, model: pyo.ConcreteModel, cfg: PlantConfig) -> None:
        self.model, self.cfg = model, cfg
        self.opt = SolverFactory("highs")
        self._start = None  # highspy.HighsSolution of the last feasible solve
        self._highs_total_s = 0.0

    def solve(self, time_limit_s: float | None = None) -> SolveOutcome:
        updates = None
        if self._start is not None:
            self.opt.update()
            self.opt._solver_model.setSolution(self._start)  # noqa: SLF001 (highspy.Highs behind Pyomo)
            updates = _NO_UPDATES
        out = _run(self.opt, self.model, self.cfg, time_limit_s, auto_updates=updates)
        total = out.highs_seconds  # HiGHS's run time accumulates over the runs of one instance
        out = replace(out, highs_seconds=total - self._highs_total_s)
        self._highs_total_s = total
        self._start = self.opt._solver_model.getSolution() if out.feasible else None  # noqa: SLF001
        return out


def _run(opt, model: pyo.ConcreteModel, cfg: PlantConfig, time_limit_s: float | None,  # noqa: ANN001
         rel_gap: float | None = None, auto_updates: dict[str, bool] | None = None) -> SolveOutcome:
    """One HiGHS run; ``auto_updates`` (a warm re-solve of the same model) tells Pyomo what did not change."""
    extra = {} if auto_updates is None else {"auto_updates": auto_updates}
    t0 = time.perf_counter()
    res = opt.solve(model, time_limit=time_limit_s or cfg.solver.time_limit_s,
                    rel_gap=cfg.solver.mip_gap if rel_gap is None else rel_gap, solver_options=_options(model),
                    load_solutions=False, raise_exception_on_nonoptimal_result=False, **extra)
    seconds = time.perf_counter() - t0
    feasible = res.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
    if feasible:
        res.solution_loader.load_vars()
    obj = res.incumbent_objective if res.incumbent_objective is not None else math.nan
    bound = res.objective_bound if res.objective_bound is not None else math.nan
    gap = abs(obj - bound) / max(abs(obj), 1e-9) if feasible and math.isfinite(bound) else math.nan
    version = ".".join(str(v) for v in res.solver_version) if res.solver_version else ""
    highs_s = getattr(res.timing_info, "highs_time", None)
    return SolveOutcome(res.termination_condition.name, feasible, obj, bound, gap, seconds, version,
                        seconds if highs_s is None else float(highs_s))


def _options(model: pyo.ConcreteModel) -> dict[str, float]:
    """HiGHS options the model asks for: the tolerances its embedded surrogates need (``build_model`` sets
    ``solver_options``; a model built elsewhere has none)."""
    return dict(getattr(model, "solver_options", {}))


def marginal_costs(model: pyo.ConcreteModel, cfg: PlantConfig) -> dict[MarginalKey, float]:
    """Duals of the spec, inventory and material limits at the MIP solution (binaries fixed, LP re-solve).

    The binaries (the sample count, the branches of embedded trees) are fixed at their solution values and the
    feeder steps (general integers) made continuous for the LP, and both restored afterwards (no copy of the
    model is needed). Fixing the feeder steps too would fix every stepped addition: the day's stock row would
    then have no free variable and its dual (the shadow price of a scarce material) would always be 0.
    Returns currency per unit of limit (per wt%, per degC, per kg); empty if the LP cannot be solved.
    """
    ints = [(v, v.domain, v.is_binary()) for v in model.component_data_objects(pyo.Var)
            if (v.is_integer() or v.is_binary()) and not v.fixed]
    for v, _, binary in ints:
        if binary:
            v.fix(round(v.value or 0.0))
        v.domain = pyo.Reals
    try:
        res = SolverFactory("highs").solve(model, time_limit=cfg.solver.time_limit_s, load_solutions=False,
                                           raise_exception_on_nonoptimal_result=False)
        if res.solution_status != SolutionStatus.optimal:
            return {}
        duals = res.solution_loader.get_duals()
    finally:
        for v, domain, binary in ints:
            v.domain = domain
            if binary:
                v.unfix()
    out: dict[MarginalKey, float] = {}
    kinds: tuple[MarginalKind, ...] = ("spec", "inventory", "material_min")
    for name in kinds:
        comp = model.find_component(name)
        if comp is None:
            continue
        for idx, con in comp.items():
            d = duals.get(con, 0.0)
            if abs(d) > 1e-9:
                out[MarginalKey(name, idx if isinstance(idx, tuple) else (idx,))] = abs(d)
    return out
