"""Expected arrival states per grade, learned from the history: what the night can know about a heat.

The night before, a plant knows each heat's grade, planned time and steel weight; its arrival chemistry,
temperature and oxygen exist only when it arrives. The day plan therefore works from the history's mean arrival
state of the grade, with its spread (1 sd) as the uncertainty; :class:`HistoryArrivals` draws whole arrival
states of the grade's history heats (chemistry, temperature and oxygen together, so their correlations are kept)
for the day plan's ranges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from optimizer.config import PlantConfig
from optimizer.schedule import HeatContext
from optimizer.schema import element_col, element_of

ARRIVAL_COLUMNS = ("initial_temperature_degC", "initial_oxygen_ppm")


@dataclass(frozen=True)
class ExpectedArrival:
    """Per grade: mean and sd of every arrival value (see module doc)."""

    mean: dict[str, dict[str, float]]
    sd: dict[str, dict[str, float]]
    overall_mean: dict[str, float]
    overall_sd: dict[str, float]

    def expect(self, context: HeatContext) -> HeatContext:
        """``context`` with its arrival values replaced by the grade's expected ones (and their sd)."""
        mean = self.mean.get(context.grade, self.overall_mean)
        sd = self.sd.get(context.grade, self.overall_sd)
        chem = {el: v for k, v in mean.items() if k.startswith("initial_") and (el := element_of(k)) is not None}
        return replace(context, initial_wt_pct=chem, initial_temperature_degC=mean["initial_temperature_degC"],
                       initial_oxygen_ppm=mean.get("initial_oxygen_ppm", math.nan), sd=dict(sd))


@dataclass(frozen=True)
class HistoryArrivals:
    """The arrival states of the history's heats per grade (grades with fewer than 5 heats draw from all)."""

    elements: tuple[str, ...]
    by_grade: dict[str, pd.DataFrame]
    overall: pd.DataFrame

    @classmethod
    def learn(cls, cfg: PlantConfig, heats: pd.DataFrame) -> HistoryArrivals:
        cols = [element_col("initial", el) for el in cfg.elements] + [c for c in ARRIVAL_COLUMNS if c in heats]
        rows = heats[[*cols, "grade"]].reset_index(drop=True)
        by_grade = {str(g): part[cols].reset_index(drop=True) for g, part in rows.groupby("grade") if len(part) >= 5}
        return cls(tuple(cfg.elements), by_grade, rows[cols])

    def draw(self, context: HeatContext, n: int, rng: np.random.Generator) -> list[HeatContext]:
        """``n`` copies of ``context`` (ids ``<heat>#<k>``) with the arrival of a random history heat of its grade
        each; grade, weight and planned time are the schedule's."""
        part = self.by_grade.get(context.grade, self.overall)
        picks = part.iloc[rng.integers(0, len(part), n)].to_dict("records")
        return [replace(context, heat_id=f"{context.heat_id}#{k}",
                        initial_wt_pct={el: float(row[element_col("initial", el)]) for el in self.elements},
                        initial_temperature_degC=float(row["initial_temperature_degC"]),
                        initial_oxygen_ppm=float(row.get("initial_oxygen_ppm", math.nan)), sd={})
                for k, row in enumerate(picks)]


def learn_expected_arrival(cfg: PlantConfig, heats: pd.DataFrame) -> ExpectedArrival:
    """Mean and sd of the arrival values per grade (grades with fewer than 5 heats use the plant's overall)."""
    cols = [element_col("initial", el) for el in cfg.elements] + [c for c in ARRIVAL_COLUMNS if c in heats]
    overall_mean = {c: float(heats[c].mean()) for c in cols}
    overall_sd = {c: float(heats[c].std(ddof=1)) for c in cols}
    mean, sd = {}, {}
    for grade, part in heats.groupby("grade"):
        if len(part) < 5:
            continue
        mean[str(grade)] = {c: float(part[c].mean()) for c in cols}
        sd[str(grade)] = {c: float(part[c].std(ddof=1)) for c in cols}
    return ExpectedArrival(mean, sd, overall_mean, overall_sd)
