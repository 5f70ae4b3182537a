"""Holding-time fade of an element: a first-order loss of its level while a stage lasts, learned from the stages.

While a heat waits, stirs and heats, slag and air re-oxidise the bath and dissolved Al (and other oxidisable
elements) fades (DOMAIN.md sections 3 and 10). The stage models carry it as ``-k * level_before * minutes``
(``k`` in 1/min): the level at the stage's start is measured, and a stage's minutes are affine in its plan, so
the term keeps the stage decision linear.

How ``k`` is learned, and why so:

* **From the stages that add none of the element.** There the change between two samples is the fade alone.
  Where the element is added, a stage's minutes follow its additions (their chill sets the arc energy, hence
  the arc minutes), so any misfit of the recovery model would pass for a fade; those stages are left out.
* **With the measured level as a nuisance regressor.** The level before a stage is a measurement: its error
  enters the change with slope -1 (regression to the mean), and ``level x minutes`` correlates with it, which
  would pass for a fade on a plant that has none. A centred level column takes that error; ``k`` is identified
  by the minutes at a given level. Stage-number constants take what differs by stage (pickup, the trim routine).
* **Shrunk to zero where the data does not show it.** ``k`` is kept when it is positive (a loss) at
  ``FADE_Z`` standard errors, clustered by heat (stages of one heat share its measurements and its slag);
  otherwise it is 0 and the stage model is what it was without the term.
* **Arcing apart.** While the arc burns, the arc zone can take more: air drawn in at the electrode ports oxidises
  Al, Mn evaporates from the arc spot (DOMAIN.md section 10). So the same regression is also tried with
  ``-level x arc minutes`` beside ``-level x minutes``: ``k_arc`` (1/arc min) is the extra loss per arc minute.
  It is kept under the same rule (positive at ``FADE_Z`` heat-clustered standard errors); the rate per minute
  is then the joint fit's where it holds there too (else 0). Without a kept ``k_arc`` the fade is exactly the
  one-rate fit above. Arc minutes are affine in the stage's kWh, so the term keeps the decision linear.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

FADE_Z = 2.0  # one-sided: a fade the history shows at 2 heat-clustered standard errors is kept
MIN_FADE_STAGES = 50  # stages without an addition of the element needed to try


@dataclass(frozen=True)
class Fade:
    """A learned fade: ``rate_per_min`` is what the stage model uses (0 unless ``kept``); ``estimate`` and
    ``se`` (1/min) are the regression's, from ``n_stages`` stages without an addition of the element."""

    rate_per_min: float = 0.0
    estimate: float = float("nan")
    se: float = float("nan")
    n_stages: int = 0
    arc_rate_per_min: float = 0.0  # extra loss per arc minute (1/arc min; 0 unless kept)
    arc_estimate: float = float("nan")
    arc_se: float = float("nan")

    @property
    def kept(self) -> bool:
        return self.rate_per_min > 0.0 or self.arc_rate_per_min > 0.0

    @property
    def arc_z(self) -> float:
        return self.arc_estimate / self.arc_se if self.arc_se > 0 else float("nan")

    @property
    def z(self) -> float:
        return self.estimate / self.se if self.se > 0 else float("nan")


NO_FADE = Fade()


def learn_fade(change: np.ndarray, level_before: np.ndarray, minutes: np.ndarray, added: np.ndarray,
               stage_no: np.ndarray, heat_ids: np.ndarray, grades: np.ndarray,
               arc_minutes: np.ndarray | None = None) -> Fade:
    """The fade rates of one element (see module doc). ``change``: after - before (wt%) per stage; ``added``:
    the stage added some of the element; ``heat_ids`` cluster the standard error; ``arc_minutes``: arc-on
    minutes per stage (None or all 0: the arc rate is not tried)."""
    rows = ~added & np.isfinite(change) & np.isfinite(level_before)
    n = int(rows.sum())
    if n < MIN_FADE_STAGES:
        return Fade(n_stages=n)
    y, lev, ids = change[rows], level_before[rows], heat_ids[rows]
    base = _nuisance(lev, stage_no[rows], grades[rows])
    one = _clustered_fit(np.column_stack([*base, -lev * minutes[rows]]), y, ids, 1)
    if one is None:
        return Fade(n_stages=n)
    (k, se), = one
    plain = Fade(k if _kept(k, se) else 0.0, k, se, n)
    arc = arc_minutes[rows] if arc_minutes is not None else np.zeros(n)
    if not np.any(np.isfinite(arc) & (arc > 0)):
        return plain
    both = _clustered_fit(np.column_stack([*base, -lev * minutes[rows], -lev * np.nan_to_num(arc)]), y, ids, 2)
    if both is None:
        return plain
    (k2, se2), (ka, sea) = both
    if not _kept(ka, sea):
        return dataclasses.replace(plain, arc_estimate=ka, arc_se=sea)
    return Fade(k2 if _kept(k2, se2) else 0.0, k2, se2, n, ka, ka, sea)


def _kept(k: float, se: float) -> bool:
    return se > 0 and k >= FADE_Z * se


def _nuisance(lev: np.ndarray, stage_no: np.ndarray, grade: np.ndarray) -> list[np.ndarray]:
    """Per grade a constant and the measured level about the grade's mean (regression to its mean), and
    stage-number constants."""
    dummies = [(stage_no == k).astype(float) for k in np.unique(stage_no)[1:] if (stage_no == k).sum() >= 5]
    nuisance = []
    for g in np.unique(grade):
        at = (grade == g).astype(float)
        if at.sum() >= 5:
            nuisance += [at, at * (lev - lev[grade == g].mean())]
    if not nuisance:
        nuisance = [np.ones(len(lev)), lev - lev.mean()]
    return [*nuisance, *dummies]


def _clustered_fit(x: np.ndarray, y: np.ndarray, ids: np.ndarray, n_last: int) -> list[tuple[float, float]] | None:
    """Least squares of ``y`` on ``x``: (coefficient, heat-clustered se) of the last ``n_last`` columns (the fade
    regressors after the nuisance ones), None when ``x`` is rank-deficient."""
    if np.linalg.matrix_rank(x) < x.shape[1]:
        return None
    bread = np.linalg.inv(x.T @ x)
    coef = bread @ (x.T @ y)
    resid = y - x @ coef
    _, group = np.unique(ids, return_inverse=True)
    scores = np.zeros((group.max() + 1, x.shape[1]))
    np.add.at(scores, group, x * resid[:, None])
    cov = bread @ (scores.T @ scores) @ bread
    cols = range(x.shape[1] - n_last, x.shape[1])
    return [(float(coef[j]), float(np.sqrt(max(cov[j, j], 0.0)))) for j in cols]
