"""The nightly run: end to end once, idempotent on re-run, locked against a second run, report renders."""

from __future__ import annotations

import re
import shutil

import mlflow
import pytest
from filelock import FileLock
from mlflow import MlflowClient
from typer.testing import CliRunner

from connectors.cli import app
from connectors.model_registry import NIGHT_TAG, night_versions, registered_name
from connectors.nightly import NightlyError, baseline_frame, run_nightly
from connectors.report.html import NightReport, savings_of
from optimizer.recommendation import Recommendation
from optimizer.savings import day_savings, practice_costs
from optimizer.schedule import read_schedule
from optimizer.simulator import draw_heats, schedule_frame, simulate_history
from optimizer.simulator.heats import EVALUATION_STREAM
from optimizer.surrogates import constrained_outcomes
from tests.optimizer.surrogates.conftest import mn_only

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


def test_two_nights_on_two_stores_in_one_process_never_mix(cfg, inputs, tmp_path, monkeypatch):
    """Each night registers in and reads from its own store only, and MLflow's process-wide URIs stay as they
    were (a night that set them once made a later one in the same process read another store's versions). Grades
    limiting Mn only: each night trains and registers Mn and the temperature (the stores are what is checked, for
    every outcome; 9 outcomes made each night 9 registrations and plots)."""
    cfg = mn_only(cfg)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    heats, _ = simulate_history(cfg, 150, seed=8)  # small: training is most of a night
    (tmp_path / "history").mkdir()
    heats.to_csv(tmp_path / "history" / "heats.csv", index=False)
    schedule_frame(cfg, draw_heats(cfg, 3, 5, EVALUATION_STREAM)).to_csv(tmp_path / "schedule.csv", index=False)
    uris = {k: f"sqlite:///{tmp_path / k / 'mlflow.db'}" for k in ("a", "b")}
    for k in uris:
        (tmp_path / k).mkdir()
    nights = {k: run_nightly(cfg, tmp_path / "history", tmp_path / "schedule.csv", tmp_path / f"work_{k}", None, uri,
                             pareto=False, progress=lambda m: None, day_draws=0) for k, uri in uris.items()}
    assert list((tmp_path / "cwd").iterdir()) == []  # no default store, no shared artifact folder
    assert not {mlflow.get_tracking_uri(), mlflow.get_registry_uri()} & set(uris.values())  # globals never set
    outcomes = constrained_outcomes(cfg)
    for k, uri in uris.items():
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        found = {o: client.search_model_versions(f"name='{registered_name(cfg, o)}'") for o in outcomes}
        # the same night (same history and schedule) on two stores: one version each, tagged, in its own store
        assert {o: [(str(v.version), v.tags.get(NIGHT_TAG)) for v in vs] for o, vs in found.items()} == \
            {o: [("1", nights[k].night_id)] for o in outcomes}
        exp = client.get_experiment_by_name(cfg.mlflow.experiment).experiment_id
        runs = {r.info.run_id for r in client.search_runs([exp])}
        assert {vs[0].run_id for vs in found.values()} <= runs  # logged by this store's own runs
        assert len(client.search_runs([exp], f"tags.night_id = '{nights[k].night_id}'")) == 1  # night logged once
        assert night_versions(cfg, nights[k].night_id, uri) == dict.fromkeys(outcomes, "1")
        rec = Recommendation.from_json(nights[k].recommendation_file)
        assert set(rec.model_versions.values()) == {f"{registered_name(cfg, o)}/1" for o in outcomes}
    runs_a = {r.info.run_id for r in MlflowClient(uris["a"]).search_runs(
        [MlflowClient(uris["a"]).get_experiment_by_name(cfg.mlflow.experiment).experiment_id])}
    runs_b = {r.info.run_id for r in MlflowClient(uris["b"]).search_runs(
        [MlflowClient(uris["b"]).get_experiment_by_name(cfg.mlflow.experiment).experiment_id])}
    assert runs_a and runs_b and not runs_a & runs_b
