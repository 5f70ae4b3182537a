"""Read a ladle-furnace export in the 7-file layout (``data_*.csv`` or ``data_*_new.csv``, Russian headers)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from optimizer.errors import DataFileError

FILES = ("arc", "bulk", "bulk_time", "gas", "temp", "wire", "wire_time")
RENAME = {"Начало нагрева дугой": "arc_start", "Конец нагрева дугой": "arc_end", "Активная мощность": "active_MW",
          "Реактивная мощность": "reactive_MVAr", "Газ 1": "gas_1", "Время замера": "time",
          "Температура": "temperature_degC"}


def read_ladle_dir(path: str | Path) -> dict[str, pd.DataFrame]:
    """The seven tables by short name (arc, bulk, ...); one clear error listing missing or unreadable files."""
    d = Path(path)
    if not d.is_dir():
        raise DataFileError(f"{d}: not a directory (expected the 7-file ladle-furnace export)")
    found, missing = {}, []
    for name in FILES:
        p = next((c for c in (d / f"data_{name}.csv", d / f"data_{name}_new.csv") if c.exists()), None)
        if p is None:
            missing.append(f"data_{name}.csv (or data_{name}_new.csv)")
            continue
        try:
            df = pd.read_csv(p)
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise DataFileError(f"{p}: cannot be read as CSV: {exc}") from None
        df = df.drop(columns=[c for c in df.columns if c.startswith("Unnamed")]).rename(columns=RENAME)
        if "key" not in df.columns:
            raise DataFileError(f"{p}: no 'key' column (the heat number)")
        found[name] = df
    if missing:
        raise DataFileError(f"{d}: missing files: {', '.join(missing)}")
    return found
