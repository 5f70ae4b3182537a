"""The core loop from the command line on the embedded defaults (local MLflow store in the working dir)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.cli import app
from optimizer.recommendation import Recommendation


@pytest.mark.slow  # the whole CLI pipeline: simulate 400 heats, train, optimize, evaluate
def test_simulate_train_optimize_evaluate(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    assert run(app, ["simulate", "--heats", "400", "--seed", "2", "--out", "history"]).exit_code == 0
    res = run(app, ["train", "--data", "history"])
    assert res.exit_code == 0, res.output
    assert "final_Mn_wt_pct" in res.output and "promoted" in res.output
    assert (tmp_path / ".dosing" / "mlflow.db").exists()
    res = run(app, ["models"])
    assert res.exit_code == 0 and "lf1_final_Mn_wt_pct" in res.output and "champion" in res.output
    assert run(app, ["simulate", "--heats", "15", "--seed", "5", "--out", "day", "--schedule-only"]).exit_code == 0
    res = run(app, ["optimize", "--schedule", "day/schedule.csv", "--workers", "1"])
    assert res.exit_code in (0, 3), res.output
    rec = Recommendation.from_json(tmp_path / ".dosing" / "recommendations" / "latest.json")
    assert rec.model_versions["final_Mn_wt_pct"] == "lf1_final_Mn_wt_pct/1"
    assert any(h.feasible for h in rec.heats)
    assert all(h.diagnosis for h in rec.heats if not h.feasible)
    res = run(app, ["models", "rollback", "--outcome", "final_Mn_wt_pct"])
    assert res.exit_code == 1 and "no previous champion" in res.output
