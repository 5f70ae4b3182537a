"""Bad input in the nightly run (issue 22): inputs validated before any side effect, all-bad files recorded, a
killed night's models reused on the rerun (real local MLflow store), schedule warnings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from connectors.cli import app
from connectors.ingest import ingest
from connectors.model_registry import NIGHT_TAG, registered_name
from connectors.nightly import NightlyError, run_nightly
from optimizer.recommendation import Recommendation
from optimizer.simulator import draw_heats, schedule_frame, simulate_history
from optimizer.simulator.heats import EVALUATION_STREAM
from optimizer.surrogates import constrained_outcomes
from tests.optimizer.surrogates.conftest import mn_only

ROOT = Path(__file__).resolve().parents[2]
NOW = pd.Timestamp("2026-12-01T02:10:00Z")
KILL_AFTER_REGISTER = """
import os, signal, sys
from pathlib import Path
from connectors.nightly import run_nightly
from optimizer.config import load_config
from tests.optimizer.surrogates.conftest import mn_only

d = Path(sys.argv[1])

def progress(message):
    if message.startswith("3/6"):  # models trained and registered, nothing optimized yet
        os.kill(os.getpid(), signal.SIGKILL)

run_nightly(mn_only(load_config()), d / "history", d / "schedule.csv", d / "work", None, tracking_uri=sys.argv[2],
            pareto=False, day_draws=0, progress=progress, now=__import__("pandas").Timestamp(sys.argv[3]))
