"""Estimator options (issue 19, classes 4-5): embedded exactly where possible, otherwise refused with
UnsupportedEstimatorError naming the option; dispatch by type, base classes and a user registry."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
from pyomo.contrib.solver.common.factory import SolverFactory
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.tree import DecisionTreeRegressor

from optimizer.embedding import (
    SOLVER_OPTIONS,
    Embedded,
    UnsupportedEstimatorError,
    add_predictor_constr,
    register_predictor,
    verify,
)


def _data(seed: int = 0, n: int = 200):  # noqa: ANN202
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 4, (n, 3))
    return X, np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=n)


def _solve(m: pyo.ConcreteModel) -> None:
    res = SolverFactory("highs").solve(m, time_limit=60, solver_options=dict(SOLVER_OPTIONS))
    assert res.solution_status.name in ("optimal", "feasible")


def _at(est, x0, **kw) -> float:  # noqa: ANN001
    """The embedded model's value at the fixed point x0 (inputs as variables fixed after building)."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(len(x0)), bounds=(-1.0, 5.0))
    m.y = pyo.Var()
    h = add_predictor_constr(m, est, [m.x[i] for i in range(len(x0))], m.y, **kw)
    for i, v in enumerate(x0):
        m.x[i].fix(float(v))
    m.obj = pyo.Objective(expr=m.y)
    _solve(m)
    assert verify(h) == []
    return h.model_value()


@pytest.mark.parametrize("init", [None, "zero", DummyRegressor(strategy="median"), DecisionTreeRegressor(max_depth=2),
                                  RandomForestRegressor(n_estimators=3, max_depth=2, random_state=0)])
def test_gbr_init_constant_or_tree_is_embedded(init):
    X, y = _data()
    est = GradientBoostingRegressor(n_estimators=10, max_depth=2, init=init, random_state=0).fit(X, y)
    for x0 in X[:4]:
        assert _at(est, x0) == pytest.approx(est.predict(x0[None])[0], rel=1e-9, abs=1e-12)


def test_gbr_init_linear_is_refused():
    X, y = _data()
    est = GradientBoostingRegressor(n_estimators=5, init=LinearRegression()).fit(X, y)
    with pytest.raises(UnsupportedEstimatorError, match=r"init=LinearRegression\(\)"):
        _at(est, X[0])


@pytest.mark.parametrize("loss", ["poisson", "gamma"])
def test_hgb_log_link_refused_or_embedded_as_log(loss):
    X, y = _data()
    X = np.round(X)
    y = np.exp(0.3 * y)
    est = HistGradientBoostingRegressor(loss=loss, max_iter=15, max_depth=3, random_state=0).fit(X, y)
    with pytest.raises(UnsupportedEstimatorError, match=f"loss='{loss}'.*log_output=True"):
        _at(est, X[0])
    for x0 in X[:3]:
        assert _at(est, x0, log_output=True) == pytest.approx(est.predict(x0[None])[0], rel=1e-9)
    m = pyo.ConcreteModel()  # max of log(predict) over the integer grid is log of the best prediction
    m.x = pyo.Var(range(3), bounds=(0, 4), domain=pyo.Integers)
    m.y = pyo.Var()
    h = add_predictor_constr(m, est, [m.x[i] for i in range(3)], m.y, log_output=True)
    m.obj = pyo.Objective(expr=m.y, sense=pyo.maximize)
    _solve(m)
    grid = np.array(list(itertools.product(range(5), repeat=3)), dtype=float)
    assert np.exp(pyo.value(m.y)) == pytest.approx(est.predict(grid).max(), rel=1e-9)
    assert verify(h) == []
    with pytest.raises(ValueError, match="log_output=True is for models"):
        _at(DecisionTreeRegressor().fit(X, y), X[0], log_output=True)


def test_minmax_clip_is_exact_outside_the_training_range():
    X, y = _data()
    est = Pipeline([("s", MinMaxScaler(clip=True)), ("m", Ridge(alpha=0.1))]).fit(X, y)
    for x0 in ([-1.0, 2.0, 5.0], [4.5, -0.5, 1.0], [1.0, 2.0, 3.0]):
        assert _at(est, x0) == pytest.approx(est.predict(np.array([x0]))[0], rel=1e-9)
    m = pyo.ConcreteModel()  # extremes over a box wider than the training range: clip holds the inputs at 0/1
    m.x = pyo.Var(range(3), bounds=(-1.0, 5.0))
    m.y = pyo.Var()
    h = add_predictor_constr(m, est, [m.x[i] for i in range(3)], m.y)
    for sense in (pyo.maximize, pyo.minimize):
        m.obj = pyo.Objective(expr=m.y, sense=sense)
        _solve(m)
        corners = np.array(list(itertools.product([-1.0, 5.0], repeat=3)))
        best = est.predict(corners).max() if sense == pyo.maximize else est.predict(corners).min()
        assert pyo.value(m.y) == pytest.approx(best, rel=1e-9) and verify(h) == []
        m.del_component(m.obj)


