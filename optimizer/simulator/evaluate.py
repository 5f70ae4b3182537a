"""Closed-loop evaluation: apply a policy to fresh simulated heats and measure what it achieves.

Figures per heat are averaged with 95 % confidence intervals (t-interval for means, Wilson for the off-spec
rate). ``compare`` gives paired differences on the same heats and the programme's yardstick.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from optimizer.config import PlantConfig
from optimizer.costs import CostCoefficients
from optimizer.simulator.heats import EVALUATION_STREAM, draw_heats
from optimizer.simulator.history import HeatProgress, run_heats
from optimizer.simulator.physics import Physics
from optimizer.simulator.physics_registry import get_physics
from optimizer.simulator.plant import HeatRecord
from optimizer.simulator.policies import ControllerPolicy, Policy

FERROALLOY_KINDS = ("ferroalloy", "wire", "carburizer")
METRICS = ("material_cost_per_t", "ferroalloy_kg_per_t", "energy_kWh_per_t", "co2_kg_per_t", "samples_per_heat",
           "treatment_min_per_heat", "dips_per_heat")  # samples: chemistry samples; dips: temperature dips alone


@dataclass(frozen=True)
class Estimate:
    """A mean (or rate) with its 95 % confidence interval."""

    value: float
    low: float
    high: float


@dataclass
class EvaluationResult:
    """Per-heat figures and their summary for one policy on one set of heats."""

    policy: str
    n_heats: int
    seed: int
    per_heat: dict[str, np.ndarray]
    off_spec: np.ndarray
    off_spec_reasons: list[list[str]] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)  # heats the policy could not plan: ran today's practice
    physics: str = "standard"  # the plant the heats ran in
    records: list[HeatRecord] = field(default_factory=list, repr=False)  # the heats as executed, in order

    def summary(self) -> dict[str, Estimate]:
        out = {k: _mean_ci(v) for k, v in self.per_heat.items()}
        out["off_spec_rate"] = _wilson(int(self.off_spec.sum()), len(self.off_spec))
        return out

    def to_dict(self) -> dict:
        return {"policy": self.policy, "heats": self.n_heats, "seed": self.seed, "physics": self.physics,
                **{k: {"value": e.value, "ci95": [e.low, e.high]} for k, e in self.summary().items()},
                "off_spec_heats": int(self.off_spec.sum()), "fallback_heats": list(self.fallbacks)}


def evaluate(cfg: PlantConfig, policy: Policy | ControllerPolicy, n_heats: int, seed: int,
             grades: Sequence[str] | None = None, physics: str | Physics | None = None,
             progress: HeatProgress | None = None) -> EvaluationResult:
    """Apply ``policy`` to ``n_heats`` fresh heats: the evaluation stream of ``seed``, disjoint from the history
    stream, identical for every policy (same heats, same process noise), so differences are paired. ``physics``
    names the plant (default ``standard``); ``progress`` is told of planning and of every heat run."""
    plant = get_physics(physics)
    heats = draw_heats(cfg, n_heats, seed, EVALUATION_STREAM, grades=grades, physics=plant)
    already = len(getattr(policy, "fallbacks", []))
    records = run_heats(cfg, heats, policy, seed, EVALUATION_STREAM, progress=progress)
    fallbacks = list(getattr(policy, "fallbacks", []))[already:]
    weights = np.array([h.context.steel_weight_t for h in heats])
    coef = CostCoefficients.from_config(cfg)
    per = {k: np.array([_figure(cfg, coef, r, k) for r in records]) for k in METRICS}
    for k in ("material_cost_per_t", "ferroalloy_kg_per_t", "energy_kWh_per_t", "co2_kg_per_t"):
        per[k] = per[k] / weights
    off = np.array([bool(r.off_spec) for r in records])
    return EvaluationResult(getattr(policy, "name", "policy"), n_heats, seed, per, off, [r.off_spec for r in records],
                            fallbacks, plant.name, records)


def _figure(cfg: PlantConfig, coef: CostCoefficients, r: HeatRecord, key: str) -> float:
    """One heat's figure ``key`` (per heat; the per-t figures are divided by the steel weight afterwards)."""
    mats = {m.name: m for m in cfg.materials}
    if key == "material_cost_per_t":
        return coef.material_money(r.additions_kg)
    if key == "ferroalloy_kg_per_t":
        return sum(kg for m, kg in r.additions_kg.items() if mats[m].kind in FERROALLOY_KINDS)
    if key == "energy_kWh_per_t":
        return r.arc_energy_kWh
    if key == "co2_kg_per_t":
        return coef.co2_kg(r.additions_kg, r.arc_energy_kWh)
    if key == "samples_per_heat":
        return float(r.n_samples)
    if key == "dips_per_heat":
        return float(r.n_dips)
    return r.treatment_time_min


def _mean_ci(x: np.ndarray) -> Estimate:
    m = float(np.mean(x))
    if len(x) < 2:
        return Estimate(m, math.nan, math.nan)
    half = float(stats.t.ppf(0.975, len(x) - 1) * np.std(x, ddof=1) / math.sqrt(len(x)))
    return Estimate(m, m - half, m + half)


def _wilson(k: int, n: int, z: float = 1.959964) -> Estimate:
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half))


def compare(a: EvaluationResult, b: EvaluationResult) -> dict[str, Estimate | float]:
    """Paired differences a - b on the same heats, and the yardstick (% change of a against b)."""
    if (a.n_heats, a.seed, a.physics) != (b.n_heats, b.seed, b.physics):
        raise ValueError("compare needs both policies evaluated on the same heats (same --heats, --seed and "
                         f"--physics), got {a.n_heats} heats, seed {a.seed}, {a.physics} against {b.n_heats} heats, "
                         f"seed {b.seed}, {b.physics}")
    out: dict[str, Estimate | float] = {f"diff_{k}": _mean_ci(a.per_heat[k] - b.per_heat[k]) for k in METRICS}
    out["diff_off_spec_rate"] = _mean_ci(a.off_spec.astype(float) - b.off_spec.astype(float))
    sa, sb = a.summary(), b.summary()
    out["pct_material_cost"] = _pct(sa["material_cost_per_t"].value, sb["material_cost_per_t"].value)
    out["pct_off_spec"] = _pct(sa["off_spec_rate"].value, sb["off_spec_rate"].value)
    out["pct_energy"] = _pct(sa["energy_kWh_per_t"].value, sb["energy_kWh_per_t"].value)
    out["pct_productivity"] = _pct(1 / sa["treatment_min_per_heat"].value, 1 / sb["treatment_min_per_heat"].value)
    return out


def _pct(new: float, old: float) -> float:
    return 100.0 * (new - old) / old if old else math.nan
