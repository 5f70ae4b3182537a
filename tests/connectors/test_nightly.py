"""The nightly run: end to end once, idempotent on re-run, locked against a second run, report renders."""

from __future__ import annotations

import shutil

import pytest
from filelock import FileLock

from connectors.nightly import NightlyError, run_nightly
from optimizer.recommendation import Recommendation
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
    assert len(list((work / "recommendations").glob("*.parquet"))) == 1  # nothing duplicated


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
    lines: list[str] = []
    night = run_nightly(cfg, inputs / "history", tmp_path / "schedule.csv", tmp_path / "work", None, pareto=False,
                        progress=lines.append, day_draws=3)
    rec = Recommendation.from_json(night.recommendation_file)
    assert len(rec.heats) == 6 and any(h.feasible for h in rec.heats)
    assert any("6 of 6 heats planned from the grade's expected arrival state" in x for x in lines), lines
    day = rec.day_use  # the day's ranges from 3 drawn arrivals per heat, in the recommendation and the report
    assert day is not None and day.draws_per_heat == 3 and day.energy_kWh is not None
    assert day.energy_kWh.low <= day.energy_kWh.expected <= day.energy_kWh.high
    assert "Expected use for the day" in night.report_file.read_text()
    assert any("shadow prices of scarce materials" in x for x in lines), lines