def test_hgb_routes_nan_context_as_predict():
    X, y = _data()
    X[::5, 0] = np.nan
    est = HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(X, y)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(1, 3), bounds=(0, 4))
    m.y = pyo.Var()
    h = add_predictor_constr(m, est, [float("nan"), m.x[1], m.x[2]], m.y)
    m.x[1].fix(1.5)
    m.x[2].fix(2.5)
    m.obj = pyo.Objective(expr=m.y)
    _solve(m)
    assert pyo.value(m.y) == pytest.approx(est.predict([[np.nan, 1.5, 2.5]])[0], rel=1e-12)
    assert verify(h) == []
    gbr = GradientBoostingRegressor(n_estimators=3).fit(np.nan_to_num(X), y)
    with pytest.raises(ValueError, match=r"\['x0'\] are NaN"):
        add_predictor_constr(pyo.ConcreteModel(), gbr, [float("nan"), 1.0, 1.0], 0.0)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("make", [lambda: DecisionTreeRegressor(max_depth=4, random_state=0),
                                  lambda: RandomForestRegressor(n_estimators=4, max_depth=3, random_state=0),
                                  lambda: MLPRegressor(hidden_layer_sizes=(6,), max_iter=300, random_state=0),
                                  lambda: Ridge(alpha=0.5)])
def test_multi_output_by_index(make):
    X, y = _data()
    Y = np.column_stack([y, -2 * y + X[:, 0], X[:, 1]])
    est = make().fit(X, Y)
    with pytest.raises(ValueError, match=r"predicts 3 outputs; pass output_index \(0 to 2\)"):
        _at(est, X[0])
    with pytest.raises(ValueError, match="output_index=3 is out of range"):
        _at(est, X[0], output_index=3)
    for k in range(3):
        for x0 in X[:2]:
            assert _at(est, x0, output_index=k) == pytest.approx(est.predict(x0[None])[0, k], rel=1e-9, abs=1e-9)


def test_fixed_inputs_with_unknown_name_is_refused():
    X, y = _data()
    est = Ridge().fit(X, y)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), bounds=(0, 1))
    with pytest.raises(ValueError, match=r"fixed_inputs \['typo'\] are not features"):
        add_predictor_constr(m, est, [m.x[0], m.x[1], m.x[2]], 0.0, fixed_inputs={"typo": 1.0})


def test_column_transformer_passthrough_and_remainder():
    X, y = _data()
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    ct = ColumnTransformer([("s", StandardScaler(), ["a"]), ("p", "passthrough", ["b"])], remainder="passthrough")
    est = Pipeline([("ct", ct), ("m", GradientBoostingRegressor(n_estimators=10, random_state=0))]).fit(df, y)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(["a", "b"], bounds=(0, 4))
    m.y = pyo.Var()
    h = add_predictor_constr(m, est, {"a": m.x["a"], "b": m.x["b"], "c": 2.0}, m.y)
    m.obj = pyo.Objective(expr=m.y, sense=pyo.maximize)
    _solve(m)
    assert verify(h) == []
    model_value, predicted = h.check()
    assert model_value == pytest.approx(predicted, rel=1e-9)


@pytest.mark.parametrize("activation", ["tanh", "logistic"])
def test_smooth_mlp_is_refused(activation):
    X, y = _data()
    est = MLPRegressor(hidden_layer_sizes=(4,), activation=activation, max_iter=50).fit(X, y)
    with pytest.raises(UnsupportedEstimatorError, match=f"activation='{activation}'"):
        _at(est, X[0])


class MyRidge(Ridge):
    """A subclass: embedded as a Ridge (base-class dispatch)."""


class Doubler(RegressorMixin, BaseEstimator):
    """A user's model, embedded through the registry."""

    def fit(self, X, y):  # noqa: ANN001, ANN201
        self.n_features_in_ = np.shape(X)[1]
        self.is_fitted_ = True
        return self

    def predict(self, X):  # noqa: ANN001, ANN201
        return 2.0 * np.asarray(X, dtype=float).sum(axis=1)


def test_dispatch_by_type_base_classes_and_registry():
    X, y = _data()
    sub = MyRidge(alpha=0.3).fit(X, y)
    assert _at(sub, X[0]) == pytest.approx(sub.predict(X[:1])[0], rel=1e-9)
    with pytest.raises(UnsupportedEstimatorError, match="Doubler cannot be embedded"):
        _at(Doubler().fit(X, y), X[0])
    register_predictor(Doubler, lambda _b, _e, feats, _k: Embedded(sum(2.0 * f.expr for f in feats), 0))
    assert _at(Doubler().fit(X, y), X[0]) == pytest.approx(2.0 * X[0].sum(), rel=1e-12)
