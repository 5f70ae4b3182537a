"""A heat's random effects: their covariance from pairs of stages of the same heat, and the gate on the drift.

Each outcome's stage residuals of one heat share the heat's own random effect ``u`` seen through each stage's
regressors ``x_j`` (its recovery on what the stage adds, or its arc efficiency and loss per minute), each stage's
own noise, and the measurement two adjacent stages share: ``E[e_j e_k] = x_j' S x_k - [k = j + 1] (m0 + m1 c_k^2)``
(``c_k`` the shared sample's level). A least-squares fit of the products of residual pairs gives ``S`` and the
measurement variance (method of moments).

An element may also drift: a per-heat loss or pick-up per minute that does not scale with the additions (carry-over
slag that goes on reducing or oxidising, an addition that dissolves late). Only pairs of stages that do not share a
sample tell a drift from the shared measurement error (with two stages of similar length both give the same
product), so the drift enters an element's model only where the history identifies it: its variance at least
``DRIFT_MIN_Z`` cluster-robust standard errors above zero, from at least ``DRIFT_MIN_PAIRS`` pairs that share no
sample, and the later heats' heat-updated forecasts (every stage after the first, predicted from the heat's own
earlier residuals) better with it than without, by their Gaussian log score (the first stage is left out: its
interval is calibrated on its own).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.schema import KEY

DRIFT_MIN_Z = 2.0  # drift variance / its cluster-robust standard error needed to keep the drift
DRIFT_MIN_PAIRS = 100  # pairs of stages of one heat that share no sample (heats with 3+ stages) needed


@dataclass(frozen=True)
class EffectFit:
    """The random-effect covariance (d x d), measurement variance ``(m0, m1)`` and the evidence on the last
    effect's variance (the drift when there is one): its z (estimate / cluster-robust se) and the pairs of stages
    that share no sample."""

    cov: np.ndarray
    meas_var: tuple[float, float]
    last_z: float
    n_apart: int


def _heat_rows(stages: pd.DataFrame, rows: np.ndarray) -> list[list[int]]:
    """Row indices of each heat among ``rows``, in stage order."""
    ids = stages[KEY].astype(str).to_numpy()
    stage_no = stages["stage_no"].to_numpy()
    groups: dict[str, list[int]] = {}
    for i in np.flatnonzero(rows).tolist():
        groups.setdefault(ids[i], []).append(i)
    return [sorted(m, key=lambda i: stage_no[i]) for m in groups.values()]


def _pairs(stages: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of stages of one heat among ``rows`` (earlier, later, heat number), heat by heat in stage order."""
    j, k, g = [], [], []
    for h, members in enumerate(_heat_rows(stages, rows)):
        for p, first in enumerate(members):
            later = members[p + 1:]
            j += [first] * len(later)
            k += later
            g += [h] * len(later)
    return np.array(j, dtype=int), np.array(k, dtype=int), np.array(g, dtype=int)


def fit_effects(resid: np.ndarray, ex: np.ndarray, stages: pd.DataFrame, level: np.ndarray,
                rows: np.ndarray) -> EffectFit:
    """Random-effect covariance and measurement variance (module doc) from the stage pairs of ``rows``;
    ``level`` is each row's level at its start (the sample it shares with the stage before)."""
    d = ex.shape[1]
    stage_no = stages["stage_no"].to_numpy()
    tri = [(a, b) for a in range(d) for b in range(a, d)]
    j, k, heat = _pairs(stages, rows)
    xj, xk = ex[j], ex[k]
    adj = (stage_no[k] == stage_no[j] + 1).astype(float)
    n_apart = int(np.sum(adj == 0.0))
    products = [xj[:, a] * xk[:, b] + (xj[:, b] * xk[:, a] if a != b else 0.0) for a, b in tri]
    feats = np.column_stack([*products, -adj, -adj * level[k] ** 2]) if len(j) else np.zeros((0, len(tri) + 2))
    target = resid[j] * resid[k]
    if len(target) < 3 * (len(tri) + 2):
        return EffectFit(np.zeros((d, d)), (0.0, 0.0), 0.0, n_apart)
    sol = np.linalg.lstsq(feats, target, rcond=None)[0]
    se = _cluster_se(feats, target - feats @ sol, heat)
    last = len(tri) - 1  # the (d-1, d-1) entry: the last effect's variance
    cov = np.zeros((d, d))
    for (a, b), v in zip(tri, sol[: len(tri)], strict=True):
        cov[a, b] = cov[b, a] = v
    w, vecs = np.linalg.eigh(cov)
    cov = (vecs * np.clip(w, 0.0, None)) @ vecs.T
    z = float(sol[last] / se[last]) if se[last] > 0 else 0.0
    return EffectFit(cov, (max(float(sol[-2]), 0.0), max(float(sol[-1]), 0.0)), z, n_apart)


def _cluster_se(f: np.ndarray, u: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """Standard errors of a least-squares fit whose rows are correlated within a cluster (a heat's pairs share
    residuals): the sandwich ``(F'F)^-1 (sum_g F_g' u_g u_g' F_g) (F'F)^-1``."""
    bread = np.linalg.pinv(f.T @ f)
    scores = np.zeros((int(cluster.max()) + 1, f.shape[1]))
    np.add.at(scores, cluster, f * u[:, None])
    v = bread @ (scores.T @ scores) @ bread
    return np.sqrt(np.clip(np.diag(v), 0.0, None))


def updated_log_score(resid: np.ndarray, ex: np.ndarray, cov: np.ndarray, stage_var: np.ndarray,
                      shared_var: np.ndarray, stages: pd.DataFrame, rows: np.ndarray) -> float:
    """Gaussian log score of the heat-updated forecasts on ``rows``: every stage after a heat's first, predicted
    from the heat's earlier residuals under random effects ``cov``, each row's own variance ``stage_var`` and the
    measurement variance ``shared_var`` it shares with the next stage (the update ``optimizer.stages.update``
    makes; the first stage's population forecast is left out: its interval is calibrated on its own)."""
    stage_no = stages["stage_no"].to_numpy()
    total = 0.0
    for members in _heat_rows(stages, rows):
        idx = np.array(members)
        x = ex[idx]
        k = x @ cov @ x.T + np.diag(stage_var[idx])
        for p in range(len(idx) - 1):
            if stage_no[idx[p + 1]] == stage_no[idx[p]] + 1:
                k[p, p + 1] -= shared_var[idx[p]]
                k[p + 1, p] -= shared_var[idx[p]]
        e = resid[idx]
        for p in range(1, len(idx)):
            gain = np.linalg.pinv(k[:p, :p]) @ k[:p, p]
            var = max(float(k[p, p] - k[p, :p] @ gain), 1e-12)
            err = float(e[p] - gain @ e[:p])
            total += -0.5 * (np.log(2.0 * np.pi * var) + err * err / var)
    return total
