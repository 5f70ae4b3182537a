"""The dosing program embeds a non-linear residual model (gradient boosting) and its plan is a real prediction."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingRegressor

from optimizer.dosing import optimize_heats
from optimizer.simulator import draw_heats

pytestmark = pytest.mark.slow  # boosted residuals embedded in the MILP


def test_gbm_residual_is_embedded_exactly(cfg, trained_600):
    heats, trained = trained_600
    sset = copy.deepcopy(trained)
    mn = sset.outcomes["final_Mn_wt_pct"]
    feats = ["initial_oxygen_ppm", "initial_temperature_degC", "add_SiMn_kg", "add_HC_FeMn_kg", "arc_energy_kWh"]
    resid = heats["final_Mn_wt_pct"].to_numpy() - mn.structure.predict(heats)
    mn.residual_model = GradientBoostingRegressor(n_estimators=40, max_depth=3, random_state=0).fit(heats[feats], resid)
    mn.residual_features = feats
    day = [h.context for h in draw_heats(cfg, 4, 9, stream=1) if h.context.grade in ("S355J2", "S235JR")]
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