"""


@pytest.fixture(scope="module")
def history(cfg):
    heats, _ = simulate_history(cfg, 300, seed=8)
    return heats


def _inputs(cfg, d: Path, heats: pd.DataFrame) -> Path:
    (d / "history").mkdir(parents=True)
    heats.iloc[:150].to_csv(d / "history" / "heats_day1.csv", index=False)
    heats.iloc[150:].to_parquet(d / "history" / "heats_day2.parquet", index=False)
    sched = schedule_frame(cfg, draw_heats(cfg, 4, 3, EVALUATION_STREAM, start=pd.Timestamp("2026-12-02T06:00Z")))
    sched.loc[1, "planned_time"] = pd.Timestamp("2020-06-01T06:00Z")  # a stale year
    sched.loc[2, "heat_id"] = heats["heat_id"].iloc[10]  # already treated
    sched.to_csv(d / "schedule.csv", index=False)
    return d


def _all_bad(cfg, heats: pd.DataFrame, path: Path) -> None:
    bad = heats.iloc[:20].copy()
    bad["heat_id"] = [f"Z{i:04d}" for i in range(20)]
    bad["grade"] = "X70"
    bad.to_csv(path, index=False)


def _versions(cfg, uri: str) -> dict[str, list]:
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return {o: client.search_model_versions(f"name='{registered_name(cfg, o)}'") for o in constrained_outcomes(cfg)}


def test_schedule_missing_a_column_exits_2_before_anything_is_trained(cfg, history, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    d = _inputs(cfg, tmp_path, history)
    pd.read_csv(d / "schedule.csv").drop(columns="initial_Mn_wt_pct").to_csv(d / "bad.csv", index=False)
    db = tmp_path / "mlflow.db"
    with pytest.raises(NightlyError, match=r"step 'schedule' failed: .*bad.csv: schedule columns missing: "
                       r"\['initial_Mn_wt_pct'\]") as info:
        run_nightly(cfg, d / "history", d / "bad.csv", d / "work", None, f"sqlite:///{db}", pareto=False,
                    day_draws=0, progress=lambda m: None, now=NOW)
    assert info.value.exit_code == 2
    assert not db.exists() and not (d / "work" / "history.parquet").exists()  # nothing trained, nothing ingested
    cli = CliRunner().invoke(app, ["nightly", "--history", str(d / "history"), "--schedule", str(d / "bad.csv"),
                                   "--workdir", str(d / "work"), "--tracking-uri", f"sqlite:///{db}", "--no-pareto"])
    assert cli.exit_code == 2 and "schedule columns missing" in cli.output and not db.exists()
    (d / "unreadable.csv").write_bytes(bytes(range(256)))
    with pytest.raises(NightlyError, match="step 'schedule' failed: .*binary data") as info:
        run_nightly(cfg, d / "history", d / "unreadable.csv", d / "work", None, f"sqlite:///{db}",
                    day_draws=0, progress=lambda m: None, now=NOW)
    assert info.value.exit_code == 2 and not db.exists()
    with pytest.raises(NightlyError, match="step 'ingest' failed: .*: 0 valid heats in the history, training "
                       "needs at least 60 .*required columns missing") as info:
        run_nightly(cfg, d / "schedule.csv", d / "schedule.csv", d / "work", None, f"sqlite:///{db}",
                    day_draws=0, progress=lambda m: None, now=NOW)  # the schedule given as the history: no heat columns
    assert info.value.exit_code == 2 and not db.exists()


@pytest.mark.slow  # a night killed in a child process, then two whole nights
def test_killed_night_reuses_its_models_warns_and_survives_an_all_bad_file(cfg, history, tmp_path, monkeypatch):
    cfg = mn_only(cfg)  # grades limiting Mn only, here and in the killed child: 2 outcomes to register, reuse
    monkeypatch.chdir(tmp_path)
    d = _inputs(cfg, tmp_path, history)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_DISABLE_TELEMETRY": "true"}
    killed = subprocess.run([sys.executable, "-c", KILL_AFTER_REGISTER, str(d), uri, NOW.isoformat()], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -9, killed.stderr[-3000:]
    first = _versions(cfg, uri)
    assert all(len(v) == 1 for v in first.values()), {o: len(v) for o, v in first.items()}
    nid = {v[0].tags.get(NIGHT_TAG) for v in first.values()}
    assert len(nid) == 1 and None not in nid

    lines: list[str] = []
    res = run_nightly(cfg, d / "history", d / "schedule.csv", d / "work", None, uri, pareto=False,
                      day_draws=0, progress=lines.append, now=NOW)
    assert not res.skipped and res.night_id in nid
    again = _versions(cfg, uri)
    # not registered twice: every outcome still has only the killed attempt's version 1, now champion
    assert {o: [str(v.version) for v in vs] for o, vs in again.items()} == {o: ["1"] for o in first}
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champions = {o: str(client.get_model_version_by_alias(registered_name(cfg, o), "champion").version) for o in first}
    assert set(champions.values()) == {"1"}
    rec = Recommendation.from_json(res.recommendation_file)
    assert len(rec.heats) == 4  # warnings do not drop heats
    warn = res.schedule_problems.set_index("field")
    assert set(warn.index) == {"planned_time", "heat_id"}
    assert warn.loc["planned_time", "row"] == 3
    assert "2020-06-01 06:00 UTC is 2374 days before this run (2026-12-01 02:10 UTC)" in warn.loc["planned_time",
                                                                                                  "reason"]
    assert warn.loc["heat_id", "heat_id"] == history["heat_id"].iloc[10] and warn.loc["heat_id", "row"] == 4
    assert "already in the history" in warn.loc["heat_id", "reason"]
    text = "\n".join(lines)
    assert "schedule: 0 rows rejected (not planned), 2 warnings (planned)" in text
    assert "Schedule checks" in res.report_file.read_text() and "already in the history" in res.report_file.read_text()

    _all_bad(cfg, history, d / "history" / "heats_day3.csv")  # the next night: a new file whose rows are all bad
    lines.clear()
    nxt = run_nightly(cfg, d / "history", d / "schedule.csv", d / "work", None, uri, pareto=False,
                      day_draws=0, progress=lines.append, now=NOW)
    assert not nxt.skipped and nxt.night_id != res.night_id
    manifest = json.loads((d / "work" / "ingested.json").read_text())
    assert manifest["heats_day3.csv"]["status"] == "rejected" and manifest["heats_day3.csv"]["rejected_rows"] == 20
    assert manifest["heats_day1.csv"]["status"] == "ingested"
    assert "rejected files (not read again until they change): ['heats_day3.csv']" in "\n".join(lines)
    third = run_nightly(cfg, d / "history", d / "schedule.csv", d / "work", None, uri, pareto=False,
                        day_draws=0, progress=lambda m: None, now=NOW)
    assert third.skipped and third.night_id == nxt.night_id  # the rejected file does not fail later nights


def test_ingest_all_bad_or_unreadable_new_file_is_recorded_once(cfg, history, tmp_path):
    hist, work = tmp_path / "h", tmp_path / "w"
    hist.mkdir()
    history.iloc[:50].to_csv(hist / "heats_1.csv", index=False)
    assert len(ingest(hist, cfg, work).heats) == 50
    _all_bad(cfg, history, hist / "heats_2.csv")
    (hist / "heats_3.parquet").write_bytes(b"not parquet")
    second = ingest(hist, cfg, work)  # the old code raised KeyError: 'heat_id' here
    assert len(second.heats) == 50 and sorted(second.rejected_files) == ["heats_2.csv", "heats_3.parquet"]
    assert (second.report["field"] == "grade").sum() == 20
    files = second.report[second.report["field"] == "<file>"]
    assert len(files) == 1 and "heats_3.parquet: cannot be read as parquet" in files["reason"].iloc[0]
    third = ingest(hist, cfg, work)
    assert third.new_files == [] and third.report.empty and third.digest == second.digest
    history.iloc[50:60].to_csv(hist / "heats_2.csv", index=False)  # fixed: read again
    fourth = ingest(hist, cfg, work)
    assert fourth.new_files == ["heats_2.csv"] and len(fourth.heats) == 60
