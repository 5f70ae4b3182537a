"""Stage table and decision-time final-temperature model on the shared real heats (skipped without the data)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from connectors.ladle_files import read_ladle_dir
from optimizer.ladle.adapter import build_heats
from optimizer.ladle.final import fit_final, holdout_figures, rolling_origin, split_later
from optimizer.ladle.predictors import EnsemblePredictor, make_predictor
from optimizer.ladle.stages import build_stages

DATA = Path(os.environ.get("DOSING_LF_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"
                           / "ladle_furnace"))
pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"ladle-furnace data not found at {DATA}")


@pytest.fixture(scope="module")
def real():
    tables = read_ladle_dir(DATA)
    heats, samples, _ = build_heats(tables)
    return heats, build_stages(tables, heats, samples)


def test_stage_table_closes_the_heats(real):
    heats, stages = real
    h = heats.set_index(heats["heat_id"].astype(int))
    n = stages.groupby("key").size()
    assert len(n) == len(h) and (n == h["n_samples"].loc[n.index] - 1).all()  # a stage per pair of measurements
    energy = stages.groupby("key")["arc_kWh"].sum() + stages.groupby("key")["pre_arc_kWh"].first()
    total = h["arc_energy_kWh"].loc[energy.index]
    assert (energy <= total + 1e-6).all()  # only arcs after the last measurement are not in stages
    assert np.mean(np.isclose(energy, total)) > 0.9
    last = stages[stages["is_last"]].set_index("key")["temp_next_degC"]
    assert (last == h["final_temperature_degC"].loc[last.index]).all()
    assert (stages["arc_kVAh"] >= stages["arc_kWh"] - 1e-9).all()  # apparent >= active energy
    arc = stages[stages["arc_min"] > 0]
    assert stages.loc[stages["arc_min"] == 0, "arc_end_min"].isna().all()
    assert ((arc["arc_end_min"] >= arc["arc_min"] - 1e-6) & (arc["arc_end_min"] <= arc["minutes"] + 1e-6)).all()


def test_rolling_origin_stays_before_the_test_part(real):
    heats, _ = real
    train, test = split_later(heats, 488)
    assert len(test) == 488 and train["start_time"].max() <= test["start_time"].min()
    for fit_h, val_h in rolling_origin(train):
        assert fit_h["start_time"].max() <= val_h["start_time"].min()
        assert val_h["start_time"].max() <= test["start_time"].min()


def test_decision_model_on_later_heats(real):
    heats, stages = real
    train, test = split_later(heats, 488)
    m = fit_final(train, stages, "last_ridge")  # the fast decision-time kind; the table has the others
    x = holdout_figures(m, test, stages, 0.9)
    assert m.predictor.decided_at == "penultimate" and x["n"] == 488
    assert x["mae"] < 5.0 and x["share_above_10"] < 0.10
    assert 0.85 <= x["coverage_90"] <= 0.95


def test_ensemble_is_the_mean_of_its_members(real):
    heats, stages = real
    train, test = split_later(heats, 488)
    members = ("mean", "heat_balance")  # fast members; the script's plan_ensemble uses boosted ones
    e = EnsemblePredictor(members=members).fit(train, stages).predict(test, stages)
    parts = [make_predictor(k).fit(train, stages).predict(test, stages) for k in members]
    np.testing.assert_allclose(e.to_numpy(), ((parts[0] + parts[1]) / 2).loc[e.index].to_numpy())
    with pytest.raises(ValueError, match="decided at the first measurement"):
        EnsemblePredictor(members=("mean", "last_ridge")).fit(train, stages)
