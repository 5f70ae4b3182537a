"""The dosing program embeds a non-linear residual model (gradient boosting) and its plan is a real prediction."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
from sklearn.ensemble import GradientBoostingRegressor

from optimizer.dosing import optimize_heats
from optimizer.dosing.exactness import check_heat
from optimizer.dosing.model import DosingOptions, build_model
from optimizer.dosing.recommend import to_recommendation
from optimizer.dosing.solve import solve
from optimizer.embedding import SOLVER_OPTIONS
from optimizer.simulator import draw_heats

pytestmark = pytest.mark.slow  # boosted residuals embedded in the MILP


def test_gbm_residual_is_embedded_exactly(cfg, trained_600):
    sset, day = _gbm_day(cfg, trained_600)
    mn = sset.outcomes["final_Mn_wt_pct"]
    assert day, "need a Mn grade in the sample"
    res = optimize_heats(cfg, day, sset, workers=1)
    checked = 0
    for ctx, r in zip(day, res.heats, strict=True):
        if not r.feasible:
            continue
        row = {**ctx.features(), **{f"add_{m}_kg": kg for m, kg in r.additions_kg.items()},
               "arc_energy_kWh": r.arc_energy_kWh, "n_samples": r.n_samples}
        want = float(mn.predict(pd.DataFrame([row]))[0])
        assert r.predicted["final_Mn_wt_pct"][0] == pytest.approx(want, abs=1e-6)
        assert np.isfinite(r.cost)
        checked += 1
    assert checked >= 1


def _gbm_day(cfg, trained_600):  # noqa: ANN001, ANN202
    heats, trained = trained_600
    sset = copy.deepcopy(trained)
    mn = sset.outcomes["final_Mn_wt_pct"]
    feats = ["initial_oxygen_ppm", "initial_temperature_degC", "add_SiMn_kg", "add_HC_FeMn_kg", "arc_energy_kWh"]
    resid = heats["final_Mn_wt_pct"].to_numpy() - mn.structure.predict(heats)
    mn.residual_model = GradientBoostingRegressor(n_estimators=40, max_depth=3, random_state=0).fit(heats[feats], resid)
    mn.residual_features = feats
    day = [h.context for h in draw_heats(cfg, 4, 9, stream=1) if h.context.grade in ("S355J2", "S235JR")]
    return sset, day


def test_every_plan_is_checked_against_predict_and_a_mismatch_is_reported(cfg, trained_600):
    """The solve asks HiGHS for the embedding's tolerances; each plan's embedded models are re-predicted; a
    solution the repair cannot make exact (a fractional binary) is reported on the result, never silent."""
    sset, day = _gbm_day(cfg, trained_600)
    res = optimize_heats(cfg, day, sset, workers=1)
    planned = [r for r in res.heats if r.feasible]
    assert planned
    for r in planned:
        assert r.model_check.checked == 1 and r.model_check.mismatch == ""
    heat = next(ctx for ctx, r in zip(day, res.heats, strict=True) if r.feasible)
    m = build_model(cfg, [heat], sset, DosingOptions(inventory=False))
    assert m.solver_options == SOLVER_OPTIONS
    assert solve(m, cfg).feasible
    assert check_heat(m, heat.heat_id).mismatch == ""
    (handle,) = m.embedded[heat.heat_id]
    y = next(v for v in handle.block.component_data_objects(pyo.Var) if v.is_binary() and v.value > 0.5)
    y.set_value(0.5, skip_validation=True)  # what a loose integrality tolerance could return
    check = check_heat(m, heat.heat_id)
    assert "differs from its predict" in check.mismatch and "GradientBoostingRegressor" in check.mismatch
    r = next(r for r in res.heats if r.heat_id == heat.heat_id)
    r.model_check = check
    rec = to_recommendation(cfg, [heat], type(res)([r], False, "optimal", 0.0), {})
    assert "differs from its predict" in rec.heats[0].diagnosis
