"""Split-conformal interval half-widths by number of samples (and grade).

On a time-ordered calibration slice (heats after the training ones) the absolute residuals are grouped by
``n_samples``. Adjacent counts are pooled until every group has at least ``MIN_GROUP`` heats. For each group,
conformal quantiles are kept on a grid of confidences; a confidence between grid points is interpolated, one
beyond what the group size supports (``ceil((n+1)c) > n``) is extrapolated from the highest supported level
with the normal shape. Then, per confidence level, the widths are made non-increasing in the number of samples
(weighted isotonic regression: more samples, more trimming, never a wider interval), so noise in a thin group
cannot make an extra sample look harmful to the optimizer.

Grades differ in how much they add (a grade that adds no Si has almost no Si uncertainty): each grade with
enough calibration heats gets a factor, its pooled 90 % width over the overall pooled 90 % width.

Counts never seen in history borrow the nearest seen count's width: fewer samples than ever seen is less trim,
so the width is inflated by ``UNSEEN_INFLATION`` per step and never below ``open_loop`` (the error with no
correction at all); more samples than ever seen keep the nearest width (no credit for unseen practice).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import norm
from sklearn.isotonic import IsotonicRegression

GRID = (0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999)
MIN_GROUP = 30
UNSEEN_INFLATION = 0.15


def conformal_quantile(abs_residuals: np.ndarray, confidence: float) -> float:
    """The finite-sample conformal quantile ceil((n+1) c)/n of absolute residuals (inf if n too small)."""
    r = np.sort(np.asarray(abs_residuals, float))
    n = len(r)
    k = math.ceil((n + 1) * confidence)
    return math.inf if n == 0 or k > n else float(r[k - 1])


def _table(abs_residuals: np.ndarray) -> dict[float, float]:
    """Quantiles on GRID that the group size supports."""
    return {c: q for c in GRID if math.isfinite(q := conformal_quantile(abs_residuals, c))}


def _lookup(table: dict[float, float], confidence: float) -> float:
    levels = sorted(table)
    if confidence <= levels[0]:
        return table[levels[0]] * norm.ppf(0.5 + confidence / 2) / norm.ppf(0.5 + levels[0] / 2)
    if confidence > levels[-1]:
        top = levels[-1]
        return table[top] * norm.ppf(0.5 + confidence / 2) / norm.ppf(0.5 + top / 2)
    hi = min(c for c in levels if c >= confidence)
    lo = max(c for c in levels if c <= confidence)
    if hi == lo:
        return table[hi]
    t = (confidence - lo) / (hi - lo)
    return table[lo] + t * (table[hi] - table[lo])


@dataclass
class SampleWidths:
    """Conformal quantile tables per number of samples, grade factors and the open-loop floor."""

    by_n: dict[int, dict[float, float]] = field(default_factory=dict)
    pooled: float = math.inf
    grade_factor: dict[str, float] = field(default_factory=dict)
    open_loop: float = 0.0
    counts: dict[int, int] = field(default_factory=dict)

    @classmethod
    def fit(cls, abs_residuals: np.ndarray, n_samples: np.ndarray, grades: np.ndarray | None = None,
            min_group: int = MIN_GROUP) -> SampleWidths:
        """Pooled, monotone-smoothed conformal tables from calibration residuals (see module doc)."""
        abs_residuals = np.asarray(abs_residuals, float)
        n_samples = np.asarray(n_samples).astype(int)
        if len(abs_residuals) < 2 or len(abs_residuals) != len(n_samples):
            raise ValueError(f"conformal calibration needs at least 2 residuals with one sample count each; got "
                             f"{len(abs_residuals)} residuals and {len(n_samples)} counts")
        pooled = conformal_quantile(abs_residuals, 0.9)
        groups = pool_counts(n_samples, min_group)
        tables = []
        for members in groups:
            sel = abs_residuals[np.isin(n_samples, members)]
            table = _table(sel)
            tables.append({c: _lookup(table, c) for c in GRID})
        weights = np.array([np.isin(n_samples, m).sum() for m in groups], float)
        smooth = {c: _non_increasing([t[c] for t in tables], weights) for c in GRID}
        by_n = {}
        for i, members in enumerate(groups):
            row = np.maximum.accumulate([smooth[c][i] for c in GRID])  # still non-decreasing in confidence
            for n in members:
                by_n[int(n)] = dict(zip(GRID, map(float, row), strict=True))
        factors = {}
        if grades is not None and pooled > 0:
            for g in np.unique(grades):
                sel = abs_residuals[grades == g]
                if len(sel) >= min_group:
                    factors[str(g)] = conformal_quantile(sel, 0.9) / pooled
        counts = {int(n): int((n_samples == n).sum()) for n in np.unique(n_samples)}
        return cls(by_n, pooled, factors, counts=counts)

    def halfwidth(self, n_samples: int, confidence: float, grade: str | None = None) -> float:
        """Interval half-width (outcome units) at ``confidence`` for a heat with ``n_samples`` samples."""
        seen = sorted(self.by_n)
        if n_samples in self.by_n:
            ref = _lookup(self.by_n[n_samples], confidence)
        elif n_samples < seen[0]:
            base = _lookup(self.by_n[seen[0]], confidence) * (1 + UNSEEN_INFLATION) ** (seen[0] - n_samples)
            ref = max(base, self.open_loop * _lookup(self.by_n[seen[0]], confidence) / max(self.pooled, 1e-12))
        elif n_samples > seen[-1]:
            ref = _lookup(self.by_n[seen[-1]], confidence)
        else:  # between two seen counts: the wider neighbour
            lo = max(s for s in seen if s < n_samples)
            hi = min(s for s in seen if s > n_samples)
            ref = max(_lookup(self.by_n[lo], confidence), _lookup(self.by_n[hi], confidence))
        return float(ref * self.grade_factor.get(grade, 1.0)) if grade is not None else float(ref)


def pool_counts(n_samples: np.ndarray, min_group: int = MIN_GROUP) -> list[list[int]]:
    """Adjacent sample counts merged (lowest first) until each group has ``min_group`` heats; a thin last
    group joins the one before it."""
    values, sizes = np.unique(np.asarray(n_samples).astype(int), return_counts=True)
    groups: list[list[int]] = []
    size: list[int] = []
    for v, k in zip(values, sizes, strict=True):
        if groups and size[-1] < min_group:
            groups[-1].append(int(v))
            size[-1] += int(k)
        else:
            groups.append([int(v)])
            size.append(int(k))
    if len(groups) > 1 and size[-1] < min_group:
        groups[-2].extend(groups.pop())
    return groups


def _non_increasing(values: list[float], weights: np.ndarray) -> np.ndarray:
    if len(values) < 2:
        return np.asarray(values, float)
    iso = IsotonicRegression(increasing=False)
    return iso.fit_transform(np.arange(len(values)), np.asarray(values, float), sample_weight=weights)
