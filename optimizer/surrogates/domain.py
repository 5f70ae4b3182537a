"""Applicability domain: where the training heats lie, per grade, so recommendations never leave it.

Two descriptions, both plain data the dosing program turns into bounds and linear constraints:

* ``ranges[grade][feature] = (min, max)`` of every context and decision feature in the training heats
  (``bounds``): decision variables are bounded by it, heats whose context lies beyond it (plus a margin) are
  refused.
* ``totals[grade] = (min, max)`` of the total addition per t of steel, ``sum_m add_m_kg / steel_weight_t``
  (``total_addition_bounds``): a cheap convex description that stops the optimizer from combining the
  per-material maxima into a total no heat ever received.

``check(context, decisions)`` lists every violation as a message naming the feature, value and range.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimizer.schema import material_of

CONTEXT_MARGIN = 0.10  # fraction of the training range tolerated beyond it for the heat's context
DOWNWARD_FRACTION = 0.5  # decisions may go down to this fraction of the smallest seen (mass balances shrink to 0)


@dataclass
class ApplicabilityDomain:
    """Per grade and feature, the (min, max) seen in training, and the grade's total addition per t."""

    ranges: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    totals: dict[str, tuple[float, float]] = field(default_factory=dict)
    addition_features: list[str] = field(default_factory=list)

    @classmethod
    def fit(cls, df: pd.DataFrame, features: list[str]) -> ApplicabilityDomain:
        """Ranges of ``features`` per grade in ``df`` (training heats); totals over its ``add_*_kg`` columns."""
        ranges: dict[str, dict[str, tuple[float, float]]] = {}
        adds = [f for f in features if material_of(f) is not None]
        totals: dict[str, tuple[float, float]] = {}
        for grade, g in df.groupby("grade"):
            ranges[str(grade)] = {}
            for f in features:
                col = pd.to_numeric(g[f], errors="coerce").dropna()
                if len(col):
                    ranges[str(grade)][f] = (float(col.min()), float(col.max()))
            if adds:
                per_t = g[adds].to_numpy(float).sum(axis=1) / g["steel_weight_t"].to_numpy(float)
                per_t = per_t[np.isfinite(per_t)]
                if len(per_t):
                    totals[str(grade)] = (float(per_t.min()), float(per_t.max()))
        return cls(ranges, totals, adds)

    def bounds(self, grade: str, feature: str) -> tuple[float | None, float | None]:
        """(min, max) of a feature for a grade in the training data; (None, None) if unknown."""
        return self.ranges.get(grade, {}).get(feature, (None, None))

    def total_addition_bounds(self, grade: str, steel_weight_t: float) -> tuple[list[str], float, float] | None:
        """Linear constraint ``lo_kg <= sum(add features) <= hi_kg`` for a heat of this weight, as
        (features, lo_kg, hi_kg); None if the grade is unknown."""
        if grade not in getattr(self, "totals", {}):
            return None
        lo, hi = self.totals[grade]
        return list(self.addition_features), lo * steel_weight_t, hi * steel_weight_t

    def check_context(self, context: Mapping[str, float | str], features: list[str]) -> list[str]:
        """Context values outside the grade's training range (plus a margin): one message each."""
        grade = str(context["grade"])
        if grade not in self.ranges:
            return [f"grade {grade} does not occur in the training heats"]
        out = []
        for f in features:
            lo, hi = self.bounds(grade, f)
            v = context.get(f)
            if lo is None or hi is None or v is None or (isinstance(v, float) and np.isnan(v)):
                continue
            pad = CONTEXT_MARGIN * max(hi - lo, 1e-9)
            if not lo - pad <= float(v) <= hi + pad:
                out.append(f"{f} = {float(v):g} outside the training range {lo:g}..{hi:g} for grade {grade}")
        return out

    def check_decisions(self, grade: str, decisions: Mapping[str, float], steel_weight_t: float | None = None,
                        tol: float = 1e-6) -> list[str]:
        """Decisions outside the grade's support: above the largest seen, or nonzero below
        ``DOWNWARD_FRACTION`` x the smallest seen; the total addition per t outside the grade's range."""
        if grade not in self.ranges:
            return [f"grade {grade} does not occur in the training heats"]
        out = []
        for f, v in decisions.items():
            lo, hi = self.bounds(grade, f)
            if lo is None or hi is None:  # never seen (bounds gives both or neither)
                if abs(float(v)) > tol and material_of(f) is not None:
                    out.append(f"{f} = {float(v):g} was never used for grade {grade} in the training heats")
                continue
            low = DOWNWARD_FRACTION * lo if lo > 0 else lo
            unused_addition = material_of(f) is not None and abs(float(v)) <= tol
            if float(v) > hi + tol or (float(v) < low - tol and not unused_addition):
                out.append(f"{f} = {float(v):g} outside the training range {low:g}..{hi:g} for grade {grade}")
        limit = self.total_addition_bounds(grade, steel_weight_t) if steel_weight_t else None
        if limit is not None:
            feats, lo_kg, hi_kg = limit
            total = sum(float(decisions.get(f, 0.0)) for f in feats)
            if total > hi_kg + tol:
                out.append(f"total addition {total:g} kg above the grade's largest {hi_kg:g} kg for "
                           f"{steel_weight_t:g} t (grade {grade})")
        return out

    def check(self, context: Mapping[str, float | str], decisions: Mapping[str, float]) -> list[str]:
        """Every violation of the domain by a heat's context and a proposed decision (empty: inside)."""
        numeric = [f for f in self.ranges.get(str(context.get("grade")), {}) if f in context and f != "grade"]
        weight = context.get("steel_weight_t")
        return (self.check_context(context, numeric)
                + self.check_decisions(str(context["grade"]), decisions, float(weight) if weight else None))
