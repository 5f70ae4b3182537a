"""Independent oracle: the same dosing-shaped optimization built with OMLT reaches the same objective."""

from __future__ import annotations

import warnings

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.contrib.solver.common.factory import SolverFactory
from sklearn.ensemble import GradientBoostingRegressor

from optimizer.embedding import add_predictor_constr

pytest.importorskip("omlt")
pytest.importorskip("skl2onnx")


def _solve(m) -> float:
    res = SolverFactory("highs").solve(m, time_limit=120)
    return float(res.incumbent_objective)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_boosting_same_objective_as_omlt(seed):
    from omlt import OmltBlock
    from omlt.gbt import GBTBigMFormulation, GradientBoostedTreeModel
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (600, 5))
    y = X[:, 3] + 2 * X[:, 4] * X[:, 0] + np.sin(3 * X[:, 1]) - X[:, 2]
    est = GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=seed).fit(X, y)
    ctx = rng.uniform(0.2, 0.8, 2)
    probe = np.hstack([rng.uniform(0, 1, (300, 3)), np.tile(ctx, (300, 1))])
    target = float(np.median(est.predict(probe)))
    cost = [1.0, 2.0, 1.5]

    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), bounds=(0, 1))
    m.y = pyo.Var()
    add_predictor_constr(m, est, [m.x[0], m.x[1], m.x[2], float(ctx[0]), float(ctx[1])], m.y)
    m.c = pyo.Constraint(expr=m.y >= target)
    m.obj = pyo.Objective(expr=sum(cost[i] * m.x[i] for i in range(3)))
    ours = _solve(m)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onx = convert_sklearn(est, initial_types=[("x", FloatTensorType([None, 5]))], target_opset=12)
    o = pyo.ConcreteModel()
    o.gbt = OmltBlock()
    o.gbt.build_formulation(GBTBigMFormulation(GradientBoostedTreeModel(
        onx, scaled_input_bounds={i: (0.0, 1.0) for i in range(5)})))
    for i, v in enumerate(ctx):
        o.gbt.inputs[3 + i].fix(float(v))
    o.c = pyo.Constraint(expr=o.gbt.outputs[0] >= target)
    o.obj = pyo.Objective(expr=sum(cost[i] * o.gbt.inputs[i] for i in range(3)))
    theirs = _solve(o)
    # ONNX keeps thresholds in float32 and OMLT uses non-strict splits: allow a sliver at a threshold
    assert ours == pytest.approx(theirs, rel=1e-3, abs=1e-4)
