"""Stage table and stage model on synthetic heats made here: known heating, chill and loss are recovered."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.ladle.adapter import build_heats
from optimizer.ladle.stage_model import StageModel
from optimizer.ladle.stages import build_stages

HEATING_DEGC_PER_KWH = 0.12
CHILL_BULK_DEGC_PER_KG = -0.025
CHILL_WIRE_DEGC_PER_KG = -0.010
LOSS_DEGC_PER_MIN = 0.5


def synthetic_stages(n_heats: int, seed: int, noise_degC: float = 1.0) -> pd.DataFrame:
    """Heats of 2..5 stages whose temperature follows the heat balance above exactly, plus noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for key in range(1, n_heats + 1):
        temp = rng.normal(1580.0, 12.0)
        n_stages = int(rng.integers(2, 6))
        for k in range(1, n_stages + 1):
            minutes = rng.uniform(2.0, 15.0)
            arc_min = rng.uniform(0.0, 0.8) * minutes if rng.random() < 0.7 else 0.0
            kwh = arc_min * rng.uniform(9.0, 16.0)
            bulk = rng.choice([0.0, rng.uniform(50, 400)], p=[0.6, 0.4])
            wire = rng.choice([0.0, rng.uniform(20, 150)], p=[0.7, 0.3])
            nxt = (temp + HEATING_DEGC_PER_KWH * kwh + CHILL_BULK_DEGC_PER_KG * bulk + CHILL_WIRE_DEGC_PER_KG * wire
                   - LOSS_DEGC_PER_MIN * minutes + rng.normal(0.0, noise_degC))
            rows.append({"key": key, "stage_no": k, "temp_prev_degC": temp, "temp_next_degC": nxt,
                         "minutes": minutes, "arc_kWh": kwh, "arc_min": arc_min, "gas_m3": 0.3 * minutes,
                         "add_bulk_1_kg": bulk, "add_wire_1_kg": wire, "is_last": k == n_stages,
                         "pre_arc_kWh": 0.0})
            temp = nxt
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", range(5))
def test_physics_recovers_heating_chill_and_loss(seed):
    m = StageModel(residual=False).fit(synthetic_stages(600, seed))
    k = m.coefficients()
    assert k["arc_kWh"] == pytest.approx(HEATING_DEGC_PER_KWH, rel=0.05)
    assert k["add_bulk_1_kg"] == pytest.approx(CHILL_BULK_DEGC_PER_KG, rel=0.05)
    assert k["add_wire_1_kg"] == pytest.approx(CHILL_WIRE_DEGC_PER_KG, rel=0.15)
    # gas is proportional to minutes here, so only the sum of the two per-minute terms is identified
    assert -(k["minutes"] + 0.3 * k["gas_m3"]) == pytest.approx(LOSS_DEGC_PER_MIN, rel=0.05)
    assert abs(k["temp_dev_degC"]) < 0.01  # no pull towards 1590 in this data


def test_one_step_error_near_the_noise():
    train, test = synthetic_stages(500, 0), synthetic_stages(200, 1)
    m = StageModel(residual=False).fit(train)
    assert np.mean(np.abs(test["temp_next_degC"] - m.predict_next(test))) < 1.0  # noise 1 degC: MAE ~0.8


@pytest.mark.parametrize("residual", [False, True])
def test_composed_prediction_is_the_sum_of_stages(residual):
    st = synthetic_stages(300, 2)
    m = StageModel(residual=residual).fit(st)
    c = m.compose(st)
    final = m.compose_final(st)
    first = st.groupby("key")["temp_prev_degC"].first()
    np.testing.assert_allclose(final, first + c.groupby("key")["stage_delta_degC"].sum(), atol=1e-9)
    # each stage starts where the composed previous stage ended, and its change is the model's at that temperature
    c = c.sort_values(["key", "stage_no"])
    same_heat = c["key"].to_numpy()[1:] == c["key"].to_numpy()[:-1]
    np.testing.assert_allclose(c["composed_prev_degC"].to_numpy()[1:][same_heat],
                               c["composed_next_degC"].to_numpy()[:-1][same_heat])
    sorted_st = st.sort_values(["key", "stage_no"])
    np.testing.assert_allclose(c["stage_delta_degC"], m.predict_delta(sorted_st, c["composed_prev_degC"].to_numpy()))
    # with noise-free physics and no residual the composition reproduces the heats' final temperatures
    if not residual:
        exact = synthetic_stages(300, 3, noise_degC=0.0)
        y = exact[exact["is_last"]].set_index("key")["temp_next_degC"]
        got = StageModel(residual=False).fit(exact).compose_final(exact)
        assert np.max(np.abs(got - y.loc[got.index])) < 0.05


