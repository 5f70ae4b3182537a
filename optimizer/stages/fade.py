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
"""

from __future__ import annotations

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

    @property
    def kept(self) -> bool:
        return self.rate_per_min > 0.0

    @property
    def z(self) -> float:
        return self.estimate / self.se if self.se > 0 else float("nan")


NO_FADE = Fade()


def learn_fade(change: np.ndarray, level_before: np.ndarray, minutes: np.ndarray, added: np.ndarray,
               stage_no: np.ndarray, heat_ids: np.ndarray, grades: np.ndarray) -> Fade:
    """The fade rate of one element (see module doc). ``change``: after - before (wt%) per stage; ``added``:
    the stage added some of the element; ``heat_ids`` cluster the standard error."""
    rows = ~added & np.isfinite(change) & np.isfinite(level_before)
    n = int(rows.sum())
    if n < MIN_FADE_STAGES:
        return Fade(n_stages=n)
    y, lev, mins, ids, grade = change[rows], level_before[rows], minutes[rows], heat_ids[rows], grades[rows]
    stages = np.unique(stage_no[rows])
    dummies = [(stage_no[rows] == k).astype(float) for k in stages[1:] if (stage_no[rows] == k).sum() >= 5]
    nuisance = []  # per grade: a constant and the measured level about the grade's mean (regression to its mean)
    for g in np.unique(grade):
        at = (grade == g).astype(float)
        if at.sum() >= 5:
            nuisance += [at, at * (lev - lev[grade == g].mean())]
    x = np.column_stack([*nuisance, *dummies, -lev * mins]) if nuisance else \
        np.column_stack([np.ones(n), lev - lev.mean(), *dummies, -lev * mins])
    if np.linalg.matrix_rank(x) < x.shape[1]:
        return Fade(n_stages=n)
    bread = np.linalg.inv(x.T @ x)
    coef = bread @ (x.T @ y)
    resid = y - x @ coef
    _, group = np.unique(ids, return_inverse=True)
    scores = np.zeros((group.max() + 1, x.shape[1]))
    np.add.at(scores, group, x * resid[:, None])
    cov = bread @ (scores.T @ scores) @ bread
    k, se = float(coef[-1]), float(np.sqrt(max(cov[-1, -1], 0.0)))
    kept = se > 0 and k >= FADE_Z * se
    return Fade(k if kept else 0.0, k, se, n)
