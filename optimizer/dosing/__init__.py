"""The dosing program: materials, arc energy and sampling for a schedule of heats (Pyomo + HiGHS)."""

from optimizer.dosing.model import DosingOptions, build_model
from optimizer.dosing.results import DosingResult, HeatPlanResult
from optimizer.dosing.run import optimize_heats, to_recommendation

__all__ = ["DosingOptions", "DosingResult", "HeatPlanResult", "build_model", "optimize_heats", "to_recommendation"]
