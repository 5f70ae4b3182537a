"""Policies by name: ``baseline``, ``better``, ``worse``, ``optimizer`` (the dosing program), ``advisor`` (the
heat-by-heat advisor, decides each heat on arrival and after every sample), any registered
name, or a path to a recommendations ``.json`` file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from optimizer.config import PlantConfig
from optimizer.simulator.advisor_policy import advisor_from_simulated_history
from optimizer.simulator.file_policy import RecommendationFilePolicy
from optimizer.simulator.optimizer_policy import optimizer_from_simulated_history
from optimizer.simulator.policies import ControllerPolicy, Level2Policy, Policy, better_policy, worse_policy

PolicyFactory = Callable[..., Policy | ControllerPolicy]


def _optimizer(cfg: PlantConfig, **options: Any) -> Policy:
    return optimizer_from_simulated_history(cfg, **options)


_REGISTRY: dict[str, PolicyFactory] = {
    "baseline": lambda cfg, **_: Level2Policy(cfg),
    "better": lambda cfg, **_: better_policy(cfg),
    "worse": lambda cfg, **_: worse_policy(cfg),
    "optimizer": _optimizer,
    "advisor": advisor_from_simulated_history,
}


def register_policy(name: str, factory: PolicyFactory) -> None:
    """Make a policy selectable by name; ``factory(cfg, **options) -> Policy``."""
    if not name or name.endswith(".json"):
        raise ValueError(f"policy name must be non-empty and not end in '.json', got {name!r}")
    _REGISTRY[name] = factory


def policy_names() -> list[str]:
    """Registered policy names."""
    return sorted(_REGISTRY)


def _fallback(name: str, cfg: PlantConfig) -> Policy:
    """The registered policy ``name`` as a fallback: it must plan whole heats (a stage-by-stage one cannot)."""
    policy = _REGISTRY[name](cfg)
    if not isinstance(policy, Policy):
        raise ValueError(f"fallback policy {name!r} decides stage by stage and cannot plan a whole heat; "
                         "use one that plans whole heats, e.g. baseline")
    return policy


def make_policy(spec: str, cfg: PlantConfig, fallback: str | None = None,
                **options: object) -> Policy | ControllerPolicy:
    """A registered policy by name, or a :class:`RecommendationFilePolicy` for a path to a ``.json`` file.

    ``fallback`` (a registered name, e.g. ``baseline``) runs heats a recommendations file has no feasible
    setpoints for; without it such heats are an error. ``options`` go to the registered factory.
    """
    if spec in _REGISTRY:
        return _REGISTRY[spec](cfg, **options)
    if spec.endswith(".json"):
        p = Path(spec)
        if not p.is_file():
            raise FileNotFoundError(f"recommendations file {p} not found; write one with `dosing optimize "
                                    "--schedule schedule.csv --out DIR` (DIR/latest.json)")
        if fallback is not None and fallback not in _REGISTRY:
            raise ValueError(f"unknown fallback policy {fallback!r}; use one of {policy_names()}")
        return RecommendationFilePolicy(p, cfg, fallback=_fallback(fallback, cfg) if fallback else None)
    raise ValueError(f"unknown policy {spec!r}; use one of {policy_names()} or a path to a recommendations "
                     ".json file")
