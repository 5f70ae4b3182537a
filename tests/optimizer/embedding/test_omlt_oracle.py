"""Independent oracle: the same dosing-shaped optimization built with OMLT reaches the same objective, for every
model kind OMLT can express (boosted trees and forests through ONNX, ReLU networks from their weights)."""

from __future__ import annotations

import warnings

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.contrib.solver.common.factory import SolverFactory
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.neural_network import MLPRegressor

from optimizer.embedding import add_predictor_constr


@pytest.fixture(autouse=True)
def _omlt_and_skl2onnx() -> None:
    """Skip where OMLT or skl2onnx (the dev extra) is missing. Imported when a test runs, as the functions below
    import them, not at collection: skl2onnx with onnx costs ~2 s of CPU, which every pytest-xdist worker paid;
    the module is one group of tests/xdist_groups.py."""
    pytest.importorskip("omlt")
    pytest.importorskip("skl2onnx")


N_IN = 5
COST = [1.0, 2.0, 1.5]
MODELS = {
    "gbr": lambda s: GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=s),
    "forest": lambda s: RandomForestRegressor(n_estimators=20, max_depth=4, random_state=s),
    "mlp": lambda s: MLPRegressor(hidden_layer_sizes=(12, 8), max_iter=800, random_state=s),
}


def _solve(m) -> float:
    res = SolverFactory("highs").solve(m, time_limit=120)
    return float(res.incumbent_objective)


def _omlt_trees(est):  # noqa: ANN001, ANN202
    from omlt.gbt import GBTBigMFormulation, GradientBoostedTreeModel
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    with warnings.catch_warnings():  # skl2onnx stores a forest's leaves divided by the number of trees
        warnings.simplefilter("ignore")
        onx = convert_sklearn(est, initial_types=[("x", FloatTensorType([None, N_IN]))], target_opset=12)
    return GBTBigMFormulation(GradientBoostedTreeModel(onx, scaled_input_bounds={i: (0.0, 1.0) for i in range(N_IN)}))


def _omlt_mlp(est):  # noqa: ANN001, ANN202
    from omlt.neuralnet import NetworkDefinition, ReluBigMFormulation
    from omlt.neuralnet.layer import DenseLayer, InputLayer

    net = NetworkDefinition(scaled_input_bounds={i: (0.0, 1.0) for i in range(N_IN)})
    prev = InputLayer([N_IN])
    net.add_layer(prev)
    for k, (w, b) in enumerate(zip(est.coefs_, est.intercepts_, strict=True)):
        layer = DenseLayer(prev.output_size, [w.shape[1]], w, b,
                           activation="relu" if k < len(est.coefs_) - 1 else "linear")
        net.add_layer(layer)
        net.add_edge(prev, layer)
        prev = layer
    return ReluBigMFormulation(net)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("kind", sorted(MODELS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_objective_as_omlt(kind, seed):
    from omlt import OmltBlock

    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (600, N_IN))
    y = X[:, 3] + 2 * X[:, 4] * X[:, 0] + np.sin(3 * X[:, 1]) - X[:, 2]
    est = MODELS[kind](seed).fit(X, y)
    ctx = rng.uniform(0.2, 0.8, 2)
    probe = np.hstack([rng.uniform(0, 1, (300, 3)), np.tile(ctx, (300, 1))])
    target = float(np.median(est.predict(probe)))

    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), bounds=(0, 1))
    m.y = pyo.Var()
    add_predictor_constr(m, est, [m.x[0], m.x[1], m.x[2], float(ctx[0]), float(ctx[1])], m.y)
    m.c = pyo.Constraint(expr=m.y >= target)
    m.obj = pyo.Objective(expr=sum(COST[i] * m.x[i] for i in range(3)))
    ours = _solve(m)

    o = pyo.ConcreteModel()
    o.omlt = OmltBlock()
    o.omlt.build_formulation(_omlt_mlp(est) if kind == "mlp" else _omlt_trees(est))
    for i, v in enumerate(ctx):
        o.omlt.inputs[3 + i].fix(float(v))
    o.c = pyo.Constraint(expr=o.omlt.outputs[next(iter(o.omlt.outputs.keys()))] >= target)
    o.obj = pyo.Objective(expr=sum(COST[i] * o.omlt.inputs[i] for i in range(3)))
    theirs = _solve(o)
    # ONNX keeps thresholds in float32 and OMLT uses non-strict splits: allow a sliver at a threshold
    assert ours == pytest.approx(theirs, rel=1e-3, abs=1e-4)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("kind", ["gbr", "forest"])
def test_same_objective_as_omlt_with_every_chain_in_pieces(kind, monkeypatch):
    """The encoding long threshold chains get (piece binaries, indicators as their running sums), forced on
    every chain of these small models: still OMLT's objective."""
    from optimizer.embedding import trees

    monkeypatch.setattr(trees, "LONG_CHAIN", 1)
    test_same_objective_as_omlt(kind, 0)
