"""Loaders: CSV, Parquet, directories of daily files; unreadable files get one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.cli import app
from connectors.files import load_heats
from optimizer.errors import DataFileError
from tests.optimizer.heat_factory import make_heats


def test_csv_and_parquet_load_identically(cfg, tmp_path: Path):
    df = make_heats(cfg, 5)
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_parquet(tmp_path / "a.parquet", index=False)
    a, b = load_heats(tmp_path / "a.csv", cfg), load_heats(tmp_path / "a.parquet", cfg)
    assert len(a.heats) == len(b.heats) == 5 and a.report.empty and b.report.empty
    assert (a.heats["final_Mn_wt_pct"] == b.heats["final_Mn_wt_pct"]).all()
    assert str(a.heats["start_time"].dt.tz) == "UTC"


def test_directory_of_daily_files_with_a_broken_one(cfg, tmp_path: Path):
    df = make_heats(cfg, 6)
    df.iloc[:3].to_csv(tmp_path / "heats_2026-01-01.csv", index=False)
    day2 = df.iloc[3:].copy()
    day2.loc[4, "add_SiMn_kg"] = -3
    day2.to_csv(tmp_path / "heats_2026-01-02.csv", index=False)
    (tmp_path / "heats_2026-01-03.parquet").write_bytes(b"not parquet at all")
    (tmp_path / "samples_2026-01-01.csv").write_text("heat_id,sample_no,temperature_degC\nH0000,0,1590\n")
    res = load_heats(tmp_path, cfg)
    assert len(res.heats) == 5 and len(res.samples) == 1
    assert set(res.report["field"]) == {"add_SiMn_kg", "<file>"}
    assert res.heats["start_time"].is_monotonic_increasing


def test_same_heat_in_two_files_rejected(cfg, tmp_path: Path):
    df = make_heats(cfg, 3)
    df.to_csv(tmp_path / "heats_1.csv", index=False)
    df.iloc[[0]].to_csv(tmp_path / "heats_2.csv", index=False)
    res = load_heats(tmp_path, cfg)
    assert sorted(res.heats["heat_id"]) == ["H0001", "H0002"]


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("x.xlsx", b"abc", "unsupported file type"),
        ("x.parquet", b"garbage", "cannot be read as parquet"),
        ("x.csv", b"", "cannot be read as csv"),
        ("x.csv", b"heat_id,grade\nH1,S355J2\n", "required columns missing"),
    ],
)
def test_unreadable_file_one_clear_error(cfg, tmp_path: Path, name, content, match):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(DataFileError, match=match):
        load_heats(p, cfg)


def test_empty_directory(cfg, tmp_path: Path):
    with pytest.raises(DataFileError, match="no heat files"):
        load_heats(tmp_path, cfg)


def test_cli_validate_reports_and_exit_codes(cfg, tmp_path: Path):
    df = make_heats(cfg, 4)
    df.loc[1, "grade"] = "X70"
    df.to_csv(tmp_path / "heats.csv", index=False)
    runner = CliRunner()
    res = runner.invoke(app, ["validate", str(tmp_path / "heats.csv"), "--report", str(tmp_path / "r.csv")])
    assert res.exit_code == 0, res.output
    assert "3 good heats, 1 rejected rows" in res.output
    assert "X70" in (tmp_path / "r.csv").read_text()
    strict = runner.invoke(app, ["validate", str(tmp_path / "heats.csv"), "--strict"])
    assert strict.exit_code == 2
    missing = runner.invoke(app, ["validate", str(tmp_path / "none.csv")])
    assert missing.exit_code == 2 and "file not found" in missing.output
    bad_cfg = tmp_path / "bad.toml"
    bad_cfg.write_text("[plant]\nname='x'\n")
    res = runner.invoke(app, ["check-config", "--config", str(bad_cfg)])
    assert res.exit_code == 2 and "bad.toml" in res.output and "elements: required key is missing" in res.output


def test_cli_help_explains_commands():
    res = CliRunner().invoke(app, ["--help"])
    assert res.exit_code == 0 and "validate" in res.output and "Exit codes" in res.output
