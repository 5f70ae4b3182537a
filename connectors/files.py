"""Read historical heat data from CSV or Parquet files, or from a directory of daily files.

``load_heats(path, cfg)`` returns the good rows of every file (validated by
:func:`optimizer.validation.validate_heats`) and one report row per rejected row. A file that cannot be
read at all raises :class:`DataFileError` with one clear message; in a directory, such a file (heats or
samples) is reported as a file error and the other files are still loaded. How a CSV was read when it is not
plain comma-separated (``;`` with decimal commas...) is said in ``LoadedHeats.notes``.

Directory layout: files whose names start with ``heats`` hold heat rows (``heats.csv``,
``heats_2026-11-23.parquet``...), files starting with ``samples`` hold sample rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.config import PlantConfig
from optimizer.errors import DataFileError
from optimizer.schema import KEY
from optimizer.tables import SUFFIXES, Table, read_table
from optimizer.validation import REPORT_COLUMNS, ValidationResult, empty_report, file_error, validate_heats

__all__ = ["LoadedHeats", "heat_files", "load_heats", "read_table", "write_report"]


@dataclass
class LoadedHeats:
    """Good heats from all files, the sample table (may be empty), the bad-row report and reading notes."""

    heats: pd.DataFrame
    samples: pd.DataFrame
    report: pd.DataFrame
    files: list[Path]
    notes: list[str] = field(default_factory=list)


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
    results, notes = [], []
    for p in heat_paths:
        try:
            table = read_table(p, dtype={KEY: "string"})
            res = _validate_one(p, table, cfg)
        except DataFileError as exc:
            if single:
                raise
            res = ValidationResult(good=pd.DataFrame(), report=file_error(p, exc))
        else:
            notes += [table.note] if table.note else []
        results.append((str(p), res))
    heats, report = _combine(results)
    samples, sample_report, sample_notes = _load_samples(sample_paths)
    report = pd.concat([r for r in (report, sample_report) if not r.empty] or [empty_report()], ignore_index=True)
    return LoadedHeats(heats=heats, samples=samples, report=report, files=heat_paths + sample_paths,
                       notes=notes + sample_notes)


def _validate_one(path: Path, table: Table, cfg: PlantConfig) -> ValidationResult:
    if table.frame.empty:
        raise DataFileError(f"{path}: the file holds no rows")
    return validate_heats(table.frame, cfg, source=str(path))


def _load_samples(paths: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Sample files one by one: an unreadable one (or one without a heat_id column) is a file error."""
    frames, reports, notes = [], [], []
    for p in paths:
        try:
            table = read_table(p, dtype={KEY: "string"})
            if KEY not in table.frame.columns:
                raise DataFileError(f"{p}: sample file has no {KEY!r} column (columns: "
                                    f"{list(table.frame.columns)[:10]}); see README.md (Data schema)")
        except DataFileError as exc:
            reports.append(file_error(p, exc, "sample file skipped; the heats are still loaded"))
            continue
        frames.append(table.frame)
        notes += [table.note] if table.note else []
    samples = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    report = pd.concat(reports, ignore_index=True) if reports else empty_report()
    return samples, report, notes


def _combine(results: list[tuple[str, ValidationResult]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Concatenate files; a heat id present in two files is rejected in every copy, each reported with its own
    file and line."""
    reports = [r.report for _, r in results if not r.report.empty]
    report = pd.concat(reports or [empty_report()], ignore_index=True)
    kept = [(src, r) for src, r in results if not r.good.empty]
    if not kept:
        return pd.DataFrame(), report
    heats = pd.concat([r.good for _, r in kept], ignore_index=True)
    sources = np.concatenate([np.full(len(r.good), src, dtype=object) for src, r in kept])
    lines = np.concatenate([r.lines for _, r in kept])
    dup = heats[KEY].duplicated(keep=False).to_numpy()
    if dup.any():
        ids = heats.loc[dup, KEY].astype(str).to_numpy()
        files_of = pd.Series(sources[dup]).groupby(ids).agg(lambda s: sorted({Path(x).name for x in s}))
        extra = pd.DataFrame({
            "source": sources[dup], "row": lines[dup].astype(int), "heat_id": ids, "field": KEY,
            "reason": [f"duplicate heat id across files (in {', '.join(files_of[i])}); all copies rejected: "
                       "keep the heat in one file only" for i in ids],
        }, columns=REPORT_COLUMNS)
        report = pd.concat([report, extra], ignore_index=True)
        heats = heats.loc[~dup]
    return heats.sort_values("start_time", kind="stable").reset_index(drop=True), report


def write_report(report: pd.DataFrame, path: str | Path) -> Path:
    """Write the bad-row report as CSV."""
    p = Path(path)
    report.to_csv(p, index=False)
    return p
