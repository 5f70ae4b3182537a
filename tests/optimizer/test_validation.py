"""Row validation: each kind of bad row is rejected with a report row; good rows are kept unchanged."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import DataFileError
from optimizer.tables import CsvDialect, sniff_dialect
from optimizer.validation import rejected_rows, schedule_warnings, validate_heats
from tests.optimizer.heat_factory import make_heats


def test_clean_table_passes(cfg):
    df = make_heats(cfg, 5)
    res = validate_heats(df, cfg, "ok.csv")
    assert res.report.empty and len(res.good) == 5
    assert list(res.good["heat_id"]) == list(df["heat_id"])


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("heat_id", None, "missing heat id"),
        ("grade", "X70", "unknown grade 'X70'"),
        ("final_Mn_wt_pct", np.nan, "missing value"),
        ("add_SiMn_kg", -20.0, "negative mass"),
        ("final_temperature_degC", 1873.0, "looks like Kelvin"),
        ("final_temperature_degC", 2912.0, "looks like degF"),
        ("steel_weight_t", 98000.0, "looks like kg"),
        ("final_Mn_wt_pct", 0.0145, "looks like a mass fraction"),
        ("arc_energy_kWh", "lots", "not a number"),
        ("n_samples", 2.5, "whole number"),
        ("start_time", "yesterday-ish", "not a date/time"),
        ("end_time", "2025-12-31T00:00:00Z", "end_time is before start_time"),
        ("initial_C_wt_pct", 45.0, "outside the physical range"),
    ],
)
def test_bad_row_rejected_with_reason(cfg, field, value, reason):
    df = make_heats(cfg, 4).astype({field: object})
    df.loc[2, field] = value
    res = validate_heats(df, cfg, "day.csv")
    assert len(res.good) == 3, res.report
    assert "H0002" not in set(res.good["heat_id"])
    hit = res.report[res.report["field"] == field]
    assert len(hit) >= 1 and reason in hit["reason"].iloc[0]
    assert hit["row"].iloc[0] == 4  # CSV line: header is line 1, third data row is line 4
    assert (hit["source"] == "day.csv").all()


def test_duplicate_heat_ids_all_rejected(cfg):
    df = make_heats(cfg, 4)
    df.loc[3, "heat_id"] = "H0001"
    res = validate_heats(df, cfg)
    assert sorted(res.good["heat_id"]) == ["H0000", "H0002"]
    assert (res.report["reason"].str.contains("duplicate heat id")).sum() == 2


def test_unknown_material_column(cfg):
    df = make_heats(cfg, 3)
    df["add_FeV80_kg"] = [0.0, 12.0, 0.0]
    res = validate_heats(df, cfg)
    assert len(res.good) == 2 and "unknown material 'FeV80'" in res.report["reason"].iloc[0]


def test_missing_required_column_is_file_error(cfg):
    df = make_heats(cfg, 3).drop(columns=["final_temperature_degC", "grade"])
    with pytest.raises(DataFileError, match=r"required columns missing: \['grade', 'final_temperature_degC'\]"):
        validate_heats(df, cfg, "x.csv")


def test_optional_columns_may_be_absent(cfg):
    df = make_heats(cfg, 3).drop(columns=["slag_feo_wt_pct", "initial_oxygen_ppm"])
    res = validate_heats(df, cfg)
    assert len(res.good) == 3 and res.good["slag_feo_wt_pct"].isna().all()


def test_several_problems_in_one_row_all_reported(cfg):
    df = make_heats(cfg, 2)
    df.loc[0, "grade"] = "nope"
    df.loc[0, "add_Lime_kg"] = -1.0
    res = validate_heats(df, cfg)
    assert set(res.report["field"]) == {"grade", "add_Lime_kg"} and res.n_rejected == 1


def test_column_named_twice_in_a_frame_is_refused(cfg):
    df = make_heats(cfg, 3)
    df = pd.concat([df, df[["add_SiMn_kg"]]], axis=1)
    with pytest.raises(DataFileError, match=r"x.csv: column named twice: \['add_SiMn_kg'\]"):
        validate_heats(df, cfg, "x.csv")


def test_good_rows_keep_their_lines(cfg):
    df = make_heats(cfg, 4).astype({"grade": object})
    df.loc[1, "grade"] = "X70"
    res = validate_heats(df, cfg)
    assert res.lines.tolist() == [2, 4, 5] and rejected_rows(res.report) == 1


@dataclass
class _Planned:
    heat_id: str
    planned_time: pd.Timestamp | None


def test_schedule_warnings_past_and_in_history():
    now = pd.Timestamp("2026-12-01T02:10Z")
    heats = [_Planned("A", pd.Timestamp("2026-12-01T01:10")),  # naive: read as UTC, one hour ago
             _Planned("B", pd.Timestamp("2026-12-02T06:00Z")), _Planned("C", None),
             _Planned("D", pd.Timestamp("2026-12-01T04:00+03:00"))]  # 01:00 UTC
    warn = schedule_warnings(heats, now, history_ids={"C", "X"}, source="s.csv", lines={"A": 2, "C": 4})
    assert warn[["row", "heat_id", "field"]].values.tolist() == [
        [2, "A", "planned_time"], [4, "C", "heat_id"], [0, "D", "planned_time"]]
    assert "is 1.0 h before this run" in warn["reason"].iloc[0] and warn["reason"].str.startswith("warning:").all()
    assert (warn["source"] == "s.csv").all()
    assert schedule_warnings(heats[1:3], now).empty


@pytest.mark.parametrize(
    ("text", "delimiter", "decimal"),
    [
        ("a,b,c\n1,2.5,x\n", ",", "."),
        ("a;b;c\n1;2,5;x\n3;4,25;y\n", ";", ","),
        ("a;b;c\n1;2.5;x\n", ";", "."),
        ("a\tb\tc\n1\t2,5\tx\n", "\t", ","),
        ("heat_id;note\nH1;a, b and c, d\n", ";", "."),  # commas in text do not fool the header count
    ],
)
def test_csv_dialect_sniffing(text, delimiter, decimal):
    assert sniff_dialect(text.splitlines()) == CsvDialect(delimiter, decimal)


def test_semicolon_header_read_as_one_column_names_the_separator(cfg):
    df = make_heats(cfg, 2)
    glued = pd.DataFrame({";".join(df.columns): [";".join(map(str, r)) for r in df.itertuples(index=False)]})
    with pytest.raises(DataFileError, match="required columns missing: .* The header looks ';'-separated"):
        validate_heats(glued, cfg, "euro.csv")
