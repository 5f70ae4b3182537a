"""Applicability domain: where the training heats lie, per grade, so recommendations never leave it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

CONTEXT_MARGIN = 0.10  # fraction of the training range tolerated beyond it for the heat's context


@dataclass
class ApplicabilityDomain:
    """Per grade and feature, the (min, max) seen in training; decisions are bounded by it (linear bounds)."""

    ranges: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)

    @classmethod
    def fit(cls, df: pd.DataFrame, features: list[str]) -> ApplicabilityDomain:
        ranges: dict[str, dict[str, tuple[float, float]]] = {}
        for grade, g in df.groupby("grade"):
            ranges[str(grade)] = {}
            for f in features:
                col = pd.to_numeric(g[f], errors="coerce").dropna()
                if len(col):
                    ranges[str(grade)][f] = (float(col.min()), float(col.max()))
        return cls(ranges)

    def bounds(self, grade: str, feature: str) -> tuple[float | None, float | None]:
        """(min, max) of a feature for a grade in the training data; (None, None) if unknown."""
        return self.ranges.get(grade, {}).get(feature, (None, None))

    def check_context(self, context: Mapping[str, float | str], features: list[str]) -> list[str]:
        """Context values outside the grade's training range (plus a margin): one message each."""
        grade = str(context["grade"])
        if grade not in self.ranges:
            return [f"grade {grade} does not occur in the training heats"]
        out = []
        for f in features:
            lo, hi = self.bounds(grade, f)
            v = context.get(f)
            if lo is None or v is None or (isinstance(v, float) and np.isnan(v)):
                continue
            pad = CONTEXT_MARGIN * max(hi - lo, 1e-9)
            if not lo - pad <= float(v) <= hi + pad:
                out.append(f"{f} = {float(v):g} outside the training range {lo:g}..{hi:g} for grade {grade}")
        return out