def test_fit_rejects_too_few_stages():
    with pytest.raises(ValueError, match="at least 20 stages"):
        StageModel().fit(synthetic_stages(3, 0))


def _tables() -> dict[str, pd.DataFrame]:
    """One heat: arc before the first measurement, one arc across the second, bulk before/in, wire in stage 2."""
    t = pd.Timestamp("2019-05-03 10:00:00")
    m = pd.Timedelta(minutes=1)

    def ts(minutes: float) -> str:
        return str(t + minutes * m)

    temp = pd.DataFrame({"key": [7, 7, 7], "time": [ts(5), ts(15), ts(25)], "temperature_degC": [1570.0, 1590, 1585]})
    arc = pd.DataFrame({"key": [7, 7, 7], "arc_start": [ts(0), ts(6), ts(12)], "arc_end": [ts(4), ts(10), ts(18)],
                        "active_MW": [0.9, 0.6, 0.5], "reactive_MVAr": [0.5, 0.4, 0.3]})
    bulk = pd.DataFrame({"key": [7], "Bulk 1": [100.0], "Bulk 2": [50.0]})
    bulk_time = pd.DataFrame({"key": [7], "Bulk 1": [ts(2)], "Bulk 2": [ts(20)]})
    wire = pd.DataFrame({"key": [7], "Wire 1": [80.0]})
    wire_time = pd.DataFrame({"key": [7], "Wire 1": [ts(16)]})
    gas = pd.DataFrame({"key": [7], "gas_1": [10.0]})
    return {"arc": arc, "bulk": bulk, "bulk_time": bulk_time, "gas": gas, "temp": temp, "wire": wire,
            "wire_time": wire_time}


def test_build_stages_splits_energy_and_places_additions():
    tables = _tables()
    heats, samples, _ = build_heats(tables)
    st = build_stages(tables, heats, samples)
    assert st["stage_no"].tolist() == [1, 2]
    assert st["temp_prev_degC"].tolist() == [1570.0, 1590.0] and st["temp_next_degC"].tolist() == [1590.0, 1585.0]
    kwh_per_min = {1: 0.9 * 60 / 3.6, 2: 0.6 * 60 / 3.6, 3: 0.5 * 60 / 3.6}  # MW x 60 s / 3.6 = kWh per minute
    # stage 1 (5..15 min): all of arc 2 (4 min) and 3 of arc 3's 6 minutes; stage 2: the other 3
    assert st.loc[0, "arc_kWh"] == pytest.approx(4 * kwh_per_min[2] + 3 * kwh_per_min[3])
    assert st.loc[1, "arc_kWh"] == pytest.approx(3 * kwh_per_min[3])
    assert st["arc_min"].tolist() == pytest.approx([7.0, 3.0])
    assert st.loc[0, "pre_arc_kWh"] == pytest.approx(4 * kwh_per_min[1])  # before the first measurement
    assert st["add_bulk_1_kg"].tolist() == [0.0, 0.0]  # added before the first measurement: in T0 already
    assert st["add_bulk_2_kg"].tolist() == [0.0, 50.0] and st["add_wire_1_kg"].tolist() == [0.0, 80.0]
    assert st["gas_m3"].tolist() == pytest.approx([5.0, 5.0])  # 10 m3 over 20 minutes, by minutes
    assert st["is_last"].tolist() == [False, True]
