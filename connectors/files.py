"""Read historical heat data from CSV or Parquet files, or from a directory of daily files.

``load_heats(path, cfg)`` returns the good rows of every file (validated by
:func:`optimizer.validation.validate_heats`) and one report row per rejected row. A file that cannot be
read at all raises :class:`DataFileError` with one clear message; in a directory, such a file is reported
and the other files are still loaded.

Directory layout: files whose names start with ``heats`` hold heat rows (``heats.csv``,
``heats_2026-11-23.parquet``...), files starting with ``samples`` hold sample rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from optimizer.config import PlantConfig
from optimizer.errors import DataFileError
from optimizer.validation import REPORT_COLUMNS, ValidationResult, validate_heats

SUFFIXES = (".csv", ".parquet", ".pq")


@dataclass
class LoadedHeats:
    """Good heats from all files, the sample table (may be empty) and the bad-row report."""

    heats: pd.DataFrame
    samples: pd.DataFrame
    report: pd.DataFrame
    files: list[Path]


def read_table(path: Path) -> pd.DataFrame:
    """Read one CSV/Parquet file as strings-or-numbers; raise DataFileError if it cannot be read."""
    if not path.exists():
        raise DataFileError(f"{path}: file not found")
    if path.suffix.lower() not in SUFFIXES:
        raise DataFileError(f"{path}: unsupported file type {path.suffix!r}; use .csv or .parquet")
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, dtype={"heat_id": "string"}, skipinitialspace=True)
        return pd.read_parquet(path)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataFileError(f"{path}: cannot be read as {path.suffix[1:]}: {exc}") from None
    except Exception as exc:  # pyarrow raises its own ArrowInvalid for corrupt Parquet
        if type(exc).__module__.startswith("pyarrow"):
            raise DataFileError(f"{path}: cannot be read as parquet: {exc}") from None
        raise


def heat_files(path: Path) -> tuple[list[Path], list[Path]]:
    """(heat files, sample files) at ``path``: a single file, or a directory's heats*/samples* files."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        stems_with_parquet = {p.stem for p in files if p.suffix.lower() in (".parquet", ".pq")}
        # the same table written twice (heats.csv beside heats.parquet): read the Parquet copy only
        files = [p for p in files if not (p.suffix.lower() == ".csv" and p.stem in stems_with_parquet)]
        heats = [p for p in files if p.name.lower().startswith("heats")]
        samples = [p for p in files if p.name.lower().startswith("samples")]
        if not heats:
            raise DataFileError(f"{path}: no heat files (heats*.csv or heats*.parquet) in this directory")
        return heats, samples
    return [path], []


def load_heats(path: str | Path, cfg: PlantConfig) -> LoadedHeats:
    """Load and validate heat data from a file or a directory (see module doc)."""
    heat_paths, sample_paths = heat_files(Path(path))
    single = not Path(path).is_dir()
    goods, reports = [], []
    for p in heat_paths:
        try:
            res = _load_one(p, cfg)
        except DataFileError as exc:
            if single:
                raise
            res = ValidationResult(good=pd.DataFrame(),
                                   report=pd.DataFrame([(str(p), 0, "", "<file>", str(exc))], columns=REPORT_COLUMNS))
        goods.append(res.good)
        reports.append(res.report)
    heats, report = _combine(goods, reports)
    samples = pd.concat([read_table(p) for p in sample_paths], ignore_index=True) if sample_paths else pd.DataFrame()
    return LoadedHeats(heats=heats, samples=samples, report=report, files=heat_paths + sample_paths)


def _load_one(path: Path, cfg: PlantConfig) -> ValidationResult:
    df = read_table(path)
    if df.empty:
        raise DataFileError(f"{path}: the file holds no rows")
    return validate_heats(df, cfg, source=str(path))


def _combine(goods: list[pd.DataFrame], reports: list[pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Concatenate files; a heat id present in two files is rejected in both (report row each)."""
    report = pd.concat([r for r in reports if not r.empty] or [pd.DataFrame(columns=REPORT_COLUMNS)],
                       ignore_index=True)
    frames = [g for g in goods if not g.empty]
    if not frames:
        return pd.DataFrame(), report
    heats = pd.concat(frames, ignore_index=True)
    dup = heats["heat_id"].duplicated(keep=False)
    if dup.any():
        extra = pd.DataFrame({
            "source": "<directory>", "row": 0, "heat_id": heats.loc[dup, "heat_id"].astype(str),
            "field": "heat_id", "reason": "duplicate heat id across files; all copies rejected",
        })
        report = pd.concat([report, extra], ignore_index=True)
        heats = heats.loc[~dup]
    return heats.sort_values("start_time", kind="stable").reset_index(drop=True), report


def write_report(report: pd.DataFrame, path: str | Path) -> Path:
    """Write the bad-row report as CSV."""
    p = Path(path)
    report.to_csv(p, index=False)
    return p
