"""Plant simulator (digital twin): realistic heats under today's practice, and closed-loop evaluation.

The hidden physics lives in ``_physics`` and is never part of the public API or the generated files.
"""

from optimizer.simulator.evaluate import EvaluationResult, compare, evaluate
from optimizer.simulator.heats import SimHeat, draw_heats, schedule_frame
from optimizer.simulator.history import simulate_history
from optimizer.simulator.policies import (
    HeatPlan,
    Level2Policy,
    Policy,
    RecommendationFilePolicy,
    make_policy,
    policy_names,
    register_policy,
)

__all__ = [
    "EvaluationResult", "HeatPlan", "Level2Policy", "Policy", "RecommendationFilePolicy", "SimHeat", "compare",
    "draw_heats", "evaluate", "make_policy", "policy_names", "register_policy", "schedule_frame", "simulate_history",
]
