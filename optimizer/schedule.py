"""Tomorrow's heat schedule: one row per planned heat, validated like history (bad rows reported, good kept).

Schedule columns: heat_id, planned_time (UTC), grade, steel_weight_t, initial_<El>_wt_pct,
initial_temperature_degC, initial_oxygen_ppm; optional ``sd_<column>`` give the uncertainty (1 sigma) of an
expected value, and ``previous_add_<material>_kg`` the last setpoint written for that heat (safety: maximum
change). Missing expected initial chemistry is rejected, never guessed, unless the caller reads the schedule
with ``arrival_optional=True``: then a schedule that holds only heat_id, planned_time, grade and steel_weight_t is
enough (a schedule with some arrival columns must have all of them: a missing one is a mistake, not a
forecast), and the missing arrival values (absent columns, or blank cells) are filled by
:meth:`Schedule.fill_arrival` from a forecast (the grade's expected arrival learned from history,
``optimizer.stages.arrival``): the night cannot know the real arrival.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from pandas.api.typing import NaTType

from optimizer.config import PlantConfig
from optimizer.errors import DataFileError
from optimizer.schema import element_col
from optimizer.tables import read_table
from optimizer.validation import REPORT_COLUMNS

CONTEXT_NUMERIC = ["steel_weight_t", "initial_temperature_degC", "initial_oxygen_ppm"]
RANGES = {
    "steel_weight_t": (5.0, 500.0, "t"),
    "initial_temperature_degC": (1450.0, 1750.0, "degC"),
    "initial_oxygen_ppm": (0.0, 2000.0, "ppm"),
}


@dataclass(frozen=True)
class HeatContext:
    """What is known about a planned heat before the decision (expected or measured values)."""

    heat_id: str
    grade: str
    steel_weight_t: float
    initial_wt_pct: dict[str, float]
    initial_temperature_degC: float
    initial_oxygen_ppm: float = float("nan")
    planned_time: pd.Timestamp | None = None
    sd: dict[str, float] = field(default_factory=dict)
    previous_additions_kg: dict[str, float] = field(default_factory=dict)

    def features(self) -> dict[str, float | str]:
        """Context as canonical feature names (the surrogates' context inputs)."""
        row: dict[str, float | str] = {
            "grade": self.grade,
            "steel_weight_t": self.steel_weight_t,
            "initial_temperature_degC": self.initial_temperature_degC,
            "initial_oxygen_ppm": self.initial_oxygen_ppm,
        }
        row.update({element_col("initial", el): v for el, v in self.initial_wt_pct.items()})
        return row


@dataclass
class Schedule:
    """Valid planned heats, the report of rejected rows and each valid heat's line in the file."""

    heats: list[HeatContext]
    report: pd.DataFrame
    lines: dict[str, int] = field(default_factory=dict)
    missing_arrival: dict[str, list[str]] = field(default_factory=dict)  # heat id -> arrival columns not given

    def fill_arrival(self, forecast: ArrivalForecast) -> Schedule:
        """The schedule with every missing arrival value taken from ``forecast`` (given values are kept; the
        forecast's spread becomes the value's sd)."""
        heats = []
        for h in self.heats:
            cols = self.missing_arrival.get(h.heat_id)
            if not cols:
                heats.append(h)
                continue
            exp = forecast.expect(h)
            chem = {el: exp.initial_wt_pct[el] if element_col("initial", el) in cols else v
                    for el, v in h.initial_wt_pct.items()}
            heats.append(replace(
                h, initial_wt_pct=chem,
                initial_temperature_degC=exp.initial_temperature_degC if "initial_temperature_degC" in cols
                else h.initial_temperature_degC,
                initial_oxygen_ppm=exp.initial_oxygen_ppm if "initial_oxygen_ppm" in cols else h.initial_oxygen_ppm,
                sd={**{c: v for c, v in exp.sd.items() if c in cols}, **h.sd}))
        return replace(self, heats=heats, missing_arrival={})


class ArrivalForecast(Protocol):
    """Expected arrival values of a planned heat (e.g. the grade's history mean)."""

    def expect(self, context: HeatContext) -> HeatContext: ...


def arrival_columns(cfg: PlantConfig) -> list[str]:
    """The schedule's arrival values: known for sure only when the heat arrives."""
    return [*[element_col("initial", e) for e in cfg.elements], "initial_temperature_degC", "initial_oxygen_ppm"]


def schedule_columns(cfg: PlantConfig, arrival_optional: bool = False) -> list[str]:
    """Required schedule columns for a plant."""
    known = ["heat_id", "grade", "steel_weight_t"]
    return known if arrival_optional else [*known, *arrival_columns(cfg)[:-1]]


def read_schedule(path: str | Path, cfg: PlantConfig, arrival_optional: bool = False) -> Schedule:
    """Read a schedule CSV/Parquet file; unreadable file -> DataFileError, bad rows -> report."""
    p = Path(path)
    if not p.exists():
        raise DataFileError(f"{p}: schedule file not found")
    return parse_schedule(read_table(p, dtype={"heat_id": str}).frame, cfg, source=str(p),
                          arrival_optional=arrival_optional)


def parse_schedule(df: pd.DataFrame, cfg: PlantConfig, source: str = "<schedule>",
                   arrival_optional: bool = False) -> Schedule:
    """Validate a schedule frame row by row (see module doc)."""
    missing = [c for c in schedule_columns(cfg, arrival_optional) if c not in df.columns]
    if missing:
        raise DataFileError(f"{source}: schedule columns missing: {missing}")
    given = [c for c in arrival_columns(cfg)[:-1] if c in df.columns]  # oxygen is optional anyway
    if arrival_optional and given and len(given) < len(arrival_columns(cfg)) - 1:
        lacking = [c for c in arrival_columns(cfg)[:-1] if c not in df.columns]
        raise DataFileError(f"{source}: schedule columns missing: {lacking} (give every arrival column, or none of "
                            "them to plan from the grade's expected arrival state)")
    heats: list[HeatContext] = []
    problems: list[tuple[str, int, str, str, str]] = []
    lines: dict[str, int] = {}
    absent: dict[str, list[str]] = {}
    seen: set[str] = set()
    for i, row in enumerate(df.to_dict("records")):
        gaps = [c for c in arrival_columns(cfg) if np.isnan(_num(row.get(c)))] if arrival_optional else []
        errs = _row_problems(row, cfg, seen, skip=set(gaps))
        if errs:
            problems += [(source, i + 2, str(row.get("heat_id", "")), f, r) for f, r in errs]
            continue
        heats.append(_context({**{c: np.nan for c in gaps}, **row}, cfg))
        seen.add(str(row["heat_id"]))
        lines[str(row["heat_id"])] = i + 2
        if gaps:
            absent[str(row["heat_id"])] = gaps
    return Schedule(heats=heats, report=pd.DataFrame(problems, columns=REPORT_COLUMNS), lines=lines,
                    missing_arrival=absent)



def _num(v: object) -> float:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _row_problems(row: dict, cfg: PlantConfig, seen: set[str], skip: set[str] | None = None) -> list[tuple[str, str]]:
    skip = skip or set()
    errs: list[tuple[str, str]] = []
    hid = row.get("heat_id")
    if hid is None or (isinstance(hid, float) and np.isnan(hid)) or str(hid).strip() == "":
        errs.append(("heat_id", "missing heat id"))
    elif str(hid) in seen:
        errs.append(("heat_id", f"duplicate heat id {hid!r} in the schedule"))
    if row.get("grade") not in cfg.grade_names:
        errs.append(("grade", f"unknown grade {row.get('grade')!r}; known: {cfg.grade_names}"))
    for col, (lo, hi, unit) in RANGES.items():
        v = _num(row.get(col))
        if col in skip or (col == "initial_oxygen_ppm" and np.isnan(v)):
            continue  # unmeasured oxygen is allowed: the surrogates fall back to the grade's typical value
        if np.isnan(v):
            errs.append((col, f"missing or not a number ({unit})"))
        elif not lo <= v <= hi:
            errs.append((col, f"{v:g} {unit} outside {lo:g}..{hi:g} {unit}"))
    for el in cfg.elements:
        if element_col("initial", el) in skip:
            continue
        v = _num(row.get(element_col("initial", el)))
        if np.isnan(v) or not 0 <= v <= 30:
            errs.append((element_col("initial", el), f"expected initial {el} missing or outside 0..30 wt% ({v})"))
    if not _is_time(row.get("planned_time")):
        errs.append(("planned_time", f"not a date/time: {row.get('planned_time')!r}; use ISO 8601 in UTC, e.g. "
                     "2026-12-02T06:30:00Z (or leave it empty)"))
    return errs


def _planned(v: object) -> pd.Timestamp | None:
    """The planned time, None when blank; ValueError or TypeError when it cannot be parsed (checked by
    ``_row_problems`` before a context is made)."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() in ("", "nan", "<NA>"):
        return None
    return pd.Timestamp(v)  # type: ignore[arg-type]  # any cell value: what pandas cannot parse raises


def _is_time(v: object) -> bool:
    """Whether a planned-time cell is blank or a date/time."""
    try:
        return not isinstance(_planned(v), NaTType)  # "NaT" itself parses, to NaT
    except (ValueError, TypeError):
        return False


def _context(row: dict, cfg: PlantConfig) -> HeatContext:
    sd = {k[3:]: _num(v) for k, v in row.items() if k.startswith("sd_") and not np.isnan(_num(v))}
    prev = {k[len("previous_add_"):-3]: _num(v) for k, v in row.items()
            if k.startswith("previous_add_") and k.endswith("_kg") and not np.isnan(_num(v))}
    return HeatContext(
        heat_id=str(row["heat_id"]),
        grade=str(row["grade"]),
        steel_weight_t=_num(row["steel_weight_t"]),
        initial_wt_pct={el: _num(row.get(element_col("initial", el))) for el in cfg.elements},
        initial_temperature_degC=_num(row.get("initial_temperature_degC")),
        initial_oxygen_ppm=_num(row.get("initial_oxygen_ppm")),
        planned_time=_planned(row.get("planned_time")),
        sd=sd,
        previous_additions_kg=prev,
    )
