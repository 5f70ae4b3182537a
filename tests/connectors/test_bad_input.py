"""Bad input in files and schedules (issue 22): each case names file, row and field with a reason; good data kept."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from connectors.cli import app
from connectors.files import load_heats
from optimizer.errors import DataFileError
from optimizer.recommendation import Recommendation
from optimizer.schedule import read_schedule
from optimizer.simulator import simulate_history
from tests.connectors.test_cli_optimize import schedule
from tests.optimizer.heat_factory import make_heats

BINARY = bytes(range(256)) * 8


def test_semicolon_csv_with_decimal_commas_is_read_and_said(cfg, tmp_path: Path):
    df = make_heats(cfg, 5)
    df.loc[:, "add_SiMn_kg"] = [120.5, 130.25, 99.75, 101.0, 88.125]
    df.to_csv(tmp_path / "heats.csv", index=False, sep=";", decimal=",")
    df.to_csv(tmp_path / "plain.csv", index=False)
    euro, plain = load_heats(tmp_path / "heats.csv", cfg), load_heats(tmp_path / "plain.csv", cfg)
    assert len(euro.heats) == 5 and euro.report.empty
    pd.testing.assert_frame_equal(euro.heats, plain.heats)
    assert plain.notes == []
    assert len(euro.notes) == 1 and "';'-separated (semicolon) with decimal commas" in euro.notes[0]
    res = CliRunner().invoke(app, ["validate", str(tmp_path / "heats.csv")])
    assert res.exit_code == 0 and "5 good heats, 0 rejected rows" in res.output
    assert "with decimal commas" in res.output


def test_semicolon_csv_with_decimal_points_keeps_points(cfg, tmp_path: Path):
    make_heats(cfg, 3).to_csv(tmp_path / "heats.csv", index=False, sep=";")
    res = load_heats(tmp_path / "heats.csv", cfg)
    assert len(res.heats) == 3 and res.report.empty
    assert "semicolon" in res.notes[0] and "decimal commas" not in res.notes[0]
    assert res.heats["steel_weight_t"].eq(100.0).all()


def test_duplicate_heat_ids_across_files_name_each_copy(cfg, tmp_path: Path):
    df = make_heats(cfg, 15)
    df.to_csv(tmp_path / "heats_1.csv", index=False)
    df.iloc[5:15].to_csv(tmp_path / "heats_2.csv", index=False)  # ten heats again, on lines 2..11
    res = load_heats(tmp_path, cfg)
    assert sorted(res.heats["heat_id"]) == [f"H{i:04d}" for i in range(5)]
    dup = res.report[res.report["reason"].str.contains("duplicate heat id across files")]
    assert len(dup) == 20
    first = dup[dup["source"].str.endswith("heats_1.csv")].sort_values("row")
    second = dup[dup["source"].str.endswith("heats_2.csv")].sort_values("row")
    assert list(first["row"]) == list(range(7, 17)) and list(second["row"]) == list(range(2, 12))
    assert list(first["heat_id"]) == list(second["heat_id"]) == [f"H{i:04d}" for i in range(5, 15)]
    assert "heats_1.csv, heats_2.csv" in dup["reason"].iloc[0]
    out = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert out.exit_code == 0 and "5 good heats, 20 rejected rows" in out.output


def test_column_named_twice_is_refused_naming_it(cfg, tmp_path: Path):
    df = make_heats(cfg, 4)
    text = df.to_csv(index=False).splitlines()
    text = [text[0] + ",add_SiMn_kg"] + [ln + ",999" for ln in text[1:]]
    p = tmp_path / "heats.csv"
    p.write_text("\n".join(text) + "\n")
    n = len(df.columns)
    with pytest.raises(DataFileError, match=rf"heats.csv: column named twice in the header: 'add_SiMn_kg' in "
                       rf"columns \[\d+, {n + 1}\]"):
        load_heats(p, cfg)
    d = tmp_path / "dir"
    d.mkdir()
    p.rename(d / "heats_bad.csv")
    df.assign(heat_id=[f"G{i}" for i in range(4)]).to_csv(d / "heats_good.csv", index=False)
    res = load_heats(d, cfg)  # in a directory: a file error, the other file still loads
    assert len(res.heats) == 4
    assert res.report["field"].tolist() == ["<file>"] and "add_SiMn_kg" in res.report["reason"].iloc[0]


def test_unreadable_samples_file_is_a_file_error_and_heats_load(cfg, tmp_path: Path):
    make_heats(cfg, 6).to_csv(tmp_path / "heats.csv", index=False)
    (tmp_path / "samples.csv").write_bytes(BINARY)
    (tmp_path / "samples_2.csv").write_text("sample_no,temperature_degC\n0,1590\n")
    res = load_heats(tmp_path, cfg)
    assert len(res.heats) == 6 and res.samples.empty
    files = res.report.set_index(res.report["source"].map(lambda s: Path(s).name))
    assert set(files.index) == {"samples.csv", "samples_2.csv"} and (files["field"] == "<file>").all()
    assert "binary data" in files.loc["samples.csv", "reason"]
    assert "no 'heat_id' column" in files.loc["samples_2.csv", "reason"]
    assert "the heats are still loaded" in files.loc["samples.csv", "reason"]


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_train_with_unreadable_samples_trains_and_binary_heats_names_the_file(cfg, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    heats, _ = simulate_history(cfg, 150, seed=3)
    (tmp_path / "ok").mkdir()
    heats.to_csv(tmp_path / "ok" / "heats.csv", index=False)
    (tmp_path / "ok" / "samples.csv").write_bytes(BINARY)
    run = CliRunner().invoke
    res = run(app, ["train", "--data", "ok", "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"])
    assert res.exit_code == 0, res.output
    assert "file error:" in res.output and "samples.csv" in res.output and "promoted" in res.output
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "heats.csv").write_bytes(BINARY)
    res = run(app, ["train", "--data", "bad", "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"])
    assert res.exit_code == 2
    assert "file error:" in res.output and "heats.csv: cannot be read as csv: the file holds binary data" in res.output
    assert "1 file(s) could not be used: heats.csv" in res.output


def test_binary_heats_file_alone_is_one_clear_error(cfg, tmp_path: Path):
    (tmp_path / "heats.csv").write_bytes(BINARY)
    with pytest.raises(DataFileError, match="heats.csv: cannot be read as csv: the file holds binary data"):
        load_heats(tmp_path / "heats.csv", cfg)
    (tmp_path / "latin.csv").write_bytes("heat_id,grade\nH1,Stahl\xe4\n".encode("latin-1"))
    with pytest.raises(DataFileError, match="not UTF-8 text"):
        load_heats(tmp_path / "latin.csv", cfg)


def _with_planned(path: Path, times: list[str]) -> Path:
    df = pd.read_csv(path)
    df["planned_time"] = times
    df.to_csv(path, index=False)
    return path


def test_unparsable_planned_time_is_a_row_error(cfg, tmp_path: Path):
    p = _with_planned(schedule(tmp_path), ["2026-12-02T06:00Z", "tomorrow morning", "", ""])
    sched = read_schedule(p, cfg)
    assert [h.heat_id for h in sched.heats] == ["H1", "H4"]  # H2 bad time, H3 unknown grade; blank is allowed
    assert sched.heats[0].planned_time == pd.Timestamp("2026-12-02T06:00Z") and sched.heats[1].planned_time is None
    bad = sched.report[sched.report["field"] == "planned_time"]
    assert bad[["row", "heat_id"]].values.tolist() == [[3, "H2"]]
    assert "not a date/time: 'tomorrow morning'; use ISO 8601" in bad["reason"].iloc[0]
    assert sched.lines == {"H1": 2, "H4": 5}


def test_schedule_semicolon_and_duplicate_column(cfg, tmp_path: Path):
    p = schedule(tmp_path)
    df = pd.read_csv(p)
    df.to_csv(tmp_path / "euro.csv", index=False, sep=";", decimal=",")
    euro = read_schedule(tmp_path / "euro.csv", cfg)
    assert [h.heat_id for h in euro.heats] == ["H1", "H2", "H4"]
    assert euro.heats[0].initial_wt_pct["Mn"] == pytest.approx(0.12)
    (tmp_path / "dup.csv").write_text(p.read_text().replace("initial_oxygen_ppm", "grade", 1))
    with pytest.raises(DataFileError, match="column named twice in the header: 'grade'"):
        read_schedule(tmp_path / "dup.csv", cfg)


def test_optimize_row_error_for_bad_time_and_warnings(cfg, tmp_path: Path):
    p = _with_planned(schedule(tmp_path), ["2020-03-01T06:00Z", "31/02/2026 25:00", "2099-01-01T00:00Z",
                                            "2099-01-01T01:00Z"])
    hist = tmp_path / "hist.csv"
    make_heats(cfg, 3).assign(heat_id=["H4", "X1", "X2"]).to_csv(hist, index=False)
    out = tmp_path / "recs"
    res = CliRunner().invoke(app, ["optimize", "--schedule", str(p), "--surrogates", "prior", "--out", str(out),
                                   "--workers", "1", "--history", str(hist)])
    assert res.exit_code == 3, res.output  # H4 infeasible as in test_cli_optimize
    text = " ".join(res.output.split())
    assert "row 3 heat 'H2': planned_time: not a date/time: '31/02/2026 25:00'" in text
    assert "2 schedule warnings (those heats are still planned)" in text
    assert "row 2 heat 'H1': planned_time: warning: planned time 2020-03-01 06:00 UTC" in text
    assert "row 5 heat 'H4': heat_id: warning: this heat id is already in the history" in text
    rec = Recommendation.from_json(out / "latest.json")
    assert [h.heat_id for h in rec.heats] == ["H1", "H4"]
