"""Dosing policies the simulator applies: the :class:`Policy` protocol, :class:`HeatPlan`, and today's level-2
practice (:class:`Level2Policy`, :func:`baseline_plan`) with its hand-written better/worse variants.

A policy maps what the plant knows before the heat (:class:`HeatContext`, measured values only, never the
simulator's hidden parameters) to a :class:`HeatPlan`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from scipy.optimize import linprog

from optimizer.config import Material, PlantConfig
from optimizer.schedule import HeatContext
from optimizer.schema import material_col
from optimizer.stages.state import HeatController
from optimizer.surrogates.prior import TEMPERATURE, prior_surrogates

RecoveryFn = Callable[[Material, str], float]


@dataclass(frozen=True)
class HeatPlan:
    """What to do with a heat: main additions (kg), arc energy (kWh), number of samples, and the aims that
    the operator's trims steer to (empty = the grade's aims)."""

    additions_kg: dict[str, float]
    arc_energy_kWh: float
    n_samples: int
    aim_wt_pct: dict[str, float] = field(default_factory=dict)
    aim_temperature_degC: float | None = None
    source: str = ""


@runtime_checkable
class Policy(Protocol):
    """Anything that plans heats: one at a time, or a batch (the optimizer plans a day jointly)."""

    name: str

    def decide(self, context: HeatContext) -> HeatPlan: ...

    def decide_many(self, contexts: Sequence[HeatContext]) -> list[HeatPlan]: ...


@runtime_checkable
class ControllerPolicy(Protocol):
    """A policy that decides each heat stage by stage: it gives every heat a controller (the heat-by-heat
    advisor), which the plant asks on arrival and after every sample."""

    name: str

    def controller(self, context: HeatContext) -> HeatController: ...


@dataclass
class Level2Policy:
    """Today's level-2 alloy calculation: least-cost LP with the config's fixed yields, aims at mid-window plus a
    fixed safety margin, a fixed number of samples, a fixed temperature overshoot, energy from heat-balance priors.

    With the shipped prices the LP reproduces the classic carrier sequence: SiMn for Mn+Si, HC FeMn for the
    remaining Mn, FeSi75 for the remaining Si, Al wire, carburizer for C, lime at its fixed minimum per heat.
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
        """Plans for several heats (independent: today's practice plans heat by heat)."""
        return [self.decide(c) for c in contexts]

    def decide(self, context: HeatContext) -> HeatPlan:
        """The plan of one heat (raises UnknownGradeError for a grade the config does not know)."""
        grade = self.cfg.grade(context.grade)
        aims = {el: _aim(w.low, w.target, w.max, self.margin) for el, w in grade.chemistry_wt_pct.items()
                if w.min is not None}
        scale = self.recovery_scale

        def rec(m: Material, el: str) -> float:
            return m.prior_recovery.get(el, 0.0) * scale.get(el, 1.0)

        adds = level2_additions(self.cfg, context, aims, self.margin, rec)
        n = self.n_samples if self.n_samples is not None else self.cfg.sampling.baseline_samples_per_heat
        t_aim = grade.temperature_degC.target + self.overshoot_degC
        energy = energy_for(self.cfg, context, adds, n, t_aim, self.eta)
        return HeatPlan(adds, energy, n, aims, t_aim, source=self.name)


def baseline_plan(cfg: PlantConfig, context: HeatContext) -> HeatPlan:
    """Today's practice for one heat: what the optimizer compares its recommendation with."""
    return Level2Policy(cfg).decide(context)


def better_policy(cfg: PlantConfig) -> Level2Policy:
    """Deliberately better than today: yields closer to the plant's truth, 5 % margin, 3 degC overshoot."""
    return Level2Policy(cfg, name="better", margin=0.05, overshoot_degC=3.0, eta=0.42,
                        recovery_scale={"Mn": 1.03, "Si": 1.12, "Al": 1.3, "C": 1.08})


def worse_policy(cfg: PlantConfig) -> Level2Policy:
    """Deliberately worse than today: pessimistic Mn/Si yields, 20 % margin, 2 samples, 8 degC overshoot."""
    return Level2Policy(cfg, name="worse", margin=0.20, n_samples=2, overshoot_degC=8.0,
                        recovery_scale={"Mn": 0.97, "Si": 0.95})


def _aim(low: float, target: float, high: float | None, margin: float) -> float:
    mid = (low + high) / 2 if high is not None else target
    width = (high - low) if high is not None else max(target - low, 0.01)
    aim = mid + margin * width
    return min(aim, high - 0.05 * width) if high is not None else aim


def level2_additions(cfg: PlantConfig, ctx: HeatContext, aims: Mapping[str, float], margin: float,
                     recovery: RecoveryFn | Mapping[str, float] | None = None) -> dict[str, float]:
    """Least-cost additions (kg) that reach every aim, keeping maxima ``margin/2`` of the window below the limit.

    ``recovery(material, element)`` gives the yield assumed (default: the config's fixed ``prior_recovery``;
    a mapping element -> factor scales those). If the aims cannot be reached within the material bounds, the
    operator adds the fluxes only (the heat will likely miss; that is what a level-2 system does).
    """
    if recovery is None or isinstance(recovery, Mapping):
        scale = dict(recovery or {})

        def scaled(m: Material, el: str) -> float:
            return m.prior_recovery.get(el, 0.0) * scale.get(el, 1.0)
        rec: RecoveryFn = scaled
    else:
        rec = recovery
    grade = cfg.grade(ctx.grade)
    mats = cfg.materials
    w_kg = ctx.steel_weight_t * 1000.0

    def gain(el: str) -> np.ndarray:  # wt% per kg of each material
        return np.array([m.composition_wt_pct.get(el, 0.0) * rec(m, el) / w_kg for m in mats])

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
    if res.status != 0:
        return {m.name: m.min_kg_per_heat for m in mats}
    return {m.name: m.feeder_amount(float(x)) for m, x in zip(mats, res.x, strict=True)}


def energy_for(cfg: PlantConfig, ctx: HeatContext, adds: Mapping[str, float], n_samples: int, aim_degC: float,
               eta: float | None = None) -> float:
    """Arc energy (kWh) that the config's heat balance says brings the heat to ``aim_degC``."""
    sur = prior_surrogates(cfg).outcomes[TEMPERATURE]
    const, coefs = sur.linear_terms(ctx.features())
    if eta is not None:  # a better-known efficiency rescales the energy term
        coefs["arc_energy_kWh"] *= eta / cfg.energy.arc_efficiency_prior
    rest = const + sum(coefs[material_col(m)] * kg for m, kg in adds.items()) + coefs["n_samples"] * n_samples
    energy = (aim_degC - rest) / coefs["arc_energy_kWh"]
    return float(np.clip(energy, 0.0, cfg.safety.max_arc_energy_kWh))
