"""Rolling conformal half-widths: causal (a heat's own outcome and later ones never used), follow a drift that a
static width misses, and reduce to the static split-conformal width when nothing new is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.ladle.calibration import OnlineWindow, scheme_coverage
from optimizer.ladle.final import FinalModel
from optimizer.ladle.predictors import StagePredictor
from optimizer.surrogates.conformal import conformal_quantile
from tests.optimizer.ladle.test_stage_model import synthetic_stages

T0 = pd.Timestamp("2026-01-01")


def _times(n: int, minutes: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    """Heat i is decided at i h and its outcome known 30 min later (before heat i+1's decision)."""
    decide = np.array([T0 + pd.Timedelta(minutes=minutes * i) for i in range(n)], dtype="datetime64[ns]")
    return decide + np.timedelta64(30, "m"), decide


def test_static_when_nothing_new_is_known():
    cal = np.random.default_rng(0).exponential(2.0, 300)
    known, decide = _times(5)
    hw = OnlineWindow(150).halfwidths(cal, np.full(5, np.nan), known, decide, 0.9)
    assert np.allclose(hw, conformal_quantile(cal[-150:], 0.9))


def test_causal_never_uses_own_or_later_outcomes():
    cal = np.ones(20)
    new = np.array([100.0, 100.0, 100.0])
    known, decide = _times(3)
    hw = OnlineWindow(20).halfwidths(cal, new, known, decide, 0.5)
    assert hw[0] == 1.0  # its own outcome (known after its decision) is not in its window
    late = OnlineWindow(20).halfwidths(cal, new, decide + np.timedelta64(1, "D"), decide, 0.9)
    assert (late == conformal_quantile(cal, 0.9)).all()  # outcomes known only later: the static width
    order = OnlineWindow(4).halfwidths(cal, new[::-1], known[::-1], decide[::-1], 0.5)
    assert np.allclose(order, OnlineWindow(4).halfwidths(cal, new, known, decide, 0.5)[::-1])  # any order


@pytest.mark.parametrize("seed", range(5))
def test_follows_a_drift_that_a_static_width_misses(seed):
    rng = np.random.default_rng(seed)
    cal = np.abs(rng.normal(0.0, 1.0, 150))
    new = np.abs(rng.normal(0.0, 1.5, 600))  # the errors grow by half after calibration
    known, decide = _times(600)
    dep = pd.DataFrame({"abs_degC": new, "known_at": known, "decide_at": decide})
    calib = pd.DataFrame({"abs_degC": cal, "fold": np.repeat([0, 1], 75)})
    static = scheme_coverage(calib, dep, "static_all")
    online = scheme_coverage(calib, dep, "online_150")
    assert static < 0.8 and 0.86 <= online <= 0.94


def test_lengths_must_match():
    with pytest.raises(ValueError, match="one value per heat"):
        OnlineWindow().halfwidths(np.ones(10), np.ones(3), np.array([T0] * 2), np.array([T0] * 3), 0.9)


def test_final_model_interval_learns_only_from_later_ended_heats():
    st = synthetic_stages(300, 3)
    last = st[st["is_last"]]
    start = pd.date_range("2019-05-03", periods=300, freq="h")
    st["time_prev"] = st["key"].map(dict(zip(range(1, 301), start + pd.Timedelta(minutes=30), strict=True)))
    heats = pd.DataFrame({"heat_id": last["key"].astype(str).to_numpy(), "start_time": start,
                          "end_time": start + pd.Timedelta(minutes=40),
                          "final_temperature_degC": last["temp_next_degC"].to_numpy()})
    model = FinalModel(StagePredictor(residual=False).fit(heats.iloc[:150], st), np.full(150, 2.0),
                       trained_until=heats["start_time"].iloc[149])
    off = heats.assign(final_temperature_degC=heats["final_temperature_degC"] + np.r_[np.full(150, 30.0),
                                                                                      np.full(150, 20.0)])
    hw = model.interval(off, st, 0.9)["halfwidth_degC"].to_numpy()
    assert (hw[:151] == 2.0).all()  # in-sample heats never calibrate; heat 151 has no later ended heat yet
    assert hw[-1] > 15.0  # ended later heats with ~20 degC errors widen the interval of those after them
