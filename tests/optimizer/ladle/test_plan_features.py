"""First-measurement features: energy and additions after the first measurement only, the previous heat's
final temperature only when it had ended before this heat's first measurement, the route's heat-balance terms."""

from __future__ import annotations

import pandas as pd
import pytest

from optimizer.ladle.plan_features import plan_features
from optimizer.ladle.route_features import route_features

T = pd.Timestamp("2019-05-03 08:00")
M = pd.Timedelta(minutes=1)


def _heats_and_stages() -> tuple[pd.DataFrame, pd.DataFrame]:
    # heat 1: 08:00-08:40; heat 2 starts 08:50 (after heat 1 ended); heat 3 starts 09:00 (heat 2 still running)
    starts, ends = [T, T + 50 * M, T + 60 * M], [T + 40 * M, T + 90 * M, T + 100 * M]
    stages = pd.DataFrame({"key": [1, 1, 2, 3], "stage_no": [1, 2, 1, 1], "is_last": [False, True, True, True],
                           "heat_start": [starts[0], starts[0], starts[1], starts[2]],
                           "time_next": [T + 20 * M, ends[0], ends[1], ends[2]],
                           "temp_next_degC": [1570.0, 1590.0, 1600.0, 1580.0], "arc_kWh": [30.0, 10.0, 25.0, 0.0],
                           "arc_min": [3.0, 1.0, 2.5, 0.0], "pre_arc_kWh": [5.0, 5.0, 0.0, 7.0],
                           "add_bulk_1_kg": [100.0, 0.0, 0.0, 0.0]})
    heats = pd.DataFrame({"heat_id": ["1", "2", "3"], "start_time": starts, "initial_temperature_degC": 1560.0,
                          "arc_energy_kWh": [45.0, 25.0, 7.0], "arc_time_min": [4.5, 2.5, 0.7],
                          "n_arc_intervals": [2, 1, 1], "treatment_time_min": [40.0, 40.0, 40.0], "gas_1_m3": 5.0,
                          "n_samples": [3, 2, 2], "add_bulk_1_kg": [150.0, 0.0, 0.0]})
    return heats, stages


def test_after_the_first_measurement_and_previous_heat():
    heats, stages = _heats_and_stages()
    x = plan_features(heats, stages)
    assert x.loc[1, "arc_after_kWh"] == 40.0 and x.loc[1, "pre_arc_kWh"] == 5.0  # 45 kWh in total
    assert x.loc[1, "add_bulk_1_after_kg"] == 100.0 and x.loc[1, "add_before_kg"] == 50.0
    assert x.loc[1, "idle_after_min"] == 36.0
    assert pd.isna(x.loc[1, "prev_final_degC"])  # no earlier heat
    assert x.loc[2, "prev_final_degC"] == 1590.0 and x.loc[2, "prev_gap_min"] == 10.0
    assert pd.isna(x.loc[3, "prev_final_degC"]) and pd.isna(x.loc[3, "prev_gap_min"])  # heat 2 not ended yet


def test_route_features_time_integral_and_last_arc():
    # one heat, first measurement 08:00 at 1580 degC; stage 1 10 min with 20 kWh ending 6 min in, stage 2 5 min
    # with 10 kWh ending 2 min in and 100 kg added
    stages = pd.DataFrame({"key": [7, 7], "stage_no": [1, 2], "is_last": [False, True],
                           "time_prev": [T, T + 10 * M], "time_next": [T + 10 * M, T + 15 * M],
                           "minutes": [10.0, 5.0], "arc_kWh": [20.0, 10.0], "arc_kVAh": [25.0, 12.5],
                           "arc_min": [4.0, 2.0], "arc_end_min": [6.0, 2.0], "temp_prev_degC": [1580.0, 1600.0],
                           "add_bulk_1_kg": [0.0, 100.0]})
    x = route_features(pd.DataFrame({"heat_id": ["7"]}), stages).loc[7]
    assert x["arc_x_remaining_kWh_min"] == 20.0 * 10.0 + 10.0 * 2.5  # minutes from each stage's midpoint
    assert x["adds_x_remaining_kg_min"] == 100.0 * 2.5
    assert x["after_last_arc_min"] == 3.0 and x["last_arc_kWh"] == 10.0 and x["last_adds_kg"] == 100.0
    assert x["first_dev_x_min"] == -10.0 * 15.0
    assert x["power_factor"] == 0.8 and x["mean_arc_MW"] == 30.0 / 0.1 / 1000


def test_route_features_say_which_columns_are_missing():
    with pytest.raises(ValueError, match="arc_kVAh"):
        route_features(pd.DataFrame({"heat_id": ["1"]}), _heats_and_stages()[1])
