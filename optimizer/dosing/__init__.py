"""The dosing program: materials, arc energy and sampling for a schedule of heats (Pyomo + HiGHS)."""

from optimizer.dosing.model import DosingOptions, build_model
from optimizer.dosing.recommend import to_recommendation
from optimizer.dosing.results import DosingResult, HeatPlanResult
from optimizer.dosing.run import optimize_heats

__all__ = ["DosingOptions", "DosingResult", "HeatPlanResult", "build_model", "optimize_heats", "to_recommendation"]
