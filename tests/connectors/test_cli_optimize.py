"""``dosing optimize`` end to end with the config-prior surrogates: files written, bad rows reported, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from connectors.cli import app
from optimizer.recommendation import Recommendation
from optimizer.safety import check_recommendation

ROWS = [
    ("H1", "S355J2", 100, 0.08, 0.12, 1575),
    ("H2", "C45", 98, 0.30, 0.10, 1560),
    ("H3", "XX", 98, 0.30, 0.10, 1560),
    ("H4", "S235JR", 98, 0.03, 1.70, 1590),  # Mn already above the grade max: infeasible
]


def schedule(tmp_path: Path) -> Path:
    rows = []
    for hid, grade, w, c, mn, t in ROWS:
        rows.append({"heat_id": hid, "planned_time": "2026-11-25T00:00Z", "grade": grade, "steel_weight_t": w,
                     "initial_C_wt_pct": c, "initial_Mn_wt_pct": mn, "initial_Si_wt_pct": 0.01,
                     "initial_Al_wt_pct": 0.002, "initial_P_wt_pct": 0.012, "initial_S_wt_pct": 0.01,
                     "initial_Cr_wt_pct": 0.03, "initial_Ni_wt_pct": 0.03, "initial_Cu_wt_pct": 0.08,
                     "initial_temperature_degC": t, "initial_oxygen_ppm": 400})
    p = tmp_path / "schedule.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    return p


def test_optimize_writes_safe_recommendation(cfg, tmp_path: Path):
    out = tmp_path / "recs"
    res = CliRunner().invoke(app, ["optimize", "--schedule", str(schedule(tmp_path)), "--surrogates", "prior",
                                   "--out", str(out), "--workers", "1"])
    assert res.exit_code == 3, res.output  # one heat infeasible
    assert "unknown grade 'XX'" in res.output and "INFEASIBLE" in res.output
    rec = Recommendation.from_json(out / "latest.json")
    assert [h.heat_id for h in rec.heats] == ["H1", "H2", "H4"]
    assert check_recommendation(rec, cfg) == []
    h1 = rec.heats[0]
    assert h1.feasible and h1.additions_kg["SiMn"] > 0 and 1 <= h1.n_samples <= 5
    assert cfg.grade("S355J2").chemistry_wt_pct["Mn"].min <= h1.predicted_wt_pct["Mn"].low
    assert not rec.heats[2].feasible and rec.heats[2].additions_kg == {} and "Mn max" in rec.heats[2].diagnosis
    frame = pd.read_parquet(out / f"{rec.recommendation_id}.parquet")
    assert list(frame["heat_id"]) == ["H1", "H2", "H4"] and "add_SiMn_kg" in frame
    assert json.loads((out / "latest.json").read_text())["model_versions"] == {"surrogates": "config-priors"}


def test_optimize_bad_inputs(tmp_path: Path):
    runner = CliRunner()
    res = runner.invoke(app, ["optimize", "--schedule", str(tmp_path / "none.csv"), "--surrogates", "prior"])
    assert res.exit_code == 2 and "schedule file not found" in res.output
    res = runner.invoke(app, ["optimize", "--schedule", str(schedule(tmp_path)), "--surrogates", "magic"])
    assert res.exit_code == 1 and "'champion' or 'prior'" in res.output
