"""The ladle recommender's embedded model is checked against its own predict after every solve (synthetic
heats: runs without the real data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from optimizer.config import load_config
from optimizer.ladle.model import TARGET, LadleModel, features
from optimizer.ladle.recommend import Window, recommend_heat
from optimizer.surrogates.conformal import SampleWidths


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(0)
    n = 400
    e = rng.uniform(2000, 8000, n)
    heats = pd.DataFrame({
        "heat_id": [f"S{i}" for i in range(n)], "start_time": pd.date_range("2026-01-01", periods=n, freq="h"),
        "initial_temperature_degC": rng.uniform(1540, 1600, n), "arc_energy_kWh": e,
        "arc_time_min": e / rng.uniform(280, 320, n), "n_arc_intervals": rng.integers(2, 6, n),
        "treatment_time_min": rng.uniform(30, 60, n), "gas_1_m3": rng.uniform(5, 15, n),
        "n_samples": rng.integers(2, 9, n), "add_lime_kg": rng.uniform(0, 500, n)})
    heats["final_temperature_degC"] = (heats["initial_temperature_degC"] + 0.006 * e - 0.02 * heats["add_lime_kg"]
                                       - 1.5 * heats["n_samples"] + rng.normal(0, 3, n))
    feats = features(heats)  # a small boosted model of the kind ladle.model fits (that one takes ~20 s here)
    gbm = HistGradientBoostingRegressor(max_iter=40, max_leaf_nodes=8, random_state=0).fit(heats[feats],
                                                                                              heats[TARGET])
    widths = SampleWidths.fit(np.abs(heats[TARGET] - gbm.predict(heats[feats])), heats["n_samples"].to_numpy())
    return heats, LadleModel("gbm", feats, gbm, widths)


def test_every_recommendation_is_checked_against_predict(synthetic):
    heats, model = synthetic
    window = Window(1590.0, 1620.0, 0.9)
    planned = 0
    for _, row in heats.tail(4).iterrows():
        r = recommend_heat(model, row, load_config(), window, n_options=range(2, 5))
        if not r["feasible"]:
            continue
        planned += 1
        assert r["model_checked"] == 1
        assert r["model_mismatch"] == ""
        x = row.copy()
        x["arc_energy_kWh"] = r["arc_energy_kWh"]
        x["arc_time_min"] = r["arc_energy_kWh"] / (row["arc_energy_kWh"] / row["arc_time_min"])
        x["n_samples"] = r["n_samples"]
        assert r["predicted_degC"] == pytest.approx(float(model.predict(pd.DataFrame([x]))[0]), abs=1e-9)
        assert window.low - 1e-6 <= r["predicted_degC"] - r["halfwidth_degC"]
        assert r["predicted_degC"] + r["halfwidth_degC"] <= window.high + 1e-6
    assert planned >= 2
