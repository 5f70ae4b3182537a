"""Plant simulator (digital twin): realistic heats under today's practice, and closed-loop evaluation.

The hidden physics lives in ``_physics`` and is never part of the public API or the generated files.
"""

from optimizer.simulator.evaluate import Estimate, EvaluationResult, compare, evaluate
from optimizer.simulator.file_policy import RecommendationFilePolicy
from optimizer.simulator.heats import EVALUATION_STREAM, HISTORY_STREAM, SimHeat, draw_heats, schedule_frame
from optimizer.simulator.history import simulate_history
from optimizer.simulator.policies import HeatPlan, Level2Policy, Policy, baseline_plan
from optimizer.simulator.registry import make_policy, policy_names, register_policy

__all__ = [
    "EVALUATION_STREAM", "HISTORY_STREAM", "Estimate", "EvaluationResult", "HeatPlan", "Level2Policy", "Policy",
    "RecommendationFilePolicy", "SimHeat", "baseline_plan", "compare", "draw_heats", "evaluate", "make_policy",
    "policy_names", "register_policy", "schedule_frame", "simulate_history",
]
