"""Build small canonical heat tables for tests (no simulator needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.config import PlantConfig
from optimizer.schema import heat_columns


def make_heats(cfg: PlantConfig, n: int = 6, grade: str = "S355J2") -> pd.DataFrame:
    """``n`` plausible heats of one grade, every required column filled, final chemistry at the grade aim."""
    g = cfg.grade(grade)
    rows = []
    for i in range(n):
        row: dict[str, object] = {}
        for c in heat_columns(cfg):
            if c.kind == "key":
                row[c.name] = f"H{i:04d}"
            elif c.name == "start_time":
                row[c.name] = pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(hours=i)
            elif c.name == "end_time":
                row[c.name] = pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(hours=i, minutes=45)
            elif c.name == "grade":
                row[c.name] = grade
            elif c.name == "steel_weight_t":
                row[c.name] = 100.0
            elif c.name.endswith("degC"):
                row[c.name] = 1590.0
            elif c.name.startswith("final_") and c.name.endswith("_wt_pct"):
                el = c.name.split("_")[1]
                row[c.name] = g.chemistry_wt_pct[el].target if el in g.chemistry_wt_pct else 0.01
            elif c.name.startswith("initial_") and c.name.endswith("_wt_pct"):
                row[c.name] = 0.01
            elif c.name == "n_samples":
                row[c.name] = 3
            elif c.required:
                row[c.name] = 100.0
            else:
                row[c.name] = np.nan
        rows.append(row)
    return pd.DataFrame(rows)
