"""Read one CSV or Parquet table the way a plant engineer wrote it, or refuse it with one clear message.

CSV files are read after looking at their head: the delimiter (``,``, ``;``, tab or ``|``, by
:class:`csv.Sniffer`, falling back to the header line's most frequent candidate) and, for a non-comma
delimiter, the decimal separator (``1,25`` against ``1.25`` in the data lines). A European spreadsheet export
(``;`` with decimal commas) is therefore read correctly, and ``Table.note`` says how it was read. The header is
parsed here, not by pandas, so a column named twice is refused naming the column (pandas would silently rename
the copy to ``x.1``). Unreadable files raise :class:`DataFileError` naming the file and the reason.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from optimizer.errors import DataFileError

SUFFIXES = (".csv", ".parquet", ".pq")
DELIMITERS = ",;\t|"
HEAD_BYTES = 64 * 1024
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_COMMA_DECIMAL = re.compile(r"^\s*-?\d+,\d+\s*$")
_DOT_DECIMAL = re.compile(r"^\s*-?\d+\.\d+\s*$")


@dataclass(frozen=True)
class Table:
    """A table as read, and a sentence saying how it was read when that is not the plain default (else '')."""

    frame: pd.DataFrame
    note: str = ""


@dataclass(frozen=True)
class CsvDialect:
    """Delimiter and decimal separator of a CSV file."""

    delimiter: str = ","
    decimal: str = "."

    def describe(self) -> str:
        """E.g. ``';'-separated (semicolon) with decimal commas``."""
        sep = f"{self.delimiter!r}-separated ({_DELIMITER_NAMES.get(self.delimiter, 'other')})"
        return sep + (" with decimal commas" if self.decimal == "," else "")


def read_table(path: Path, dtype: dict[str, str | type] | None = None) -> Table:
    """Read a CSV/Parquet file (see module doc); ``dtype`` pins column types (e.g. ``{"heat_id": "string"}``)."""
    if not path.exists():
        raise DataFileError(f"{path}: file not found")
    if path.is_dir():
        raise DataFileError(f"{path}: is a directory, expected a .csv or .parquet file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataFileError(f"{path}: unsupported file type {path.suffix!r}; use .csv or .parquet")
    if suffix == ".csv":
        return _read_csv(path, dtype)
    frame = _read_parquet(path)
    _refuse_duplicate_columns(path, [str(c) for c in frame.columns])
    return Table(frame)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise DataFileError(f"{path}: cannot be read as parquet: {exc}") from None
    except Exception as exc:  # pyarrow raises its own ArrowInvalid for corrupt Parquet
        if type(exc).__module__.startswith("pyarrow"):
            raise DataFileError(f"{path}: cannot be read as parquet: {exc}") from None
        raise


def _read_csv(path: Path, dtype: dict[str, str | type] | None) -> Table:
    head = _head_text(path)
    lines = [ln for ln in head.splitlines() if ln.strip()]
    if not lines:
        raise DataFileError(f"{path}: cannot be read as csv: the file is empty (no header line)")
    dialect = sniff_dialect(lines)
    header = next(csv.reader([lines[0]], delimiter=dialect.delimiter))
    _refuse_duplicate_columns(path, [h.strip() for h in header])
    try:
        frame = pd.read_csv(path, sep=dialect.delimiter, decimal=dialect.decimal, dtype=dtype,
                            skipinitialspace=True, encoding="utf-8-sig")
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataFileError(f"{path}: cannot be read as {dialect.describe()} csv: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    note = "" if dialect == CsvDialect() else f"{path}: read as {dialect.describe()} (detected from the file's head)"
    return Table(frame, note)


def _head_text(path: Path) -> str:
    with path.open("rb") as f:
        raw = f.read(HEAD_BYTES)
    if b"\x00" in raw:
        raise DataFileError(f"{path}: cannot be read as csv: the file holds binary data (NUL bytes), not text; "
                            "export the table again as CSV (UTF-8) or Parquet")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if len(raw) < HEAD_BYTES or exc.start < len(raw) - 4:  # not a multi-byte character cut by the head
            raise DataFileError(f"{path}: cannot be read as csv: not UTF-8 text (byte {exc.start}: "
                                f"{raw[exc.start:exc.start + 1]!r}); save it as CSV UTF-8") from None
        text = raw[:exc.start].decode("utf-8-sig")
    return text if len(raw) < HEAD_BYTES else text.rsplit("\n", 1)[0]  # drop a line cut at the head's end


def sniff_dialect(lines: list[str]) -> CsvDialect:
    """Delimiter and decimal separator of CSV ``lines`` (header first), see module doc."""
    sample = "\n".join(lines[:50])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    counts = Counter({d: lines[0].count(d) for d in DELIMITERS})
    best, n_best = counts.most_common(1)[0]
    if counts[delimiter] == 0 or (n_best > 0 and counts[delimiter] * 2 < n_best):
        delimiter = best if n_best > 0 else ","  # the header line is the surest witness of the delimiter
    decimal = "."
    if delimiter != ",":
        cells = [c for ln in lines[1:50] for c in next(csv.reader([ln], delimiter=delimiter))]
        commas = sum(bool(_COMMA_DECIMAL.match(c)) for c in cells)
        dots = sum(bool(_DOT_DECIMAL.match(c)) for c in cells)
        decimal = "," if commas > dots else "."
    return CsvDialect(delimiter, decimal)


def _refuse_duplicate_columns(path: Path, names: list[str]) -> None:
    seen = Counter(names)
    dups = [n for n, k in seen.items() if k > 1]
    if dups:
        where = "; ".join(f"{n!r} in columns {[i + 1 for i, x in enumerate(names) if x == n]}" for n in dups)
        raise DataFileError(f"{path}: column named twice in the header: {where}. Only one copy could be used and "
                            "the other would be ignored; remove or rename the duplicate column")
