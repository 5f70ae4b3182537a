"""Benchmark: our embedding against OMLT on the same dosing-shaped problem, HiGHS for both.

8 inputs in [0, 1]; 5 are the heat's context (fixed), 3 are decisions; minimise a linear cost of the decisions
subject to prediction >= target (the target is the model's median over random points, so it is reachable).
OMLT gets gradient boosting via skl2onnx -> GBTBigMFormulation with the context fixed as variable values; we
prune the context at build time. Per-solve time limit so the script always finishes.

    .venv/bin/python experiments/bench_embedding.py [--time-limit 60]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.neural_network import MLPRegressor

from optimizer.embedding import add_predictor_constr

N_IN, N_CTX = 8, 5
COST = np.array([1.0, 2.0, 1.5])


def data(seed: int = 0, n: int = 3000):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (n, N_IN))
    y = X[:, 5] + 2 * X[:, 6] * X[:, 0] + np.sin(3 * X[:, 7]) + X[:, 1] * X[:, 2] - X[:, 3] + 0.05 * rng.normal(size=n)
    return X, y


def solve(m, limit: float) -> tuple[float, float, str]:
    t = time.perf_counter()
    res = SolverFactory("highs").solve(m, time_limit=limit, load_solutions=False,
                                       raise_exception_on_nonoptimal_result=False)
    dt = time.perf_counter() - t
    ok = res.solution_status.name in ("optimal", "feasible")
    if ok:
        res.solution_loader.load_vars()
    obj = res.incumbent_objective if ok else float("nan")
    return dt, obj, res.termination_condition.name


def ours(est, ctx: np.ndarray, target: float, limit: float):
    t = time.perf_counter()
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), bounds=(0, 1))
    m.y = pyo.Var()
    inputs = [m.x[0], m.x[1], m.x[2], *[float(v) for v in ctx]]
    h = add_predictor_constr(m, est, inputs, m.y)
    m.c = pyo.Constraint(expr=m.y >= target)
    m.obj = pyo.Objective(expr=sum(float(COST[i]) * m.x[i] for i in range(3)))
    build = time.perf_counter() - t
    solve_s, obj, status = solve(m, limit)
    x = np.array([[pyo.value(m.x[i]) for i in range(3)] + list(ctx)]) if obj == obj else None
    real = float(est.predict(x)[0]) if x is not None else float("nan")
    return build, solve_s, obj, status, h.n_binaries, real


def omlt(est, ctx: np.ndarray, target: float, limit: float):
    from omlt import OmltBlock
    from omlt.gbt import GBTBigMFormulation, GradientBoostedTreeModel
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    t = time.perf_counter()
    onx = convert_sklearn(est, initial_types=[("x", FloatTensorType([None, N_IN]))], target_opset=12)
    m = pyo.ConcreteModel()
    m.gbt = OmltBlock()
    gbt = GradientBoostedTreeModel(onx, scaled_input_bounds={i: (0.0, 1.0) for i in range(N_IN)})
    m.gbt.build_formulation(GBTBigMFormulation(gbt))
    for i, v in enumerate(ctx):
        m.gbt.inputs[3 + i].fix(float(v))
    m.c = pyo.Constraint(expr=m.gbt.outputs[0] >= target)
    m.obj = pyo.Objective(expr=sum(float(COST[i]) * m.gbt.inputs[i] for i in range(3)))
    build = time.perf_counter() - t
    solve_s, obj, status = solve(m, limit)
    return build, solve_s, obj, status


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=60.0)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    X, y = data()
    rng = np.random.default_rng(1)
    ctx = rng.uniform(0.2, 0.8, N_CTX)
    models = [(f"GBR {n}x{d}", GradientBoostingRegressor(n_estimators=n, max_depth=d, random_state=0))
              for n, d in ((100, 3), (200, 5), (500, 6))]
    models += [("RF 100x6", RandomForestRegressor(n_estimators=100, max_depth=6, random_state=0)),
               ("MLP 32x32", MLPRegressor(hidden_layer_sizes=(32, 32), max_iter=500, random_state=0))]
    print(f"{'model':12s} {'ours build':>10s} {'ours solve':>10s} {'HiGHS share':>11s} {'binaries':>8s} "
          f"{'objective':>10s} {'predict(x*)>=target':>19s} | {'OMLT build':>10s} {'OMLT solve':>10s} "
          f"{'OMLT obj':>9s} {'speed-up':>8s} {'same obj':>8s}")
    for name, est in models:
        est.fit(X, y)
        probe = np.hstack([rng.uniform(0, 1, (400, 3)), np.tile(ctx, (400, 1))])
        target = float(np.median(est.predict(probe)))
        b, s, obj, status, nbin, real = ours(est, ctx, target, args.time_limit)
        line = (f"{name:12s} {b:10.2f} {s:10.2f} {s / (b + s):11.0%} {nbin:8d} {obj:10.4f} "
                f"{str(real >= target - 1e-6):>19s} |")
        if name.startswith("GBR"):
            ob, os_, oobj, ostatus = omlt(est, ctx, target, args.time_limit)
            same = abs(oobj - obj) <= 1e-3 * max(1.0, abs(obj)) if oobj == oobj and obj == obj else False
            line += f" {ob:10.2f} {os_:10.2f} {oobj:9.4f} {(ob + os_) / (b + s):7.1f}x {str(same):>8s}"
            if ostatus != "convergenceCriteriaSatisfied":
                line += f" (OMLT: {ostatus})"
        else:
            line += "   not compared with OMLT (its GBT formulation is for boosted trees; not attempted)"
        if status != "convergenceCriteriaSatisfied":
            line += f" (ours: {status})"
        print(line, flush=True)


if __name__ == "__main__":
    main()
