"""The stage model's prediction never outweighs the sample in the closing estimate: its variance in the fusion is at
least the measurement's, so the estimate lies at least half-way from the prediction to the reading."""

from __future__ import annotations

import math

import pytest

from optimizer.advisor import Advisor
from optimizer.advisor.advisor import _closing
from optimizer.stages.state import HeatState, Sample, StageRecord
from tests.optimizer.advisor.test_advisor import ARRIVAL, S355


def _after_main(temperature_degC: float, chemistry: dict[str, float]) -> HeatState:
    samples = (Sample(0, 0.0, 1590.0, ARRIVAL), Sample(1, 18.0, temperature_degC, chemistry))
    return HeatState("W1", "S355J2", 100.0, samples, (StageRecord({"SiMn": 1900.0, "Al_wire": 40.0}, 2500.0),),
                     oxygen_ppm=380.0)


def test_the_closing_estimate_lies_at_least_half_way_to_the_reading(advisor: Advisor):
    names = ("Mn_wt_pct", "Si_wt_pct", "C_wt_pct", "Al_wt_pct", "temperature_degC")
    base = _after_main(1592.0, S355)
    pred = {name: advisor.closing_prediction(base, name)[0] for name in names}  # it ignores the reading
    meas_sd = {name: math.sqrt(advisor.models.outcomes[name].meas_variance(
        0.0 if name == "temperature_degC" else pred[name])) for name in names}
    for k in (-1.5, 1.0):  # readings k instrument sd from the prediction: inside the 3 sd the fusion accepts
        reading = {name: pred[name] + k * meas_sd[name] for name in names}
        chemistry = {**S355, **{n.removesuffix("_wt_pct"): v for n, v in reading.items() if n != "temperature_degC"}}
        state = _after_main(reading["temperature_degC"], chemistry)
        for name in names:
            measured = reading[name]
            v, sd = advisor.closing_estimate(state, name)
            sd_at = math.sqrt(advisor.models.outcomes[name].meas_variance(0.0 if name == "temperature_degC"
                                                                          else measured))
            share = (v - pred[name]) / (measured - pred[name])  # how far from the prediction toward the reading
            assert 0.5 - 1e-6 <= share < 1.0, (name, k, pred[name], measured, v)
            assert sd_at / math.sqrt(2.0) - 1e-9 <= sd < sd_at, (name, sd, sd_at)


def test_a_confident_prediction_leaves_the_sample_half_the_weight():
    """A prediction four times as sure as the instrument (sd 0.5 against 2 degC): fused as if as sure as it."""
    sd_meas_reading, sd_true = math.sqrt(0.5 ** 2 + 2.0 ** 2), 0.5
    post_sd, spread = _closing(sd_meas_reading, sd_true)
    assert post_sd == pytest.approx(2.0 / math.sqrt(2.0))
    assert spread == pytest.approx(0.5 * sd_meas_reading)
    # a prediction less sure than the instrument keeps the plain Kalman weights
    post_sd, spread = _closing(math.sqrt(3.0 ** 2 + 2.0 ** 2), 3.0)
    assert post_sd == pytest.approx(math.sqrt(9.0 * 4.0 / 13.0))
    assert spread == pytest.approx(9.0 / 13.0 * math.sqrt(13.0))
