"""Plant simulator (digital twin): realistic heats under today's practice, and closed-loop evaluation.

The hidden physics lives in private modules (``_physics``: ``standard``, ``_slag``: ``slag``, ``_carryover``:
``carryover``, ``_stirred``: ``stirred``, ``_lots``: ``lots``, ``_glaze``: ``glaze``, ``_cycle``: ``cycle``,
``_damp``: ``damp``, ``_tariff``: ``tariff``) and is never part of the public API or the generated files; a
physics is chosen by name (:func:`physics_names`, :func:`get_physics`).
"""

from optimizer.simulator.evaluate import Estimate, EvaluationResult, compare, evaluate
from optimizer.simulator.file_policy import RecommendationFilePolicy
from optimizer.simulator.heats import EVALUATION_STREAM, HISTORY_STREAM, SimHeat, draw_heats, schedule_frame
from optimizer.simulator.history import simulate_history
from optimizer.simulator.physics import Physics
from optimizer.simulator.physics_registry import DEFAULT_PHYSICS, get_physics, physics_names, register_physics
from optimizer.simulator.policies import HeatPlan, Level2Policy, Policy, baseline_plan
from optimizer.simulator.practice import OperatorPractice
from optimizer.simulator.registry import make_policy, policy_names, register_policy

__all__ = [
    "DEFAULT_PHYSICS", "EVALUATION_STREAM", "HISTORY_STREAM", "Estimate", "EvaluationResult", "HeatPlan",
    "Level2Policy", "OperatorPractice", "Physics", "Policy", "RecommendationFilePolicy", "SimHeat", "baseline_plan",
    "compare", "draw_heats", "evaluate", "get_physics", "make_policy", "physics_names", "policy_names",
    "register_physics", "register_policy", "schedule_frame", "simulate_history",
]
