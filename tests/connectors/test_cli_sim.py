"""``dosing simulate`` / ``dosing evaluate`` from the command line, including a recommendations-file policy."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from connectors.cli import app
from connectors.files import load_heats
from optimizer.recommendation import Recommendation
from optimizer.schedule import read_schedule


def test_simulate_writes_loadable_history(cfg, tmp_path: Path):
    res = CliRunner().invoke(app, ["simulate", "--heats", "30", "--seed", "3", "--out", str(tmp_path),
                                   "--start", "2026-03-01T22:00"])
    assert res.exit_code == 0, res.output
    assert {p.name for p in tmp_path.iterdir()} == {"heats.parquet", "heats.csv", "samples.csv"}
    loaded = load_heats(tmp_path, cfg)
    assert len(loaded.heats) == 30 and loaded.report.empty and len(loaded.samples) > 30
    pq = pd.read_parquet(tmp_path / "heats.parquet")
    assert pq["start_time"].iloc[0] == pd.Timestamp("2026-03-01T22:00Z")
    csv = pd.read_csv(tmp_path / "heats.csv")
    assert list(csv.columns) == list(pq.columns) and csv["heat_id"].tolist() == pq["heat_id"].tolist()


def test_evaluate_json_and_compare():
    res = CliRunner().invoke(app, ["evaluate", "--policy", "better", "--compare", "baseline", "--heats", "60",
                                   "--seed", "2", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["policy"] == "better" and data["heats"] == 60 and data["compare"]["policy"] == "baseline"
    assert set(data["off_spec_rate"]) == {"value", "ci95"}
    assert data["paired"]["diff_material_cost_per_t"]["value"] < 0
    assert {"pct_material_cost", "pct_off_spec", "pct_energy", "pct_productivity"} <= set(data["paired"])


def test_evaluate_table_and_single_heat_json():
    runner = CliRunner()
    res = runner.invoke(app, ["evaluate", "--policy", "worse", "--compare", "baseline", "--heats", "20"])
    assert res.exit_code == 0, res.output
    assert "off-spec rate" in res.stdout and "against baseline: material cost +" in res.stdout
    one = runner.invoke(app, ["evaluate", "--heats", "1", "--json", "--grade", "C45"])
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)["energy_kWh_per_t"]["ci95"] == [None, None]  # no CI from one heat: null


def test_schedule_optimize_evaluate_file_policy(cfg, tmp_path: Path):
    runner = CliRunner()
    assert runner.invoke(app, ["simulate", "--heats", "12", "--seed", "9", "--out", str(tmp_path),
                               "--schedule-only"]).exit_code == 0
    sched = read_schedule(tmp_path / "schedule.csv", cfg)
    assert len(sched.heats) == 12 and sched.report.empty
    res = runner.invoke(app, ["optimize", "--schedule", str(tmp_path / "schedule.csv"), "--surrogates", "prior",
                              "--out", str(tmp_path / "recs"), "--workers", "1"])
    assert res.exit_code in (0, 3), res.output
    recs = tmp_path / "recs" / "latest.json"
    infeasible = [h.heat_id for h in Recommendation.from_json(recs).heats if not h.feasible]
    res = runner.invoke(app, ["evaluate", "--policy", str(recs), "--heats", "12", "--seed", "9", "--json",
                              "--fallback", "baseline"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["heats"] == 12 and data["fallback_heats"] == infeasible
    strict = runner.invoke(app, ["evaluate", "--policy", str(recs), "--heats", "12", "--seed", "9"])
    if infeasible:  # no setpoints for a heat and no --fallback: named, not guessed
        assert strict.exit_code == 2 and "no feasible setpoints for heats" in strict.output
    else:
        assert strict.exit_code == 0, strict.output
    wrong = runner.invoke(app, ["evaluate", "--policy", str(recs), "--heats", "12", "--seed", "10",
                                "--fallback", "baseline"])
    assert wrong.exit_code == 2 and "made for other heats" in wrong.output and "--seed" in wrong.output


def test_bad_arguments(tmp_path: Path):
    runner = CliRunner()
    cases = [
        (["evaluate", "--policy", "magic"], "unknown policy 'magic'"),
        (["simulate", "--heats", "0", "--out", str(tmp_path)], "--heats must be a positive"),
        (["evaluate", "--heats", "-5"], "--heats must be a positive"),
        (["evaluate", "--policy", str(tmp_path / "nope.json")], "not found"),
        (["evaluate", "--grade", "X70", "--heats", "5"], "unknown grade 'X70'"),
        (["simulate", "--grade", "X70", "--out", str(tmp_path)], "unknown grade 'X70'"),
        (["simulate", "--start", "yesterday-ish", "--out", str(tmp_path)], "not a date/time"),
        (["evaluate", "--physics", "magma", "--heats", "5"], "unknown physics 'magma'; use one of "
         "['carryover', 'cycle', 'damp', 'glaze', 'lots', 'revert', 'skull', 'slag', 'standard', 'stirred', "),
        (["simulate", "--physics", "magma", "--out", str(tmp_path)], "unknown physics 'magma'"),
    ]
    for args, words in cases:
        res = runner.invoke(app, args)
        assert res.exit_code == 2 and words in res.output, (args, res.output)


def test_list_physics():
    res = CliRunner().invoke(app, ["evaluate", "--list-physics"])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == ["carryover", "cycle", "damp", "glaze", "lots", "revert", "skull", "slag",
                                       "standard", "stirred", "tariff"]


@pytest.mark.parametrize("name", ["stirred", "lots", "glaze", "cycle", "damp", "tariff", "revert", "skull"])
def test_held_out_plant_by_name(cfg, tmp_path: Path, name):
    """The fourth to tenth (held-out) plants are selectable on simulate and evaluate."""
    runner = CliRunner()
    res = runner.invoke(app, ["simulate", "--heats", "20", "--seed", "3", "--out", str(tmp_path),
                              "--physics", name])
    assert res.exit_code == 0 and f"{name} physics" in res.output, res.output
    assert load_heats(tmp_path, cfg).report.empty
    res = runner.invoke(app, ["evaluate", "--heats", "10", "--seed", "2", "--json", "--physics", name])
    assert res.exit_code == 0 and json.loads(res.stdout)["physics"] == name, res.output


def test_physics_by_name_on_simulate_and_evaluate(cfg, tmp_path: Path):
    runner = CliRunner()
    res = runner.invoke(app, ["simulate", "--heats", "30", "--seed", "3", "--out", str(tmp_path / "slag"),
                              "--physics", "slag"])
    assert res.exit_code == 0 and "slag physics" in res.output, res.output
    slag = load_heats(tmp_path / "slag", cfg)
    assert len(slag.heats) == 30 and slag.report.empty
    res = runner.invoke(app, ["simulate", "--heats", "30", "--seed", "3", "--out", str(tmp_path / "std")])
    assert res.exit_code == 0, res.output
    std, slag_csv = (pd.read_csv(tmp_path / d / "heats.csv") for d in ("std", "slag"))
    assert std["grade"].tolist() == slag_csv["grade"].tolist()  # the same heats arrive in another plant
    assert not std["final_temperature_degC"].equals(slag_csv["final_temperature_degC"])
    out = {}
    for name in ("standard", "slag"):
        res = runner.invoke(app, ["evaluate", "--heats", "30", "--seed", "2", "--json", "--physics", name,
                                  "--compare", "worse"])
        assert res.exit_code == 0, res.output
        out[name] = json.loads(res.stdout)
        assert out[name]["physics"] == name and out[name]["compare"]["physics"] == name
    assert out["slag"]["material_cost_per_t"] != out["standard"]["material_cost_per_t"]
    table = runner.invoke(app, ["evaluate", "--heats", "5", "--physics", "slag"])
    assert table.exit_code == 0 and "slag physics" in table.stdout
