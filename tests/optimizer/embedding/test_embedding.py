"""Embedding: fixed inputs reproduce predict exactly for every supported kind; optimum = brute force; errors."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
from pyomo.contrib.solver.common.factory import SolverFactory
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge, RidgeCV
from sklearn.neighbors import KNeighborsRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeRegressor

from optimizer.embedding import UnsupportedEstimatorError, add_predictor_constr

KINDS = {
    "linear": lambda s: LinearRegression(),
    "ridge": lambda s: Ridge(alpha=0.5),
    "ridgecv": lambda s: RidgeCV(),
    "lasso": lambda s: Lasso(alpha=0.01),
    "enet": lambda s: ElasticNet(alpha=0.01),
    "tree": lambda s: DecisionTreeRegressor(max_depth=5, random_state=s),
    "forest": lambda s: RandomForestRegressor(n_estimators=8, max_depth=4, random_state=s),
    "extra": lambda s: ExtraTreesRegressor(n_estimators=8, max_depth=4, random_state=s),
    "gbr": lambda s: GradientBoostingRegressor(n_estimators=15, max_depth=3, random_state=s),
    "hgb": lambda s: HistGradientBoostingRegressor(max_iter=15, random_state=s),
    "mlp": lambda s: MLPRegressor(hidden_layer_sizes=(8, 6), max_iter=800, random_state=s),
    "scaled_mlp": lambda s: Pipeline([("s", StandardScaler()), ("m", MLPRegressor(hidden_layer_sizes=(6,),
                                                                                  max_iter=800, random_state=s))]),
    "minmax_gbr": lambda s: Pipeline([("s", MinMaxScaler()), ("m", GradientBoostingRegressor(n_estimators=10))]),
    # additive in inputs 2 and 3 given 0 and 1: after pruning by the context, trees are merged per input
    "hgb_additive": lambda s: HistGradientBoostingRegressor(max_iter=30, max_depth=4, random_state=s,
                                                            interaction_cst=[[0, 1, 2], [0, 1, 3]]),
    "stumps": lambda s: GradientBoostingRegressor(n_estimators=40, max_depth=1, random_state=s),
}


def data(seed: int, n: int = 250):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 2, (n, 4))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 - X[:, 2] * X[:, 3] + 0.05 * rng.normal(size=n)
    return X, y


def solve(m: pyo.ConcreteModel) -> None:
    res = SolverFactory("highs").solve(m, time_limit=60)
    assert res.solution_status.name in ("optimal", "feasible")


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("seed", [0, 1])
def test_fixed_inputs_reproduce_predict(kind, seed):
    X, y = data(seed)
    est = KINDS[kind](seed).fit(X, y)
    rng = np.random.default_rng(100 + seed)
    for x0 in rng.uniform(-1, 2, (4, 4)):
        m = pyo.ConcreteModel()
        m.x = pyo.Var(range(4), bounds=(-1, 2))
        m.y = pyo.Var()
        add_predictor_constr(m, est, [m.x[i] for i in range(4)], m.y)
        for i in range(4):
            m.x[i].fix(float(x0[i]))
        m.obj = pyo.Objective(expr=m.y)
        solve(m)
        want = float(est.predict(x0[None])[0])
        assert pyo.value(m.y) == pytest.approx(want, rel=1e-6, abs=1e-6)
        # the same point with the first two inputs as build-time context
        m2 = pyo.ConcreteModel()
        m2.x = pyo.Var(range(2, 4), bounds=(-1, 2))
        m2.y = pyo.Var()
        h = add_predictor_constr(m2, est, [float(x0[0]), float(x0[1]), m2.x[2], m2.x[3]], m2.y)
        m2.x[2].fix(float(x0[2]))
        m2.x[3].fix(float(x0[3]))
        m2.obj = pyo.Objective(expr=m2.y)
        solve(m2)
        assert pyo.value(m2.y) == pytest.approx(want, rel=1e-6, abs=1e-6)
        model_value, predicted = h.check()
        assert model_value == pytest.approx(predicted, rel=1e-6, abs=1e-6)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("kind", ["tree", "forest", "gbr", "hgb", "mlp", "ridge"])
def test_optimum_matches_brute_force_on_grid(kind):
    X, y = data(3)
    X = np.round(X)  # integer-valued training inputs: the optimum lies on the integer grid
    est = KINDS[kind](3).fit(X, y)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(4), bounds=(-1, 2), domain=pyo.Integers)
    m.y = pyo.Var()
    h = add_predictor_constr(m, est, [m.x[i] for i in range(4)], m.y)
    m.obj = pyo.Objective(expr=m.y, sense=pyo.minimize)
    solve(m)
    grid = np.array(list(itertools.product(range(-1, 3), repeat=4)), dtype=float)
    best = float(est.predict(grid).min())
    assert pyo.value(m.y) == pytest.approx(best, rel=1e-6, abs=1e-6)
    model_value, predicted = h.check()  # the optimum is a real prediction, not a threshold artefact
    assert model_value == pytest.approx(predicted, rel=1e-6, abs=1e-6)


def test_continuous_optimum_is_a_real_prediction():
    """At thresholds, x <= t goes left; the right branch needs x >= t + eps: no phantom values."""
    X, y = data(5)
    est = GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0).fit(X, y)
    for sense in (pyo.minimize, pyo.maximize):
        m = pyo.ConcreteModel()
        m.x = pyo.Var(range(4), bounds=(-1, 2))
        m.y = pyo.Var()
        h = add_predictor_constr(m, est, [m.x[i] for i in range(4)], m.y)
        m.obj = pyo.Objective(expr=m.y, sense=sense)
        solve(m)
        model_value, predicted = h.check()
        assert model_value == pytest.approx(predicted, abs=1e-6)


def test_pipeline_with_fixed_category_and_names():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"grade": rng.choice(["A", "B", "C"], 300), "o2": rng.uniform(100, 800, 300),
                       "add": rng.uniform(0, 50, 300)})
    y = df["add"] * np.where(df["grade"] == "B", 2.0, 1.0) - 0.01 * df["o2"]
    pre = ColumnTransformer([("cat", OneHotEncoder(), ["grade"]), ("num", StandardScaler(), ["o2", "add"])])
    est = Pipeline([("pre", pre), ("m", GradientBoostingRegressor(n_estimators=20, max_depth=3))]).fit(df, y)
    m = pyo.ConcreteModel()
    m.a = pyo.Var(bounds=(0, 50))
    m.y = pyo.Var()
    h = add_predictor_constr(m, est, {"grade": "B", "o2": 400.0, "add": m.a}, m.y)
    m.a.fix(20.0)
    m.obj = pyo.Objective(expr=m.y)
    solve(m)
    want = est.predict(pd.DataFrame({"grade": ["B"], "o2": [400.0], "add": [20.0]}))[0]
    assert pyo.value(m.y) == pytest.approx(want, rel=1e-6)
    assert h.n_binaries < 20 * 8  # the context pruned the trees
    with pytest.raises(ValueError, match=r"missing \['add'\]"):
        add_predictor_constr(m, est, {"grade": "B", "o2": 400.0}, m.y)
    m.g = pyo.Var(bounds=(0, 1))
    with pytest.raises(ValueError, match="categorical input 'grade' must be fixed"):
        add_predictor_constr(m, est, {"grade": m.g, "o2": 400.0, "add": m.a}, m.y)


def test_errors_name_the_problem():
    X, y = data(0)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(4), bounds=(-1, 2))
    m.free = pyo.Var()
    m.y = pyo.Var()
    with pytest.raises(UnsupportedEstimatorError, match="KNeighborsRegressor cannot be embedded; supported"):
        add_predictor_constr(m, KNeighborsRegressor().fit(X, y), [m.x[i] for i in range(4)], m.y)
    with pytest.raises(ValueError, match="needs finite bounds"):
        add_predictor_constr(m, Ridge().fit(X, y), [m.x[0], m.x[1], m.x[2], m.free], m.y)
    with pytest.raises(NotFittedError, match="Ridge is not fitted"):
        add_predictor_constr(m, Ridge(), [m.x[i] for i in range(4)], m.y)
    with pytest.raises(ValueError, match="got 3 inputs, but Ridge is expecting 4 features"):
        add_predictor_constr(m, Ridge().fit(X, y), [m.x[i] for i in range(3)], m.y)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("sense", [pyo.minimize, pyo.maximize])
def test_trees_on_one_free_input_are_merged_exactly(sense):
    """200 boosted trees additive in the two decisions: one step function per decision, far fewer binaries
    than one per leaf of every tree, and the optimum equals brute force over a fine grid of the decisions."""
    X, y = data(7, n=600)
    est = HistGradientBoostingRegressor(max_iter=200, max_depth=5, random_state=0,
                                        interaction_cst=[[0, 1, 2], [0, 1, 3]]).fit(X, y)
    context = [0.3, 1.1]
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2, 4), bounds=(-1, 2))
    m.y = pyo.Var()
    h = add_predictor_constr(m, est, [*context, m.x[2], m.x[3]], m.y)
    m.obj = pyo.Objective(expr=m.y, sense=sense)
    solve(m)
    model_value, predicted = h.check()
    assert model_value == pytest.approx(predicted, rel=1e-6, abs=1e-6)
    thresholds = {f: sorted({float(t) for p in est._predictors for t in p[0].nodes["num_threshold"][
        (~p[0].nodes["is_leaf"].astype(bool)) & (p[0].nodes["feature_idx"] == f)]}) for f in (2, 3)}
    assert h.n_binaries <= sum(len(t) + 1 for t in thresholds.values())  # one per piece, not per leaf
    # brute force: the prediction only changes at thresholds, so one point per piece covers every value
    pts = {f: [-1.0, *[min(t + 1e-7, 2.0) for t in thresholds[f] if -1 <= t < 2]] for f in (2, 3)}
    grid = np.array([[*context, a, b] for a in pts[2] for b in pts[3]])
    best = est.predict(grid).min() if sense == pyo.minimize else est.predict(grid).max()
    assert pyo.value(m.y) == pytest.approx(float(best), rel=1e-6, abs=1e-6)


def test_several_models_share_one_step_function_per_input():
    """Three boosted models (different targets) over the same inputs, additive in the two decisions: embedded
    together they share one binary per piece of each decision, every output equals its model's predict, and
    the optimum of a weighted sum equals brute force over every combination of pieces."""
    from optimizer.embedding import add_predictors_constr

    X, _ = data(11, n=600)
    cols = ["a", "b", "c", "d"]
    frame = pd.DataFrame(X, columns=cols)
    targets = [np.sin(3 * X[:, 2]) + X[:, 0] * X[:, 3], np.cos(2 * X[:, 3]) - X[:, 2] ** 2, X[:, 1] * X[:, 2]]
    models = [HistGradientBoostingRegressor(max_iter=60, max_depth=4, random_state=k,
                                            interaction_cst=[[0, 1, 2], [0, 1, 3]]).fit(frame, t)
              for k, t in enumerate(targets)]
    context = {"a": 0.4, "b": -0.2}
    m = pyo.ConcreteModel()
    m.c = pyo.Var(bounds=(-1, 2))
    m.d = pyo.Var(bounds=(-0.5, 1.5))
    m.y = pyo.Var(range(3))
    handles = add_predictors_constr(m, models, {**context, "c": m.c, "d": m.d}, [m.y[k] for k in range(3)])
    weights = [1.0, -2.0, 0.5]
    m.obj = pyo.Objective(expr=sum(w * m.y[k] for k, w in enumerate(weights)))
    solve(m)
    for h in handles:
        model_value, predicted = h.check()
        assert model_value == pytest.approx(predicted, rel=1e-6, abs=1e-6)
    separate = pyo.ConcreteModel()
    separate.c, separate.d = pyo.Var(bounds=(-1, 2)), pyo.Var(bounds=(-0.5, 1.5))
    separate.y = pyo.Var(range(3))
    alone = sum(add_predictor_constr(separate, est, [context["a"], context["b"], separate.c, separate.d],
                                     separate.y[k]).n_binaries for k, est in enumerate(models))
    assert handles[0].n_binaries < alone  # shared thresholds (same binning): fewer binaries than one set each
    thresholds = {f: sorted({float(t) for est in models for p in est._predictors for t in p[0].nodes[
        "num_threshold"][(~p[0].nodes["is_leaf"].astype(bool)) & (p[0].nodes["feature_idx"] == f)]})
        for f in (2, 3)}
    pts = {2: [-1.0, *[t + 1e-7 for t in thresholds[2] if -1 <= t < 2]],
           3: [-0.5, *[t + 1e-7 for t in thresholds[3] if -0.5 <= t < 1.5]]}
    grid = pd.DataFrame([[context["a"], context["b"], c, d] for c in pts[2] for d in pts[3]], columns=cols)
    best = sum(w * est.predict(grid) for w, est in zip(weights, models, strict=True)).min()
    assert pyo.value(m.obj) == pytest.approx(float(best), rel=1e-6, abs=1e-6)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("long_chain", [None, 1])
def test_trees_on_several_inputs_share_threshold_indicators(long_chain, monkeypatch):
    """Two boosted models with interactions between three decisions, embedded together: one indicator per
    distinct threshold of each decision serves every tree of both (fewer binaries than separately, and no more
    than the thresholds inside the bounds), outputs equal predict, and the optimum equals brute force over
    every combination of pieces. ``long_chain=1``: every chain also gets piece binaries (the form long chains
    use), which must give the same optimum with one binary per piece on top of the indicators."""
    from optimizer.embedding import add_predictors_constr, trees

    if long_chain is not None:
        monkeypatch.setattr(trees, "LONG_CHAIN", long_chain)

    X, _ = data(13, n=400)
    cols = ["a", "b", "c", "d"]
    frame = pd.DataFrame(X, columns=cols)
    targets = [X[:, 1] * X[:, 2] - X[:, 3] ** 2 + X[:, 0], np.sin(2 * X[:, 1]) + X[:, 2] * X[:, 3]]
    models = [GradientBoostingRegressor(n_estimators=12, max_depth=3, random_state=k).fit(frame, t)
              for k, t in enumerate(targets)]
    bounds = {"b": (-1.0, 1.0), "c": (0.0, 2.0), "d": (-0.5, 1.5)}
    m = pyo.ConcreteModel()
    m.x = pyo.Var(list(bounds), bounds=lambda _m, c: bounds[c])
    m.y = pyo.Var(range(2))
    handles = add_predictors_constr(m, models, {"a": 0.3, **{c: m.x[c] for c in bounds}}, [m.y[0], m.y[1]])
    m.obj = pyo.Objective(expr=m.y[0] - 0.5 * m.y[1])
    solve(m)
    for h in handles:
        model_value, predicted = h.check()
        assert model_value == pytest.approx(predicted, rel=1e-6, abs=1e-6)
    cuts = {c: sorted({float(t) for est in models for tree in est.estimators_[:, 0]
                       for f, t in zip(tree.tree_.feature, tree.tree_.threshold, strict=True)
                       if f == j and bounds[c][0] <= t < bounds[c][1]})
            for j, c in enumerate(cols) if c in bounds}
    per_chain = (lambda k: k) if long_chain is None else (lambda k: 2 * k + 1)
    assert handles[0].n_binaries <= sum(per_chain(len(t)) for t in cuts.values())
    separate = pyo.ConcreteModel()
    separate.x = pyo.Var(list(bounds), bounds=lambda _m, c: bounds[c])
    separate.y = pyo.Var(range(2))
    alone = sum(add_predictor_constr(separate, est, [0.3, *(separate.x[c] for c in bounds)],
                                     separate.y[k]).n_binaries for k, est in enumerate(models))
    assert handles[0].n_binaries < alone
    pts = [[lo, *(t + 1e-7 for t in cuts[c])] for c, (lo, _) in bounds.items()]
    grid = pd.DataFrame([[0.3, b, c, d] for b in pts[0] for c in pts[1] for d in pts[2]], columns=cols)
    best = (models[0].predict(grid) - 0.5 * models[1].predict(grid)).min()
    assert pyo.value(m.obj) == pytest.approx(float(best), rel=1e-6, abs=1e-6)


def test_several_models_mix_trees_and_others_and_check_their_inputs():
    from optimizer.embedding import add_predictors_constr

    X, y = data(12)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    lin = LinearRegression().fit(frame[["a", "c"]], y)
    tree = DecisionTreeRegressor(max_depth=4, random_state=0).fit(frame, y)
    m = pyo.ConcreteModel()
    m.c = pyo.Var(bounds=(-1, 2))
    m.y = pyo.Var(range(2))
    inputs = {"a": 0.1, "b": 0.7, "c": m.c, "d": 1.2}
    handles = add_predictors_constr(m, [lin, tree], inputs, [m.y[0], m.y[1]])
    m.obj = pyo.Objective(expr=m.y[0] + m.y[1])
    solve(m)
    for h in handles:
        model_value, predicted = h.check()
        assert model_value == pytest.approx(predicted, rel=1e-6, abs=1e-6)
    with pytest.raises(ValueError, match="2 estimators but 1 outputs"):
        add_predictors_constr(m, [lin, tree], inputs, [m.y[0]])
    with pytest.raises(ValueError, match=r"features \['d'\]"):
        add_predictors_constr(m, [tree], {"a": 0.1, "b": 0.7, "c": m.c}, [m.y[1]])


@pytest.mark.filterwarnings("ignore")
def test_mlp_bounds_hold_and_are_tighter_than_intervals():
    """Back-substituted pre-activation bounds contain every sampled pre-activation and are never looser than
    interval arithmetic; on a 3-layer net they are strictly tighter somewhere (fewer unstable units)."""
    from optimizer.embedding.mlp import preactivation_bounds

    X, y = data(3, 400)
    est = MLPRegressor(hidden_layer_sizes=(16, 16, 8), max_iter=600, random_state=0).fit(X, y)
    lb, ub = np.array([-1.0, 0.5, -1.0, 0.0]), np.array([2.0, 0.5, 2.0, 1.0])  # input 1 fixed at 0.5
    bounds = preactivation_bounds(est.coefs_, est.intercepts_, lb, ub)
    h = np.random.default_rng(0).uniform(lb, ub, (5000, 4))
    gain = 0.0
    i_lo, i_hi = lb, ub
    for (w, b), (lo, hi) in zip(zip(est.coefs_[:-1], est.intercepts_[:-1], strict=True), bounds, strict=True):
        a = h @ w + b
        assert np.all(a >= lo - 1e-9) and np.all(a <= hi + 1e-9)
        interval_lo = b + np.clip(w, 0, None).T @ i_lo + np.clip(w, None, 0).T @ i_hi
        interval_hi = b + np.clip(w, 0, None).T @ i_hi + np.clip(w, None, 0).T @ i_lo
        assert np.all(lo >= interval_lo - 1e-9) and np.all(hi <= interval_hi + 1e-9)
        gain += float(np.sum(interval_hi - hi) + np.sum(lo - interval_lo))
        h = np.maximum(a, 0.0)
        i_lo, i_hi = np.maximum(interval_lo, 0.0), np.maximum(interval_hi, 0.0)
    assert gain > 0.0
