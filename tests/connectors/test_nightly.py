"""The nightly run: end to end once, idempotent on re-run, locked against a second run, report renders."""

from __future__ import annotations

import re
import shutil

import pytest
from filelock import FileLock
from typer.testing import CliRunner

from connectors.cli import app
from connectors.nightly import NightlyError, baseline_frame, run_nightly
from connectors.report.html import NightReport, savings_of
from optimizer.recommendation import Recommendation
from optimizer.savings import day_savings, practice_costs
from optimizer.schedule import read_schedule
from optimizer.simulator import draw_heats, schedule_frame, simulate_history
from optimizer.simulator.heats import EVALUATION_STREAM

pytestmark = pytest.mark.slow  # whole nights: training, MLflow, planning


@pytest.fixture(scope="module")
def inputs(cfg, tmp_path_factory):
    d = tmp_path_factory.mktemp("night")
    heats, samples = simulate_history(cfg, 500, seed=8)
    (d / "history").mkdir()
    heats.iloc[:250].to_csv(d / "history" / "heats_day1.csv", index=False)
    heats.iloc[250:].to_parquet(d / "history" / "heats_day2.parquet", index=False)
    schedule_frame(cfg, draw_heats(cfg, 8, 3, EVALUATION_STREAM)).to_csv(d / "schedule.csv", index=False)
    return d


def test_night_runs_once_and_repeats_nothing(cfg, inputs, monkeypatch):
    monkeypatch.chdir(inputs)
    work, state = inputs / "work", inputs / "opcua"
    first = run_nightly(cfg, inputs / "history", inputs / "schedule.csv", work, state, pareto=True,
                        day_draws=0, progress=lambda m: None)
    assert not first.skipped and first.published
    rec = Recommendation.from_json(first.recommendation_file)
    assert len(rec.heats) == 8 and rec.model_versions
    assert [p.name for p in (state / "inbox").glob("*.json")] == [f"{rec.recommendation_id}.json"]
    page = first.report_file.read_text()
    for section in ("Totals for the planned heats", "Per heat", "Material use", "Cost versus CO2",
                    "Surrogate accuracy", "Data quality", "Model versions", "data:image/png;base64"):
        assert section in page, section
    again = run_nightly(cfg, inputs / "history", inputs / "schedule.csv", work, state, day_draws=0,
                        progress=lambda m: None)
    assert again.skipped and again.recommendation_file == first.recommendation_file
    assert again.summary == first.summary and "published: yes, in the setpoint server's inbox" in first.summary
    assert len(list((work / "recommendations").glob("*.parquet"))) == 1  # nothing duplicated
    # one saving for the day: the nightly line, the report and `dosing optimize`'s definition agree
    heats = read_schedule(inputs / "schedule.csv", cfg, arrival_optional=True).heats
    optimize_fig = day_savings(cfg, rec, practice_costs(cfg, heats)).saved("money")
    report_fig = savings_of(NightReport("t", rec, baseline_frame(cfg, heats), [], cfg=cfg)).saved("money")
    night_fig = float(re.search(r"(saves|costs) ([\d,]+) USD", first.summary).group(2).replace(",", ""))
    assert optimize_fig == pytest.approx(report_fig) and round(abs(report_fig)) == night_fig
    assert f"{report_fig:,.0f} USD" in page


def test_ingest_reads_only_new_files(cfg, inputs, tmp_path):
    from connectors.ingest import ingest

    hist = tmp_path / "h"
    hist.mkdir()
    shutil.copy(inputs / "history" / "heats_day1.csv", hist)
    first = ingest(hist, cfg, tmp_path / "w")
    assert first.new_files == ["heats_day1.csv"] and len(first.heats) == 250
    again = ingest(hist, cfg, tmp_path / "w")
    assert again.new_files == [] and len(again.heats) == 250 and again.digest == first.digest
    shutil.copy(inputs / "history" / "heats_day2.parquet", hist)
    third = ingest(hist, cfg, tmp_path / "w")
    assert third.new_files == ["heats_day2.parquet"] and len(third.heats) == 500


