"""Property test over random tree models (issue 19's definition of done).

For DecisionTree, RandomForest, ExtraTrees, GradientBoosting and HistGradientBoosting, bare or after a scaler,
fitted on integer-grid or continuous data: the embedding with fixed inputs on and around every threshold
equals ``predict`` to 1e-9 relative; the min and max over a box equal ``predict`` at the optimum and are not
beaten by any cell of the thresholds (exhaustive enumeration of one point per cell, where that is small).
Hypothesis runs derandomized with a fixed number of examples, so the test is deterministic.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyomo.contrib.solver.common.factory import SolverFactory
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.tree import DecisionTreeRegressor

from optimizer.embedding import SOLVER_OPTIONS, add_predictor_constr, verify
from optimizer.embedding.splits import left_max

FAMILIES = {
    "tree": lambda s: DecisionTreeRegressor(max_depth=3, random_state=s),
    "forest": lambda s: RandomForestRegressor(n_estimators=3, max_depth=3, random_state=s),
    "extra": lambda s: ExtraTreesRegressor(n_estimators=3, max_depth=3, random_state=s),
    "gbr": lambda s: GradientBoostingRegressor(n_estimators=4, max_depth=2, learning_rate=0.7, random_state=s),
    "hgb": lambda s: HistGradientBoostingRegressor(max_iter=4, max_depth=2, learning_rate=0.7, random_state=s),
}
SCALERS = {"none": None, "standard": StandardScaler, "minmax": MinMaxScaler}
N_IN = 2
MAX_CELLS = 40_000
PER_INPUT = 6  # thresholds per input whose neighbourhoods are checked with fixed inputs (spread over the range)


def _fit(family: str, scaler: str, grid: bool, seed: int):  # noqa: ANN202
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 12, (80, N_IN)).astype(float) if grid else rng.uniform(-3.0, 9.0, (80, N_IN))
    y = np.sin(X[:, 0]) * 3 + X[:, 1] + (X[:, 0] > X[:, 1]) + 0.1 * rng.normal(size=len(X))
    model = FAMILIES[family](seed)
    est = model if SCALERS[scaler] is None else Pipeline([("s", SCALERS[scaler]()), ("m", model)])
    return est.fit(X, y), X


def _boundaries(est) -> list[np.ndarray]:  # noqa: ANN001
    """Per input: the largest values sent left by some split, in the input's own units (before any scaler)."""
    final = est[-1] if isinstance(est, Pipeline) else est
    if isinstance(final, HistGradientBoostingRegressor):
        nodes = [(p[0].nodes["feature_idx"], p[0].nodes["num_threshold"], ~p[0].nodes["is_leaf"].astype(bool))
                 for p in final._predictors]
        dtype = np.float64
    else:
        trees = np.ravel(final.estimators_) if hasattr(final, "estimators_") else [final]
        nodes = [(t.tree_.feature, t.tree_.threshold, t.tree_.children_left >= 0) for t in trees]
        dtype = np.float32
    out: list[list[float]] = [[] for _ in range(N_IN)]
    for feat, thr, inner in nodes:
        for f, t in zip(feat[inner], thr[inner], strict=True):
            out[int(f)].append(left_max(float(t), dtype))
    if isinstance(est, Pipeline):  # map back through the scaler: the largest x whose scaled value is <= b
        for f in range(N_IN):
            out[f] = _x_left_max(est[0], f, out[f])
    return [np.unique(v) for v in out]


def _x_left_max(scaler, f: int, bounds: list[float]) -> list[float]:  # noqa: ANN001
    """Per boundary b: the largest x of input f that ``scaler.transform`` maps to at most b (bisection over
    float64 around the inverse, all boundaries at once)."""
    if not bounds:
        return []
    b = np.asarray(bounds)
    z = np.zeros((len(b), N_IN))
    z[:, f] = b
    x = scaler.inverse_transform(z)[:, f]
    width = 1e-6 * np.maximum(1.0, np.abs(x))
    lo, hi = x - width, x + width  # scaled(lo) <= b < scaled(hi)

    def scaled(v: np.ndarray) -> np.ndarray:
        rows = np.zeros((len(v), N_IN))
        rows[:, f] = v
        return scaler.transform(rows)[:, f]

    assert np.all(scaled(lo) <= b) and np.all(scaled(hi) > b)
    for _ in range(200):
        mid = lo + (hi - lo) / 2
        done = (mid <= lo) | (mid >= hi)
        if done.all():
            return lo.tolist()
        left = scaled(mid) <= b
        lo, hi = np.where(~done & left, mid, lo), np.where(~done & ~left, mid, hi)
    raise AssertionError("bisection did not converge")


