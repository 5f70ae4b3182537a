"""Tree semantics identical to predict (issue 19, failure classes 1-3): float32 comparisons, a margin above the
solver's tolerance, bounds inside the gap; and verify/repair at the solution."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.contrib.solver.common.factory import SolverFactory
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor
from sklearn.tree import DecisionTreeRegressor

from optimizer.embedding import SOLVER_OPTIONS, ModelCheck, add_predictor_constr, check_solution, repair, verify
from optimizer.embedding.splits import FEASIBILITY_TOL, left_max, margin


def _solve(m: pyo.ConcreteModel, options: dict | None = None) -> None:
    res = SolverFactory("highs").solve(m, time_limit=60, solver_options=dict(SOLVER_OPTIONS if options is None
                                                                               else options))
    assert res.solution_status.name in ("optimal", "feasible"), res.termination_condition


def _one_input(est, lb: float, ub: float, sense=pyo.maximize, domain=pyo.Reals):  # noqa: ANN001, ANN202
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(lb, ub), domain=domain)
    m.y = pyo.Var()
    h = add_predictor_constr(m, est, [m.x], m.y)
    m.obj = pyo.Objective(expr=m.y, sense=sense)
    return m, h


def test_left_max_is_the_boundary_predict_uses():
    rng = np.random.default_rng(0)
    ts = np.concatenate([rng.normal(size=3000) * 10 ** rng.uniform(-20, 6, 3000), [100.5, 0.5, 501.0, 0.0]])
    for t in ts:
        b = left_max(float(t), np.float32)
        assert float(np.float32(b)) <= t < float(np.float32(np.nextafter(b, np.inf)))
        assert left_max(float(t), np.float64) == t


def test_float32_threshold_decides_like_predict():
    """Class 1: DecisionTree on x = 0..199, y = [x > 100] has t = 100.5; x = 100.500001 goes left in predict."""
    X = np.arange(200.0)[:, None]
    est = DecisionTreeRegressor(max_depth=1).fit(X, (X[:, 0] > 100).astype(float))
    assert est.tree_.threshold[0] == 100.5
    m, h = _one_input(est, 0.0, 199.0)
    _solve(m)
    assert verify(h) == []
    x = pyo.value(m.x)
    assert pyo.value(m.y) == est.predict([[x]])[0] == 1.0
    assert float(np.float32(x)) > 100.5
    right32 = float(np.nextafter(np.float32(100.5), np.float32(200)))
    for x0 in (100.5, 100.500001, right32 - 1e-9, right32, right32 + 1e-9):
        m, _ = _one_input(est, x0, x0)  # a box of one point: decided at build time, as predict decides
        _solve(m)
        assert pyo.value(m.y) == est.predict([[x0]])[0]
        m, _ = _one_input(est, 0.0, 199.0)  # fixed after building: left of the boundary, or past the gap
        if x0 <= 100.500001 or x0 > 100.5 + margin(0.0, 199.0) + 1e-6:
            m.x.fix(x0)
            _solve(m)
            assert pyo.value(m.y) == est.predict([[x0]])[0]


def test_threshold_not_a_float32_value():
    """Class 1: a midpoint of two adjacent float32 values is not a float32: x = t itself can go right."""
    a = float(np.float32(1632.50525))
    b = float(np.nextafter(np.float32(a), np.float32(2000)))
    X = np.array([[0.0], [a], [b], [2000.0]])
    est = GradientBoostingRegressor(n_estimators=3, max_depth=1, learning_rate=1.0).fit(X, [0.0, 0.0, 5.0, 5.0])
    t = float(est.estimators_[0, 0].tree_.threshold[0])
    assert float(np.float32(t)) != t  # not representable
    values = [t, float(np.nextafter(t, 0)), float(np.nextafter(t, 3000)), a, b, float(left_max(t, np.float32))]
    for x0 in values:
        m, _ = _one_input(est, x0, x0)
        _solve(m)
        assert pyo.value(m.y) == pytest.approx(est.predict([[x0]])[0], rel=1e-12, abs=1e-12)


def _hgb_501():  # noqa: ANN202
    X = np.arange(1000.0)[:, None]
    y = np.sin(X[:, 0] / 40.0) + (X[:, 0] > 501)
    est = HistGradientBoostingRegressor(max_iter=1, max_depth=2, learning_rate=1.0).fit(X, y)
    return est


def test_margin_exceeds_the_solver_tolerance():
    """Class 2: x pinned on a threshold (fixed, integer, or held by another constraint) keeps its left leaf."""
    est = _hgb_501()
    root = est._predictors[0][0].nodes[0]
    t = float(root["num_threshold"])
    assert margin(0.0, 999.0) >= 10 * FEASIBILITY_TOL * 999
    for how in ("fixed", "row", "integer row"):
        m, h = _one_input(est, 0.0, 999.0, domain=pyo.Integers if how == "integer row" else pyo.Reals)
        if how == "fixed":
            m.x.fix(t)
        else:
            m.pin = pyo.Constraint(expr=m.x == t)
        _solve(m)
        assert verify(h) == []
        assert pyo.value(m.y) == pytest.approx(est.predict([[t]])[0], rel=1e-9)


def test_integer_optimum_is_the_brute_force_optimum():
    est = _hgb_501()
    grid = np.arange(1000.0)[:, None]
    for sense, best in ((pyo.maximize, est.predict(grid).max()), (pyo.minimize, est.predict(grid).min())):
        m, h = _one_input(est, 0.0, 999.0, sense=sense, domain=pyo.Integers)
        _solve(m)
        assert pyo.value(m.y) == pytest.approx(best, rel=1e-9)
        assert verify(h) == []


def test_bound_inside_the_gap_keeps_the_right_leaf():
    """Class 3: t = 0.5 and ub = 0.5000005 < t + margin: x = ub goes right in predict, and so in the program."""
    X = np.array([[0.0], [0.25], [0.75], [1.0]])
    est = DecisionTreeRegressor(max_depth=1).fit(X, [0.0, 0.0, 1.0, 1.0])
    assert est.tree_.threshold[0] == 0.5
    ub = 0.5000005
    assert predict_at(est, ub) == 1.0
    m, h = _one_input(est, 0.0, ub)
    _solve(m)
    assert pyo.value(m.y) == 1.0 and verify(h) == []
    # a box inside the gap and a variable held there by a row: feasible, right leaf
    for lb in (ub, 0.0):
        m, h = _one_input(est, lb, ub, sense=pyo.minimize)
        m.pin = pyo.Constraint(expr=m.x >= ub)
        _solve(m)
        assert pyo.value(m.y) == 1.0 and verify(h) == []


def predict_at(est, x: float) -> float:  # noqa: ANN001
    return float(est.predict([[x]])[0])


def test_verify_reports_and_repair_snaps_into_the_chosen_piece():
    """A solution that slipped off its piece (as a loose solver tolerance allows) is found and repaired."""
    X = np.arange(200.0)[:, None]
    est = DecisionTreeRegressor(max_depth=1).fit(X, (X[:, 0] > 100).astype(float))
    m, h = _one_input(est, 0.0, 199.0)
    _solve(m)
    start = h.pieces[0].piece(h.pieces[0].selected())[0]
    m.x.set_value(start - 0.5 * margin(0.0, 199.0) - 1e-3)  # inside the gap, below the right piece: left in predict
    found = verify(h)
    assert len(found) == 1 and found[0].model_value == 1.0 and found[0].predicted == 0.0
    assert "DecisionTreeRegressor" in str(found[0])
    assert repair(h) == 1
    assert verify(h) == [] and pyo.value(m.x) >= start


def test_check_solution_repairs_counts_and_reports(caplog):
    """What every product solve calls: a slipped input is repaired (counted); a solution the repair cannot make
    exact (a fractional binary) is described and logged as a warning."""
    X = np.arange(200.0)[:, None]
    est = DecisionTreeRegressor(max_depth=1).fit(X, (X[:, 0] > 100).astype(float))
    m, h = _one_input(est, 0.0, 199.0)
    _solve(m)
    assert check_solution([h], "heat A") == ModelCheck(1, 0, "")
    start = h.pieces[0].piece(h.pieces[0].selected())[0]
    m.x.set_value(start - 0.5 * margin(0.0, 199.0) - 1e-3)
    assert check_solution([h], "heat A") == ModelCheck(1, 1, "")
    w = next(v for v in m.component_data_objects(pyo.Var) if v.is_binary() and v.value > 0.5)
    w.set_value(0.5, skip_validation=True)
    with caplog.at_level("WARNING", logger="optimizer.embedding.verify"):
        check = check_solution([h], "heat A")
    assert check.checked == 1 and check.repaired == 0 and "differs from its predict" in check.mismatch
    assert "heat A: 1 of 1 embedded models differ" in caplog.text


def test_handle_carries_the_solver_options():
    est = _hgb_501()
    _, h = _one_input(est, 0.0, 999.0)
    assert h.solver_options == SOLVER_OPTIONS
    assert h.solver_options["mip_feasibility_tolerance"] * 10 <= margin(0.0, 1.0)
