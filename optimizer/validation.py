"""Validate a canonical heat table row by row: bad rows are reported, good rows are kept.

``validate_heats(df, cfg, source)`` never raises for bad *rows*; each problem becomes one report row
(source, row, heat_id, field, reason). Missing *columns* that are required make every row unusable, so
they raise :class:`DataFileError` naming the columns. Checks: missing key, duplicate heat ids, NaN where a
value is required, non-numeric values, negative masses, values outside the physical range (with a hint when
the value looks like a unit mistake: kg vs t, fraction vs wt%, K or degF vs degC), unknown grades, additions
of materials the config does not know, end before start. A frame with a column named twice is refused
(:class:`DataFileError` naming the column).

Also here: the report helpers (``file_error``, ``rejected_rows``) and ``schedule_warnings``, the checks of a
schedule against the clock and the history that warn without rejecting (a planned time in the past, a heat
already in the history).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from optimizer.config import PlantConfig
from optimizer.errors import DataFileError
from optimizer.schema import KEY, Column, heat_columns, material_of

REPORT_COLUMNS = ["source", "row", "heat_id", "field", "reason"]
FILE_FIELD = "<file>"  # the report's field for a problem with a whole file (row 0)


def empty_report() -> pd.DataFrame:
    """A report with no rows."""
    return pd.DataFrame(columns=REPORT_COLUMNS)


def file_error(path: str | Path, exc: Exception, consequence: str = "") -> pd.DataFrame:
    """One report row for a file that cannot be used at all (row 0, field ``<file>``)."""
    reason = str(exc) + (f" ({consequence})" if consequence else "")
    return pd.DataFrame([(str(path), 0, "", FILE_FIELD, reason)], columns=REPORT_COLUMNS)


def rejected_rows(report: pd.DataFrame) -> int:
    """Number of distinct rejected rows (a row with three problems counts once; a whole-file error once)."""
    return 0 if report.empty else int(report[["source", "row", "heat_id"]].drop_duplicates().shape[0])


@dataclass
class ValidationResult:
    """Good rows (canonical columns and dtypes), their lines in the source, and one report row per problem."""

    good: pd.DataFrame
    report: pd.DataFrame = field(default_factory=empty_report)
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # CSV line of each good row

    @property
    def n_rejected(self) -> int:
        """Number of distinct rejected rows."""
        return rejected_rows(self.report)


class _Reporter:
    """Collects (row, field, reason) problems for a frame."""

    def __init__(self, df: pd.DataFrame, source: str) -> None:
        self.df, self.source = df, source
        self.rows: list[tuple[str, int, str, str, str]] = []  # REPORT_COLUMNS
        self.bad = np.zeros(len(df), dtype=bool)

    def add(self, mask: np.ndarray, field_name: str, reason: str | pd.Series) -> None:
        idx = np.flatnonzero(mask)
        reasons = reason if isinstance(reason, pd.Series) else None
        for i in idx:
            text = str(reasons.iloc[i] if reasons is not None else reason)
            hid = self.df[KEY].iloc[i] if KEY in self.df else None
            self.rows.append((self.source, int(self.df["_row"].iloc[i]), _clean_id(hid), field_name, text))
        self.bad |= mask

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=REPORT_COLUMNS)


def _clean_id(v: object) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


def validate_heats(df: pd.DataFrame, cfg: PlantConfig, source: str = "<frame>") -> ValidationResult:
    """Split ``df`` into good canonical rows and a report of rejected rows (see module doc)."""
    cols = heat_columns(cfg)
    _require_columns(df, cols, source)
    work = df.copy()
    if "_row" not in work:
        work["_row"] = np.arange(2, len(work) + 2)  # 1-based data line in a CSV with a header line
    rep = _Reporter(work, source)
    _check_key(work, rep)
    _check_grade(work, rep, cfg)
    _check_unknown_materials(work, rep, cfg)
    for col in cols:
        if col.kind in ("float", "int"):
            _check_numeric(work, rep, col, cfg)
        elif col.kind == "time":
            _check_time(work, rep, col)
    _check_time_order(work, rep)
    _check_fraction_vs_wt_pct(work, rep, cfg)
    good = work.loc[~rep.bad, [c.name for c in cols] + ["_row"]].reset_index(drop=True)
    lines = good.pop("_row").to_numpy(dtype=int)
    good["n_samples"] = good["n_samples"].astype("int64")
    return ValidationResult(good=good, report=rep.frame(), lines=lines)


def _require_columns(df: pd.DataFrame, cols: list[Column], source: str) -> None:
    dup = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
    if dup:
        raise DataFileError(f"{source}: column named twice: {dup}; only one copy could be used and the other "
                            "would be ignored. Remove or rename the duplicate column")
    missing = [c.name for c in cols if c.required and c.name not in df.columns]
    if missing:
        glued = next((d for d in ";\t|," for c in df.columns if d in str(c)), None)
        hint = (f" The header looks {glued!r}-separated (column {str(df.columns[0])[:60]!r}...): export it "
                "comma-separated, or read it with that delimiter." if glued else "")
        raise DataFileError(
            f"{source}: required columns missing: {missing}.{hint} The canonical heat table is described in "
            "README.md (Data schema) and by `dosing schema`."
        )
    for c in cols:  # optional columns absent -> all NaN
        if c.name not in df.columns:
            df[c.name] = np.nan


def _check_key(df: pd.DataFrame, rep: _Reporter) -> None:
    key = df[KEY].astype("string").str.strip()
    missing = key.isna() | (key == "")
    rep.add(missing.to_numpy(), KEY, "missing heat id")
    dup = key.duplicated(keep=False) & ~missing
    rep.add(dup.to_numpy(), KEY, "duplicate heat id: appears more than once in the data; all copies rejected")
    df[KEY] = key


def _check_grade(df: pd.DataFrame, rep: _Reporter, cfg: PlantConfig) -> None:
    grade = df["grade"].astype("string").str.strip()
    known = set(cfg.grade_names)
    missing = grade.isna() | (grade == "")
    rep.add(missing.to_numpy(), "grade", "missing grade")
    unknown = ~missing & ~grade.isin(known)
    rep.add(unknown.to_numpy(), "grade", "unknown grade " + grade.fillna("").map(repr) + f"; known: {sorted(known)}")
    df["grade"] = grade


def _check_unknown_materials(df: pd.DataFrame, rep: _Reporter, cfg: PlantConfig) -> None:
    known = set(cfg.material_names)
    for col in df.columns:
        name = material_of(str(col))
        if name is not None and name not in known:
            vals = pd.to_numeric(df[col], errors="coerce").fillna(0.0)
            rep.add((vals != 0).to_numpy(), col,
                    f"unknown material {name!r} (not in the plant config's materials {cfg.material_names})")


def _check_numeric(df: pd.DataFrame, rep: _Reporter, col: Column, cfg: PlantConfig) -> None:
    raw = df[col.name]
    num = pd.to_numeric(raw, errors="coerce")
    not_number = num.isna() & raw.notna() & (raw.astype("string").str.strip() != "")
    rep.add(not_number.to_numpy(), col.name, "not a number: " + raw.astype("string").fillna("").map(repr))
    if col.required:
        rep.add((num.isna() & ~not_number).to_numpy(), col.name, f"missing value (NaN), required ({col.unit})")
    if col.unit == "kg":
        rep.add((num < 0).to_numpy(), col.name, "negative mass: " + num.map(lambda v: f"{v:g} kg"))
    low = num < col.low if col.low is not None else pd.Series(False, index=num.index)
    high = num > col.high if col.high is not None else pd.Series(False, index=num.index)
    out = (low | high) & ~(num < 0) if col.unit == "kg" else (low | high)
    if out.any():
        rep.add(out.to_numpy(), col.name, num.map(lambda v: _range_reason(col, v)))
    if col.kind == "int":
        frac = num.notna() & (num != num.round())
        rep.add(frac.to_numpy(), col.name, "must be a whole number: " + num.map(lambda v: f"{v:g}"))
    df[col.name] = num


def _range_reason(col: Column, v: float) -> str:
    """Why ``v`` is out of range, with a unit hint when it looks like a unit mistake."""
    base = f"{v:g} {col.unit} is outside the physical range {col.low:g}..{col.high:g} {col.unit}"
    if col.unit == "t" and v > 1000:
        return base + f" (looks like kg: {v / 1000:g} t?)"
    if col.unit == "degC" and 1700 < v < 2100:
        return base + f" (looks like Kelvin: {v - 273.15:.0f} degC?)"
    if col.unit == "degC" and 2600 < v < 3300:
        return base + f" (looks like degF: {(v - 32) / 1.8:.0f} degC?)"
    return base


def _check_time(df: pd.DataFrame, rep: _Reporter, col: Column) -> None:
    raw = df[col.name]
    ts = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
    blank = raw.isna() | (raw.astype("string").str.strip() == "")
    bad = ts.isna() & ~blank
    rep.add(bad.to_numpy(), col.name, "not a date/time: " + raw.astype("string").fillna("").map(repr))
    if col.required:
        rep.add(blank.to_numpy(), col.name, "missing time")
    df[col.name] = ts


def _check_time_order(df: pd.DataFrame, rep: _Reporter) -> None:
    bad = (df["end_time"] < df["start_time"]).fillna(False).to_numpy(dtype=bool)
    rep.add(bad, "end_time", "end_time is before start_time")


def _check_fraction_vs_wt_pct(df: pd.DataFrame, rep: _Reporter, cfg: PlantConfig) -> None:
    """Final contents 100x below the grade minimum (e.g. 0.0145 for Mn 1.30-1.60 wt%) look like fractions."""
    for g in cfg.grades:
        rows = (df["grade"] == g.name).fillna(False).to_numpy(dtype=bool)
        for el, w in g.chemistry_wt_pct.items():
            if w.min is None or w.min < 0.05:
                continue
            v = pd.to_numeric(df[f"final_{el}_wt_pct"], errors="coerce").to_numpy()
            looks_fraction = rows & (v > 0) & (v * 100 >= w.min * 0.5) & (v * 100 <= w.max * 2 if w.max else True)
            looks_fraction &= v < w.min / 10
            rep.add(looks_fraction, f"final_{el}_wt_pct",
                    f"value looks like a mass fraction, not wt% (grade {g.name} needs {w.min}..{w.max} wt%)")


class PlannedHeat(Protocol):
    """What ``schedule_warnings`` needs of a planned heat (a schedule's ``HeatContext``)."""

    @property
    def heat_id(self) -> str: ...
    @property
    def planned_time(self) -> pd.Timestamp | None: ...


def schedule_warnings(heats: Sequence[PlannedHeat], now: pd.Timestamp, history_ids: Collection[str] = (),
                      source: str = "<schedule>", lines: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Warning rows (report columns) for planned heats that are still planned but look wrong.

    * ``planned_time`` before ``now`` (the run's wall-clock time, UTC; a time without zone is UTC): a stale
      schedule, or the wrong year or day. The clock, not the history's last heat, is the reference: the history
      may lag a day behind, and a slot between its last heat and now has passed all the same.
    * ``heat_id`` already in the history: that heat has been treated; a re-used number or yesterday's schedule.
    """
    now = _utc(now)
    seen = set(history_ids)
    rows = []
    for h in heats:
        line = (lines or {}).get(h.heat_id, 0)
        if h.planned_time is not None and not pd.isna(h.planned_time) and _utc(h.planned_time) < now:
            t = _utc(h.planned_time)
            rows.append((source, line, h.heat_id, "planned_time",
                         f"warning: planned time {t:%Y-%m-%d %H:%M} UTC is {_ago(now - t)} before this run "
                         f"({now:%Y-%m-%d %H:%M} UTC); still planned: check that the schedule is tomorrow's"))
        if h.heat_id in seen:
            rows.append((source, line, h.heat_id, "heat_id",
                         "warning: this heat id is already in the history (treated earlier); still planned: check "
                         "for a re-used heat number or an old schedule"))
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def _utc(t: pd.Timestamp) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _ago(d: pd.Timedelta) -> str:
    hours = d / pd.Timedelta(hours=1)
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.0f} days"