def test_second_run_is_locked_out(cfg, inputs):
    work = inputs / "locked"
    work.mkdir()
    with FileLock(str(work / "nightly.lock")), pytest.raises(NightlyError, match="another nightly run holds"):
        run_nightly(cfg, inputs / "history", inputs / "schedule.csv", work, None, day_draws=0, progress=lambda m: None)


def test_bad_schedule_fails_its_step_and_publishes_nothing(cfg, inputs, monkeypatch):
    monkeypatch.chdir(inputs)
    bad = inputs / "bad_schedule.csv"
    bad.write_text("heat_id,grade\nX1,S355J2\n")
    state = inputs / "opcua_bad"
    with pytest.raises(NightlyError, match="step 'schedule' failed") as info:
        run_nightly(cfg, inputs / "history", bad, inputs / "work_bad", state, pareto=False, day_draws=0,
                    progress=lambda m: None)
    assert info.value.exit_code == 2  # bad input, found before anything is trained
    assert not (state / "inbox").exists() or not list((state / "inbox").glob("*.json"))


def test_failed_publish_keeps_recommendation_and_exits_4(cfg, inputs, monkeypatch):
    monkeypatch.chdir(inputs)
    blocker = inputs / "not_a_dir"
    blocker.write_text("a file where the server's state directory should be")
    with pytest.raises(NightlyError, match="step 'publish' failed") as info:
        run_nightly(cfg, inputs / "history", inputs / "schedule.csv", inputs / "work_pub", blocker, pareto=False,
                    day_draws=0, progress=lambda m: None)
    assert info.value.exit_code == 4 and "dosing publish --retry" in str(info.value)
    assert list((inputs / "work_pub" / "recommendations").glob("*.json"))  # kept for the retry


def test_a_schedule_of_grade_time_and_weight_is_enough_for_the_night(cfg, inputs, tmp_path, monkeypatch):
    """The night knows heat id, planned time, grade and weight; arrival values come from the grade's history."""
    monkeypatch.chdir(tmp_path)
    full = schedule_frame(cfg, draw_heats(cfg, 6, 4, EVALUATION_STREAM))
    full[["heat_id", "planned_time", "grade", "steel_weight_t"]].to_csv(tmp_path / "schedule.csv", index=False)
    res = CliRunner().invoke(app, ["nightly", "--history", str(inputs / "history"), "--schedule",
                                   str(tmp_path / "schedule.csv"), "--workdir", str(tmp_path / "work"), "--no-pareto",
                                   "--day-draws", "3"])
    assert res.exit_code == 0, res.output
    rec = Recommendation.from_json(tmp_path / "work" / "recommendations" / "latest.json")
    assert len(rec.heats) == 6 and any(h.feasible for h in rec.heats)
    assert "6 of 6 heats planned from the grade's expected arrival state" in res.output
    day = rec.day_use  # the day's ranges from 3 drawn arrivals per heat, in the recommendation and the report
    assert day is not None and day.draws_per_heat == 3 and day.energy_kWh is not None
    assert day.energy_kWh.low <= day.energy_kWh.expected <= day.energy_kWh.high
    assert any("Expected use for the day" in p.read_text() for p in (tmp_path / "work").rglob("*.html"))
    assert "shadow prices of scarce materials" in res.output
    # without --state-dir: the publish step says it is skipped, and the night ends with one summary line
    assert "5/6 publish to the setpoint server: skipped (no --state-dir given)" in res.output
    last = res.output.rstrip("\n").splitlines()[-1]
    n_ok = sum(h.feasible for h in rec.heats)
    assert last.startswith("night ") and f"planned {n_ok} of 6 heats, {6 - n_ok} without a plan" in last, last
    assert "against today's practice" in last and "CO2 (separate from money)" in last
    assert "published: no (no --state-dir" in last
    assert "\x1b[" not in res.output and "\r" not in res.output  # no progress bar drawn into captured output
