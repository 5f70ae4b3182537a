"""Dosing policies the simulator can apply: today's level-2 practice, hand-written better/worse ones,
a recommendations file, and (registered by the dosing package) the optimizer.

A policy maps what the plant knows before the heat (:class:`HeatContext`) to a :class:`HeatPlan`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from scipy.optimize import linprog

from optimizer.config import PlantConfig
from optimizer.dosing.prior import TEMPERATURE, prior_surrogates
from optimizer.dosing.schedule import HeatContext
from optimizer.recommendation import Recommendation
from optimizer.schema import material_col


@dataclass(frozen=True)
class HeatPlan:
    """What to do with a heat: additions (kg), arc energy (kWh), samples, and the aims trims steer to."""

    additions_kg: dict[str, float]
    arc_energy_kWh: float
    n_samples: int
    aim_wt_pct: dict[str, float] = field(default_factory=dict)
    aim_temperature_degC: float | None = None
    source: str = ""


class Policy(Protocol):
    """Anything that plans heats."""

    name: str

    def decide_many(self, contexts: Sequence[HeatContext]) -> list[HeatPlan]: ...


@dataclass
class Level2Policy:
    """A level-2 alloy calculation: least-cost LP with fixed yields, aims at mid-window plus a margin.

    ``margin`` is the fraction of the window added to the mid-window aim; ``recovery_scale`` scales the
    config's yields per element (1.0 = today's figures); ``eta`` overrides the arc-efficiency prior.
    """

    cfg: PlantConfig
    name: str = "baseline"
    margin: float = 0.15
    n_samples: int | None = None
    overshoot_degC: float = 4.0
    recovery_scale: dict[str, float] = field(default_factory=dict)
    eta: float | None = None

    def decide_many(self, contexts: Sequence[HeatContext]) -> list[HeatPlan]:
        return [self.decide(c) for c in contexts]

    def decide(self, ctx: HeatContext) -> HeatPlan:
        grade = self.cfg.grade(ctx.grade)
        aims = {el: _aim(w.low, w.target, w.max, self.margin) for el, w in grade.chemistry_wt_pct.items()
                if w.min is not None}
        adds = level2_additions(self.cfg, ctx, aims, self.margin, self.recovery_scale)
        n = self.n_samples if self.n_samples is not None else self.cfg.sampling.baseline_samples_per_heat
        t_aim = grade.temperature_degC.target + self.overshoot_degC
        energy = energy_for(self.cfg, ctx, adds, n, t_aim, self.eta)
        return HeatPlan(adds, energy, n, aims, t_aim, source=self.name)


def _aim(low: float, target: float, high: float | None, margin: float) -> float:
    mid = (low + high) / 2 if high is not None else target
    width = (high - low) if high is not None else max(target - low, 0.01)
    aim = mid + margin * width
    return min(aim, high - 0.05 * width) if high is not None else aim


def level2_additions(cfg: PlantConfig, ctx: HeatContext, aims: dict[str, float], margin: float,
                     recovery_scale: dict[str, float] | None = None) -> dict[str, float]:
    """Least-cost additions (kg) reaching every aim with fixed yields, keeping maxima minus a margin."""
    scale = recovery_scale or {}
    grade = cfg.grade(ctx.grade)
    mats = cfg.materials
    w_kg = ctx.steel_weight_t * 1000.0

    def gain(el: str) -> np.ndarray:  # wt% per kg of each material
        return np.array([m.composition_wt_pct.get(el, 0.0) * m.prior_recovery.get(el, 0.0) * scale.get(el, 1.0)
                         / w_kg for m in mats])

    a_ub, b_ub = [], []
    for el, aim in aims.items():
        a_ub.append(-gain(el))
        b_ub.append(-(aim - ctx.initial_wt_pct.get(el, 0.0)))
    for el, win in grade.chemistry_wt_pct.items():
        if win.max is not None:
            width = win.max - win.low
            cap = win.max - margin * width * 0.5 if width > 0 else win.max
            a_ub.append(gain(el))
            b_ub.append(max(cap, aims.get(el, 0.0)) - ctx.initial_wt_pct.get(el, 0.0))
    bounds = [(m.min_kg_per_heat, m.max_kg_per_heat) for m in mats]
    cost = np.array([m.price_per_kg for m in mats])
    res = linprog(cost, A_ub=np.array(a_ub), b_ub=np.array(b_ub), bounds=bounds, method="highs")
    if res.status != 0:  # cannot reach every aim: operator adds the fluxes only (the heat will likely miss)
        return {m.name: m.min_kg_per_heat for m in mats}
    return {m.name: _to_step(x, m.feeder_step_kg) for m, x in zip(mats, res.x, strict=True)}


def _to_step(kg: float, step: float) -> float:
    if kg < 1e-6:
        return 0.0
    return float(np.ceil(kg / step - 1e-9) * step) if step > 0 else round(float(kg), 1)


def energy_for(cfg: PlantConfig, ctx: HeatContext, adds: dict[str, float], n_samples: int, aim_degC: float,
               eta: float | None = None) -> float:
    """Arc energy (kWh) that the config's heat balance says brings the heat to ``aim_degC``."""
    sur = prior_surrogates(cfg).outcomes[TEMPERATURE]
    const, coefs = sur.linear_terms(ctx.features())
    if eta is not None:  # a better-known efficiency rescales the energy term
        coefs["arc_energy_kWh"] *= eta / cfg.energy.arc_efficiency_prior
    rest = const + sum(coefs[material_col(m)] * kg for m, kg in adds.items()) + coefs["n_samples"] * n_samples
    energy = (aim_degC - rest) / coefs["arc_energy_kWh"]
    return float(np.clip(energy, 0.0, cfg.safety.max_arc_energy_kWh))


