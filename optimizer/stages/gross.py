"""Gross reading errors: how often a reading far from its stage's prediction is taken back by the next sample.

A probe that dips into the slag reads a bath tens of degrees too cold; a slag-contaminated chemistry sample reads
alumina as Al. Such a reading is not noise around the truth, and the next sample does not confirm it. Whether a
far-off reading is gross or the heat really is off (a model that is wrong for this heat) the sample table tells:
a stage change whose closing reading is gross is off by the error ``g``, and the next stage's change, which
starts from that reading, is off by ``-g``; a heat that is really off stays off (its next change is what its
own recovery makes it, correlated with the first if anything).

So for each outcome the pairs of adjacent stages of one heat give the slope of the next stage's residual on this
stage's residual, once where the stage's standardised error is within ``SUSPECT_SD`` (the core: measurement error
shared by the two changes, the heat's own effects) and once beyond it (the tail). Gross readings make the tail's
slope more negative than the core's. With a share ``pi`` of tail readings gross (taken back whole) and the rest like
the core, ``slope_tail = -pi + (1 - pi) slope_core``, so ``pi = (slope_core - slope_tail) / (1 + slope_core)``.
Where the core's slope is positive (the heat's own effect outweighs the shared measurement error) the reference is
0: a tail of heats that stay off would keep that slope, a tail made of readings that follow a gross one (true, after
a false start) has none, and neither is gross. The two tails are learned apart (readings below their prediction, and
above): a failed dip reads cold and a contaminated sample reads Al high, while a heat that burns its Al reads low
and is right to. Each is kept only where the history shows it: at least ``MIN_TAIL_PAIRS`` tail pairs and the
difference of the slopes ``SUSPECT_Z`` heat-clustered standard errors above zero; otherwise ``pi`` is 0 and a
far-off reading is believed as before.

The advisor uses ``pi`` of its side as the chance that a reading more than ``SUSPECT_SD`` from its prediction is
gross: its estimate of the truth is then the mixture of the prediction (chance ``pi``) and the reading (``1 - pi``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SUSPECT_SD = 3.0  # a reading this many sd of its prediction away is suspect (the advisor's and the tail's limit)
MIN_TAIL_PAIRS = 20  # tail pairs needed to learn anything
SUSPECT_Z = 3.0  # the tail's slope below the core's at this many heat-clustered standard errors (a rule that overrides
# the plant's readings asks for more than the 2 se of the stage models' other terms)


@dataclass(frozen=True)
class Reversal:
    """What the history says of far-off readings of one outcome on one side of their prediction: ``share`` (the
    chance that such a suspect reading is gross; 0 unless kept), the two slopes, the evidence ``z`` and the
    tail's pairs."""

    share: float = 0.0
    slope_core: float = math.nan
    slope_tail: float = math.nan
    z: float = math.nan
    n_tail: int = 0

    @property
    def kept(self) -> bool:
        return self.share > 0.0


@dataclass(frozen=True)
class GrossReadings:
    """Far-off readings below and above their prediction, learned apart: a failed dip reads cold, a
    slag-contaminated sample reads alumina as Al (high), while a heat that really burns its Al reads low and is
    believed."""

    below: Reversal = Reversal()
    above: Reversal = Reversal()

    @property
    def kept(self) -> bool:
        return self.below.kept or self.above.kept

    def share(self, deviation: float) -> float:
        """The chance that a suspect reading ``deviation`` (reading - prediction) from its prediction is gross."""
        return (self.below if deviation < 0.0 else self.above).share


NO_GROSS = GrossReadings()


def learn_gross(resid: np.ndarray, standardised: np.ndarray, heat_ids: np.ndarray,
                stage_no: np.ndarray) -> GrossReadings:
    """The share of gross readings among the suspect ones below and above their prediction (module doc) from
    stage rows: each row's residual (measured change - predicted), its standardised error, its heat and its
    stage number."""
    first, second = _adjacent_pairs(heat_ids, stage_no)
    ok = np.isfinite(resid[first]) & np.isfinite(resid[second]) & np.isfinite(standardised[first])
    first, second = first[ok], second[ok]
    z = standardised[first]
    core = np.abs(z) <= SUSPECT_SD
    cluster = np.unique(heat_ids[first], return_inverse=True)[1]
    e1, e2 = resid[first], resid[second]

    def side(tail: np.ndarray) -> Reversal:
        n_tail = int(tail.sum())
        if n_tail < MIN_TAIL_PAIRS or core.sum() < MIN_TAIL_PAIRS:
            return Reversal(n_tail=n_tail)
        b_core, var_core = _slope(e1[core], e2[core], cluster[core])
        b_tail, var_tail = _slope(e1[tail], e2[tail], cluster[tail])
        ref, var_ref = (b_core, var_core) if b_core < 0.0 else (0.0, 0.0)  # no credit for heats that stay off
        se = math.sqrt(var_ref + var_tail)
        gain_z = (ref - b_tail) / se if se > 0 else 0.0
        share = (ref - b_tail) / (1.0 + ref) if ref > -0.95 else 0.0
        kept = gain_z >= SUSPECT_Z and share > 0.0
        return Reversal(min(share, 1.0) if kept else 0.0, b_core, b_tail, gain_z, n_tail)

    return GrossReadings(side(z < -SUSPECT_SD), side(z > SUSPECT_SD))


def _adjacent_pairs(heat_ids: np.ndarray, stage_no: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (stage j, stage j + 1) of every pair of consecutive stages of one heat."""
    order = np.lexsort((stage_no, heat_ids))
    ids, nos = heat_ids[order], stage_no[order]
    nxt = (ids[1:] == ids[:-1]) & (nos[1:] == nos[:-1] + 1)
    return order[:-1][nxt], order[1:][nxt]


def _slope(x: np.ndarray, y: np.ndarray, cluster: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of ``y`` on ``x`` through the origin and its variance, clustered by ``cluster``."""
    sxx = float(x @ x)
    b = float(x @ y) / sxx
    scores = np.zeros(int(cluster.max()) + 1)
    np.add.at(scores, cluster, x * (y - b * x))
    return b, float(scores @ scores) / sxx ** 2
