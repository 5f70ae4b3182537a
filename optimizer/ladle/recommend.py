"""Arc energy and number of temperature measurements per real heat, through Pyomo/HiGHS, and what it saves.

For each heat, with everything else as the plant did it: choose arc energy E (arc time scales with it at the
heat's own average power) and the number of measurements n (each costs a probe and minutes) so that the
predicted final temperature minus/plus the calibrated half-width at n measurements lies in the target window,
at minimum energy + sampling cost. The surrogate (gradient boosting or ridge) is embedded with
``optimizer.embedding.add_predictor_constr``; the heat's other features are fixed at build time. HiGHS gets the
tolerances the embedding's exactness needs, and after the solve the model is re-predicted with its own
``predict`` at the recommended energy and measurement count (``check_solution``: repaired if it slipped,
otherwise reported in ``model_mismatch`` and logged); ``predicted_degC`` is that ``predict``.

Caveat, always printed with the figures: this is a model-based counterfactual. The surrogate extrapolates
where the plant never went, and heats that were measured often may have needed it for reasons not in the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory

from optimizer.config import PlantConfig
from optimizer.embedding import add_predictor_constr, check_solution
from optimizer.ladle.model import LadleModel

CAVEAT = ("model-based counterfactual: the surrogate extrapolates where the plant never went, and heats that "
          "were measured often may have needed it for reasons not in the data")


@dataclass(frozen=True)
class Window:
    """Target final-temperature window (degC) and the confidence of landing inside."""

    low: float
    high: float
    confidence: float = 0.9


def default_window(heats: pd.DataFrame) -> Window:
    """The plant's own practice: the 10th to 90th percentile of final temperatures."""
    lo, hi = np.percentile(heats["final_temperature_degC"], [10, 90])
    return Window(float(lo), float(hi))


def recommend_heat(model: LadleModel, heat: pd.Series, cfg: PlantConfig, window: Window,
                   n_options: range = range(2, 9)) -> dict:
    """Energy (kWh) and measurements for one heat; ``feasible=False`` if no option reaches the window. The plan
    carries its exactness check: ``model_checked`` (models re-predicted), ``model_repaired`` and
    ``model_mismatch`` (empty when the embedded model equals ``predict`` at the plan)."""
    m = pyo.ConcreteModel()
    e_max = float(max(heat["arc_energy_kWh"] * 2.0, 100.0))
    m.E = pyo.Var(bounds=(0.0, e_max))
    m.z = pyo.Var(list(n_options), domain=pyo.Binary)
    m.one = pyo.Constraint(expr=sum(m.z[k] for k in n_options) == 1)
    n_expr = sum(k * m.z[k] for k in n_options)
    power_kw = heat["arc_energy_kWh"] / max(heat["arc_time_min"], 1e-3)  # kWh per minute of arc
    inputs = {}
    for f in model.feature_names:
        if f == "arc_energy_kWh":
            inputs[f] = m.E
        elif f == "arc_time_min":
            inputs[f] = m.E / power_kw
        elif f == "n_samples":
            inputs[f] = n_expr
        else:
            inputs[f] = float(heat[f])
    m.T = pyo.Var()
    handle = add_predictor_constr(m, model.model, inputs, m.T)
    hw = {k: model.widths.halfwidth(k, window.confidence) for k in n_options}
    m.lo = pyo.Constraint(expr=m.T - sum(hw[k] * m.z[k] for k in n_options) >= window.low)
    m.hi = pyo.Constraint(expr=m.T + sum(hw[k] * m.z[k] for k in n_options) <= window.high)
    m.obj = pyo.Objective(expr=cfg.energy.price_per_kWh * m.E + cfg.sampling.cost_per_dip * n_expr)
    res = SolverFactory("highs").solve(m, time_limit=30, load_solutions=False, solver_options=handle.solver_options,
                                       raise_exception_on_nonoptimal_result=False)
    if res.solution_status.name not in ("optimal", "feasible"):
        return {"heat_id": heat["heat_id"], "feasible": False, "model_checked": 0}
    res.solution_loader.load_vars()
    check = check_solution([handle], f"ladle heat {heat['heat_id']}")  # may move E into its chosen piece
    n = int(round(pyo.value(n_expr)))
    return {"heat_id": heat["heat_id"], "feasible": True, "arc_energy_kWh": float(pyo.value(m.E)),
            "n_samples": n, "predicted_degC": handle.predicted(), "halfwidth_degC": hw[n],
            "actual_arc_energy_kWh": float(heat["arc_energy_kWh"]), "actual_n_samples": int(heat["n_samples"]),
            "model_checked": check.checked, "model_repaired": check.repaired, "model_mismatch": check.mismatch}


def savings(recs: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """Mean energy (kWh, %) and measurements saved per heat over feasible heats, with 95 % bootstrap CIs."""
    ok = recs[recs["feasible"]]
    rng = np.random.default_rng(seed)
    out: dict[str, tuple[float, float, float]] = {}
    for key, col in (("energy_kWh", ok["actual_arc_energy_kWh"] - ok["arc_energy_kWh"]),
                     ("measurements", ok["actual_n_samples"] - ok["n_samples"])):
        v = col.to_numpy(float)
        boots = [rng.choice(v, len(v)).mean() for _ in range(n_boot)]
        out[key] = (float(v.mean()), float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5)))
    total = ok["actual_arc_energy_kWh"].sum()

    def pct(kwh: float) -> float:
        return 100 * kwh * len(ok) / total

    mean, low, high = out["energy_kWh"]
    out["energy_pct"] = (pct(mean), pct(low), pct(high))
    return out
