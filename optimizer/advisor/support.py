"""What the history supports, per grade: the ranges a decision must stay inside or be flagged.

From the heat table and the stage rows: per grade, the sample counts its heats had and the most of each
material and of arc energy one heat used; per stage type (main, trim), the most of each material and of arc
energy one stage used, and the typical minutes besides arc and sampling (stirring, holding). With the sample
table and the heats' treatment times: the typical wait for a chemistry result beyond ``minutes_per_sample`` (the
minutes a heat stays after its last sample; a heat leaves when its last result is in).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.config import PlantConfig
from optimizer.schema import material_col


@dataclass(frozen=True)
class GradeSupport:
    """The ranges one grade's history covers."""

    samples_min: int
    samples_max: int
    max_total_kg: dict[str, float]
    max_total_kWh: float
    n_heats: int


@dataclass(frozen=True)
class Support:
    """History support of every grade and stage type (see module doc)."""

    grades: dict[str, GradeSupport]
    max_stage_kg: dict[bool, dict[str, float]]  # trim? -> material -> kg
    max_stage_kWh: dict[bool, float]
    stir_min: dict[bool, float]  # trim? -> median minutes besides arc and sampling (a wait for a result included)
    result_wait_min: float = 0.0  # median minutes from a heat's last sample to its end (a result slower than
    # the config's minutes_per_sample); 0 without treatment times

    def grade(self, name: str) -> GradeSupport | None:
        return self.grades.get(name)


def history_support(cfg: PlantConfig, heats: pd.DataFrame, stages: pd.DataFrame,
                    samples: pd.DataFrame | None = None) -> Support:
    """Ranges of the history (see module doc); ``samples``: the sample table, for the wait for a result."""
    grades = {}
    for g, part in heats.groupby("grade"):
        grades[str(g)] = GradeSupport(
            int(part["n_samples"].min()), int(part["n_samples"].max()),
            {m.name: float(part[material_col(m.name)].max()) for m in cfg.materials},
            float(part["arc_energy_kWh"].max()), len(part))
    trim = stages["stage_no"].to_numpy() > 1
    other = (stages["minutes"] - stages["arc_time_min"].fillna(0.0) - cfg.sampling.minutes_per_sample).to_numpy()
    max_kg, max_kwh, stir = {}, {}, {}
    for kind in (False, True):
        part = stages.loc[trim == kind]
        max_kg[kind] = {m.name: float(part[material_col(m.name)].max()) if len(part) else 0.0 for m in cfg.materials}
        max_kwh[kind] = float(part["arc_energy_kWh"].max()) if len(part) else 0.0
        vals = other[trim == kind]
        stir[kind] = float(np.clip(np.median(vals), 1.0, 30.0)) if len(vals) else 5.0
    return Support(grades, max_kg, max_kwh, stir, result_wait_min(heats, samples))


def result_wait_min(heats: pd.DataFrame, samples: pd.DataFrame | None) -> float:
    """Median minutes from a heat's last sample to the end of its treatment (clipped to 0-30): how long a heat
    still waits once its last sample is taken, i.e. for its result. 0 when the history has no treatment times."""
    if samples is None or "treatment_time_min" not in heats.columns or not len(samples):
        return 0.0
    last = samples.groupby("heat_id")["minutes_from_start"].max()
    end = heats.set_index(heats["heat_id"].astype(str))["treatment_time_min"]
    gap = (end - last.rename(index=str)).dropna()
    return float(np.clip(np.median(gap.to_numpy()), 0.0, 30.0)) if len(gap) else 0.0
