"""``dosing optimize`` end to end with the config-prior surrogates: files written, bad rows reported, exit codes,
totals against today's practice (the report's and the nightly line's figure)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from connectors.cli import app
from connectors.nightly import baseline_frame, summary_line
from connectors.report.html import NightReport, render, savings_of
from optimizer.recommendation import Recommendation
from optimizer.safety import check_recommendation
from optimizer.savings import day_savings, practice_costs, practice_from_frame
from optimizer.schedule import read_schedule

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


def _saved_money(line: str) -> float:
    """The money figure of a summary line ("saves 1,234 USD" / "costs 56 USD more")."""
    m = re.search(r"\b(saves|costs) ([\d,]+) USD", line)
    assert m, line
    return (1 if m.group(1) == "saves" else -1) * float(m.group(2).replace(",", ""))


def test_optimize_ends_with_totals_against_todays_practice_and_hides_internal_names(cfg, tmp_path: Path):
    sched = schedule(tmp_path)
    res = CliRunner().invoke(app, ["optimize", "--schedule", str(sched), "--surrogates", "prior",
                                   "--out", str(tmp_path / "recs"), "--workers", "1"])
    assert res.exit_code == 3, res.output
    assert "final_" not in res.output and "binding" not in res.output  # internal constraint names: --explain
    assert "\x1b[" not in res.output and "\r" not in res.output and "solve each heat" not in res.output  # no bar
    for label in ("money, USD", "CO2 emitted, t", "internal CO2 charge at 80 USD/t, USD (not paid)",
                  "arc energy, kWh", "samples"):
        assert label in res.output, label
    last = res.output.rstrip("\n").splitlines()[-1]
    assert last.startswith("planned 2 of 3 heats, 1 without a plan (H4); "), last
    assert "CO2 (separate from money)" in last
    # the same figure as the night's report and the nightly summary line for the same day
    rec = Recommendation.from_json(tmp_path / "recs" / "latest.json")
    heats = read_schedule(sched, cfg).heats
    practice = practice_costs(cfg, heats)
    report = savings_of(NightReport("t", rec, baseline_frame(cfg, heats), [], cfg=cfg))
    night = summary_line("n1", rec, day_savings(cfg, rec, practice_from_frame(cfg, baseline_frame(cfg, heats))),
                         "USD", None, tmp_path / "r.json")
    assert report.saved("money") == pytest.approx(day_savings(cfg, rec, practice).saved("money"))
    assert _saved_money(last) == _saved_money(night) == round(report.saved("money"))
    assert f"{report.saved('money'):,.0f} USD" in render(NightReport("t", rec, baseline_frame(cfg, heats), [],
                                                                      cfg=cfg))
    assert "published: no (no --state-dir" in night and night.startswith("night n1: planned 2 of 3 heats")
    explained = CliRunner().invoke(app, ["optimize", "--schedule", str(sched), "--surrogates", "prior",
                                         "--out", str(tmp_path / "recs2"), "--workers", "1", "--explain"])
    assert "binding limits (internal names)" in explained.output and "final_" in explained.output
