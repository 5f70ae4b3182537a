"""``dosing simulate`` / ``dosing evaluate`` from the command line, including a recommendations-file policy."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from connectors.cli import app
from connectors.files import load_heats


def test_simulate_writes_loadable_history(cfg, tmp_path: Path):
    res = CliRunner().invoke(app, ["simulate", "--heats", "30", "--seed", "3", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert {p.name for p in tmp_path.iterdir()} == {"heats.parquet", "heats.csv", "samples.csv"}
    loaded = load_heats(tmp_path, cfg)
    assert len(loaded.heats) == 30 and loaded.report.empty and len(loaded.samples) > 30


def test_evaluate_json_and_compare():
    res = CliRunner().invoke(app, ["evaluate", "--policy", "better", "--compare", "baseline", "--heats", "60",
                                   "--seed", "2", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["policy"] == "better" and data["heats"] == 60
    assert set(data["off_spec_rate"]) == {"value", "ci95"}
    assert data["paired"]["diff_material_cost_per_t"]["value"] < 0
    assert "pct_productivity" in data["paired"]


def test_schedule_optimize_evaluate_file_policy(tmp_path: Path):
    runner = CliRunner()
    assert runner.invoke(app, ["simulate", "--heats", "12", "--seed", "9", "--out", str(tmp_path),
                               "--schedule-only"]).exit_code == 0
    res = runner.invoke(app, ["optimize", "--schedule", str(tmp_path / "schedule.csv"), "--surrogates", "prior",
                              "--out", str(tmp_path / "recs"), "--workers", "1"])
    assert res.exit_code in (0, 3), res.output
    res = runner.invoke(app, ["evaluate", "--policy", str(tmp_path / "recs" / "latest.json"), "--heats", "12",
                              "--seed", "9", "--json"])
    if res.exit_code == 0:
        assert json.loads(res.stdout)["heats"] == 12
    else:  # an infeasible heat has no setpoints: the file policy names it instead of guessing
        assert res.exit_code == 2 and "no feasible setpoints for heats" in res.output
    wrong = runner.invoke(app, ["evaluate", "--policy", str(tmp_path / "recs" / "latest.json"), "--heats", "12",
                                "--seed", "10"])
    assert wrong.exit_code == 2 and "same --heats and --seed" in wrong.output


def test_bad_arguments():
    runner = CliRunner()
    res = runner.invoke(app, ["evaluate", "--policy", "magic"])
    assert res.exit_code == 2 and "unknown policy 'magic'" in res.output
    res = runner.invoke(app, ["simulate", "--heats", "0", "--out", "x"])
    assert res.exit_code == 2 and "positive" in res.output
    res = runner.invoke(app, ["evaluate", "--policy", "nope.json"])
    assert res.exit_code == 2 and "not found" in res.output
