"""The dosing program: materials, arc energy and sampling for a schedule of heats (Pyomo + HiGHS)."""

from optimizer.dosing.model import DosingOptions, build_model
from optimizer.dosing.prior import prior_surrogates
from optimizer.dosing.run import DosingResult, HeatPlanResult, optimize_heats, to_recommendation
from optimizer.dosing.schedule import HeatContext, Schedule, parse_schedule, read_schedule

__all__ = [
    "DosingOptions", "DosingResult", "HeatContext", "HeatPlanResult", "Schedule", "build_model",
    "optimize_heats", "parse_schedule", "prior_surrogates", "read_schedule", "to_recommendation",
]
