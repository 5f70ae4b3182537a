"""Savings rules on synthetic heats: the energy cut stays within the final stage and keeps the margin; the
measurement rule skips everything when confident and nothing when the window cannot be met."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.ladle.final import FinalModel
from optimizer.ladle.predictors import StagePredictor
from optimizer.ladle.recommend import Window
from optimizer.ladle.savings import energy_cuts, mean_ci, measurement_skips
from optimizer.ladle.stage_model import StageModel
from tests.optimizer.ladle.test_stage_model import HEATING_DEGC_PER_KWH, synthetic_stages


@pytest.fixture(scope="module")
def synthetic():
    st = synthetic_stages(300, 4)
    st["n_stages"] = st.groupby("key")["stage_no"].transform("max")
    start = st["key"].map(dict(enumerate(pd.date_range("2019-05-03", periods=300, freq="h"), start=1)))
    st["time_next"] = start + pd.to_timedelta(st.groupby("key")["minutes"].cumsum(), unit="m")
    st["time_prev"] = st["time_next"] - pd.to_timedelta(st["minutes"], unit="m")
    last = st[st["is_last"]]
    heats = pd.DataFrame({"heat_id": last["key"].astype(str).to_numpy(),
                          "arc_energy_kWh": st.groupby("key")["arc_kWh"].sum().loc[last["key"]].to_numpy(),
                          "final_temperature_degC": last["temp_next_degC"].to_numpy(),
                          "start_time": start.loc[last.index].to_numpy(), "end_time": last["time_next"].to_numpy()})
    return heats, st


def test_energy_cut_within_final_stage_and_margin(synthetic):
    heats, st = synthetic
    model = FinalModel(StagePredictor(residual=False).fit(heats.iloc[:150], st[st["key"] <= 150]),
                       np.full(99, 0.1), trained_until=heats["start_time"].iloc[149])
    window = Window(1560.0, 1620.0, 0.9)
    new = heats.iloc[150:]
    e = energy_cuts(model, HEATING_DEGC_PER_KWH, new, st, window)
    hw = e["halfwidth_degC"]
    assert hw.iloc[0] == 0.1 and (hw.iloc[-30:] > 0.1).all()  # rolling: the new heats' known errors take over
    np.testing.assert_allclose(hw, model.interval(new, st, 0.9)["halfwidth_degC"].loc[e.index])
    assert (e["cut_kWh"] >= 0).all() and (e["cut_kWh"] <= e["final_stage_kWh"] + 1e-9).all()
    assert (e["cut_kWh"] > 0).any()
    np.testing.assert_allclose(e["counterfactual_final_degC"],
                               e["actual_final_degC"] - HEATING_DEGC_PER_KWH * e["cut_kWh"])
    p = model.predict(new, st).loc[e.index]
    after = p - HEATING_DEGC_PER_KWH * e["cut_kWh"] - hw  # predicted low end after the cut
    partial = (e["cut_kWh"] > 0) & (e["cut_kWh"] < e["final_stage_kWh"] - 1e-9)
    assert partial.any()
    np.testing.assert_allclose(after[partial], window.low)  # not limited by the stage's energy: on the margin
    full = e["cut_kWh"] >= e["final_stage_kWh"] - 1e-9
    assert (after[full & (e["cut_kWh"] > 0)] >= window.low - 1e-6).all()
    with pytest.raises(ValueError, match="heating term must be positive"):
        energy_cuts(model, 0.0, new, st, window)


def test_measurement_rule_extremes(synthetic):
    heats, st = synthetic
    model = StageModel(residual=False).fit(st)
    errors = {k: np.full(99, 1.0) for k in range(1, 5)}
    wide = measurement_skips(model, errors, heats, st, Window(1000.0, 2000.0))
    assert (wide["measurements_with_rule"] == 2).all()  # first and final measurement only
    assert (wide["skipped"] == wide["measurements"] - 2).all()
    narrow = measurement_skips(model, errors, heats, st, Window(1700.0, 1701.0))
    assert (narrow["skipped"] == 0).all() and (narrow["measurements_with_rule"] == narrow["measurements"]).all()


def test_mean_ci_brackets_the_mean():
    m, lo, hi = mean_ci(np.arange(100.0))
    assert lo < m < hi and m == pytest.approx(49.5)