def _around(b: float) -> list[float]:
    """b and its neighbours in float64 and float32."""
    up32 = float(np.nextafter(np.float32(b), np.float32(np.inf)))
    dn32 = float(np.nextafter(np.float32(b), np.float32(-np.inf)))
    return [b, float(np.nextafter(b, np.inf)), float(np.nextafter(b, -np.inf)), up32, dn32, float(np.float32(b))]


def _solve(m: pyo.ConcreteModel) -> None:
    res = SolverFactory("highs").solve(m, time_limit=60, solver_options=dict(SOLVER_OPTIONS))
    assert res.solution_status.name in ("optimal", "feasible"), res.termination_condition


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(family=st.sampled_from(sorted(FAMILIES)), scaler=st.sampled_from(sorted(SCALERS)), grid=st.booleans(),
       seed=st.integers(0, 10_000), box=st.tuples(st.floats(0.0, 0.6), st.floats(0.0, 0.6)))
@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_embedding_equals_predict_on_thresholds_and_optima(family, scaler, grid, seed, box):
    est, X = _fit(family, scaler, grid, seed)
    bounds = _boundaries(est)
    # 1. fixed inputs (build-time context) on and around every threshold: equal predict
    rows = []
    for f in range(N_IN):
        other = float(np.median(X[:, 1 - f]))
        for b in bounds[f][np.linspace(0, len(bounds[f]) - 1, min(len(bounds[f]), PER_INPUT)).astype(int)]:
            for v in _around(float(b)):
                row = [other] * N_IN
                row[f] = v
                rows.append(row)
    rows = np.array(rows)
    want = est.predict(rows)
    for row, w in zip(rows, want, strict=True):
        m = pyo.ConcreteModel()
        m.y = pyo.Var()
        h = add_predictor_constr(m, est, [float(v) for v in row], m.y)
        assert abs(pyo.value(h.prediction) - w) <= 1e-9 * max(1.0, abs(w)), (row, pyo.value(h.prediction), w)
    # 2. min and max over a box = predict at the optimum, not beaten by any threshold cell
    lo_q, hi_q = box
    lb = np.quantile(X, lo_q / 2, axis=0)
    ub = np.quantile(X, 1.0 - hi_q / 2, axis=0)
    if grid:
        lb, ub = np.floor(lb), np.ceil(ub)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(N_IN), bounds=lambda _m, i: (float(lb[i]), float(ub[i])),
                  domain=pyo.Integers if grid else pyo.Reals)
    m.y = pyo.Var()
    h = add_predictor_constr(m, est, [m.x[i] for i in range(N_IN)], m.y)
    cells = [_cell_points(bounds[f], float(lb[f]), float(ub[f]), grid) for f in range(N_IN)]
    small = np.prod([len(c) for c in cells]) <= MAX_CELLS
    values = est.predict(np.array(list(itertools.product(*cells)))) if small else None
    for sense in (pyo.maximize, pyo.minimize):
        m.obj = pyo.Objective(expr=m.y, sense=sense)
        _solve(m)
        assert verify(h, rtol=1e-9, atol=1e-9) == [], verify(h)
        if small:
            best = values.max() if sense == pyo.maximize else values.min()
            assert abs(pyo.value(m.y) - best) <= 1e-9 * max(1.0, abs(best)), (sense, pyo.value(m.y), best)
        m.del_component(m.obj)


def _cell_points(bounds: np.ndarray, lb: float, ub: float, grid: bool) -> list[float]:
    """One point in every cell of the thresholds inside [lb, ub] (every integer on a grid)."""
    if grid:
        return [float(v) for v in np.arange(lb, ub + 1)]
    inside = [float(b) for b in bounds if lb <= b < ub]
    return sorted({lb, ub, *inside})