@dataclass
class RecommendationFilePolicy:
    """Applies the setpoints of a recommendations JSON by heat id. Heats missing from the file or marked
    infeasible are not silently replaced: they raise, naming the heats (unless ``fallback`` is given)."""

    path: Path
    cfg: PlantConfig
    fallback: Policy | None = None
    name: str = "file"

    def decide_many(self, contexts: Sequence[HeatContext]) -> list[HeatPlan]:
        rec = Recommendation.from_json(self.path)
        by_id = {h.heat_id: h for h in rec.heats if h.feasible}
        missing = [c.heat_id for c in contexts if c.heat_id not in by_id]
        if missing and self.fallback is None:
            raise LookupError(f"{self.path}: no feasible setpoints for heats {missing[:10]}"
                              f"{' ...' if len(missing) > 10 else ''} ({len(missing)} of {len(contexts)}); "
                              "make the recommendation from the same schedule (same --heats and --seed)")
        plans = []
        for c in contexts:
            h = by_id.get(c.heat_id)
            if h is None:
                plans.append(self.fallback.decide_many([c])[0])  # type: ignore[union-attr]
                continue
            aims = {el: iv.predicted for el, iv in h.predicted_wt_pct.items()}
            t = h.predicted_temperature_degC.predicted if h.predicted_temperature_degC else None
            plans.append(HeatPlan(dict(h.additions_kg), h.arc_energy_kWh, h.n_samples, aims, t, source="file"))
        return plans


PolicyFactory = Callable[..., Policy]
_REGISTRY: dict[str, PolicyFactory] = {
    "baseline": lambda cfg, **_: Level2Policy(cfg),
    "better": lambda cfg, **_: Level2Policy(cfg, name="better", margin=0.05, overshoot_degC=3.0, eta=0.47,
                                            recovery_scale={"Mn": 1.03, "Si": 1.12, "Al": 1.3, "C": 1.08}),
    "worse": lambda cfg, **_: Level2Policy(cfg, name="worse", margin=0.35, n_samples=1, overshoot_degC=14.0,
                                           recovery_scale={"Mn": 0.95, "Si": 0.9, "Al": 0.8}),
    "optimizer": lambda cfg, **o: _optimizer(cfg, **o),
}


def _optimizer(cfg: PlantConfig, **options: object) -> Policy:
    from optimizer.dosing.policy import optimizer_from_simulated_history  # the dosing package depends on us

    return optimizer_from_simulated_history(cfg, **options)  # type: ignore[arg-type]


def register_policy(name: str, factory: PolicyFactory) -> None:
    """Make a policy selectable by name (``factory(cfg, **options) -> Policy``)."""
    _REGISTRY[name] = factory


def policy_names() -> list[str]:
    """Registered policy names."""
    return sorted(_REGISTRY)


def make_policy(spec: str, cfg: PlantConfig, **options: object) -> Policy:
    """A registered policy by name, or a :class:`RecommendationFilePolicy` for a path to a ``.json`` file."""
    if spec in _REGISTRY:
        return _REGISTRY[spec](cfg, **options)
    if spec.endswith(".json"):
        p = Path(spec)
        if not p.exists():
            raise FileNotFoundError(f"recommendations file {p} not found")
        return RecommendationFilePolicy(p, cfg)
    raise ValueError(f"unknown policy {spec!r}; use one of {policy_names()} or a recommendations .json file")
