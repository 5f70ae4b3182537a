"""``dosing advise``: JSON heat states in on stdin, JSON decisions out on stdout, as a level-2 system drives it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.cli import app
from optimizer.simulator.heats import EVALUATION_STREAM, draw_heats, heat_rng
from optimizer.simulator.plant import run_heat
from optimizer.simulator.policies import baseline_plan
from optimizer.stages.state import HeatState, Sample


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_advise_round_trip_over_stdin_and_stdout(cfg, tmp_path: Path):
    res = CliRunner().invoke(app, ["simulate", "--heats", "300", "--seed", "5", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    heat = draw_heats(cfg, 1, 9, EVALUATION_STREAM)[0]
    rec = run_heat(cfg, heat, baseline_plan(cfg, heat.context), heat_rng(9, EVALUATION_STREAM + 100, 0))
    arrival = rec.samples[0]
    c = heat.context
    state = HeatState(c.heat_id, c.grade, c.steel_weight_t,
                      (Sample(0, 0.0, arrival["temperature_degC"],
                              {el: arrival[f"{el}_wt_pct"] for el in cfg.elements}),),
                      oxygen_ppm=c.initial_oxygen_ppm)
    after_one = state.to_dict()
    s1 = rec.samples[1]
    after_one["samples"].append({"sample_no": 1, "minutes_from_start": s1["minutes_from_start"],
                                 "temperature_degC": s1["temperature_degC"],
                                 "wt_pct": {el: s1[f"{el}_wt_pct"] for el in cfg.elements}})
    after_one["stages"] = [{"additions_kg": dict(rec.stages[0].additions_kg),
                            "arc_energy_kWh": rec.stages[0].arc_energy_kWh}]
    lines = [json.dumps(state.to_dict()), "this is not json", json.dumps({"heat_id": "X"}),
             json.dumps(after_one)]
    proc = subprocess.run([sys.executable, "-m", "connectors.cli", "advise", "--data", str(tmp_path)],
                          input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [o["line"] for o in out] == [1, 2, 3, 4]
    first, bad_json, missing, second = out
    assert first["heat_id"] == c.heat_id and first["after_sample"] == 0 and not first["finish"]
    assert first["additions_kg"] and first["arc_energy_kWh"] > 0 and "temperature_degC" in first["predicted"]
    assert "not JSON" in bad_json["error"]
    assert "'grade' is missing" in missing["error"]
    assert second["after_sample"] == 1 and ("finish" in second["reason"] or not second["finish"])


def test_advise_without_a_sample_table_is_bad_input(cfg, tmp_path: Path):
    res = CliRunner().invoke(app, ["simulate", "--heats", "40", "--seed", "5", "--out", str(tmp_path)])
    assert res.exit_code == 0
    (tmp_path / "samples.csv").unlink()
    res = CliRunner().invoke(app, ["advise", "--data", str(tmp_path)], input="")
    assert res.exit_code == 2 and "sample table" in res.output
