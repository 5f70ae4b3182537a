"""One synthetic stage-table row (``optimizer.stages.table`` layout) for the stage-model tests."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from optimizer.config import PlantConfig
from optimizer.schema import material_col
from optimizer.stages.table import AFTER, BEFORE, measured_columns


def stage_row(cfg: PlantConfig, heat_id: str, stage_no: int, *, minutes: float, grade: str, steel_weight_t: float,
              before: Mapping[str, float], after: Mapping[str, float], additions_kg: Mapping[str, float],
              oxygen_ppm: float = 400.0, arc_energy_kWh: float = 0.0, arc_time_min: float = 0.0) -> dict:
    """A stage of ``heat_id``: every measured value not in ``before``/``after`` is a flat 1580 degC or 0.05 wt%
    before and after, every material not in ``additions_kg`` is 0 kg."""
    row = {"heat_id": heat_id, "stage_no": stage_no, "minutes": minutes, "grade": grade,
           "steel_weight_t": steel_weight_t, "initial_oxygen_ppm": oxygen_ppm, "slag_feo_wt_pct": np.nan,
           "arc_energy_kWh": arc_energy_kWh, "arc_time_min": arc_time_min}
    for c in measured_columns(cfg):
        row[BEFORE + c] = row[AFTER + c] = 1580.0 if c == "temperature_degC" else 0.05
    row.update({BEFORE + c: v for c, v in before.items()})
    row.update({AFTER + c: v for c, v in after.items()})
    row.update({material_col(m.name): 0.0 for m in cfg.materials})
    row.update({material_col(m): kg for m, kg in additions_kg.items()})
    return row
