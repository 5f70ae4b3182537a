"""Conformal half-widths that follow the plant: a rolling window of the latest known out-of-sample errors.

Why: calibrated once on the 150 heats of the latest rolling fold, the 90 % interval of the penultimate-time GBM
covered only 0.848 of the 488 later heats (its errors there were ~10 % larger than in that fold: the later heats
drift, and 150 heats pin a 90 % quantile only to about +/- 2.5 % coverage).

The scheme (``OnlineWindow``): every heat's final temperature is measured when the heat ends, so by the time the
next heat reaches its decision point, the model's error on every heat that has *ended* is known. The half-width
for heat ``i`` is the split-conformal quantile (``conformal_quantile``) of the latest ``window`` absolute errors
known at its decision time: the calibration residuals first (out-of-fold, all before any new heat), then the
errors of new heats whose final measurement came before heat ``i``'s decision time, in the order they became
known. A heat's own outcome is never in its window; heats the model was fitted on never enter (in-sample errors
are too small). With no new outcomes this is the static split-conformal interval of the latest ``window``
calibration residuals.

The window (and static against online) was chosen inside the training heats only, by ``deployment_coverage``:
models fitted on the heats before an origin, calibrated on their own rolling folds, covering the next 488 heats
(the test size) as a deployment would. See docs/ladle_furnace.md for the figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.surrogates.conformal import conformal_quantile

ONLINE_WINDOW = 150


@dataclass(frozen=True)
class OnlineWindow:
    """Rolling split-conformal half-widths: the latest ``window`` errors known at each decision (0 = static)."""

    window: int = ONLINE_WINDOW

    def halfwidths(self, calibration_abs_degC: np.ndarray, new_abs_degC: np.ndarray, known_at: np.ndarray,
                   decide_at: np.ndarray, confidence: float) -> np.ndarray:
        """Half-width (degC) per new heat. ``new_abs_degC`` (NaN = outcome not known / not usable),
        ``known_at`` (when each outcome became known) and ``decide_at`` are per new heat, any order."""
        cal = np.asarray(calibration_abs_degC, float)
        new = np.asarray(new_abs_degC, float)
        known = pd.to_datetime(pd.Series(known_at)).to_numpy("datetime64[ns]")
        decide = pd.to_datetime(pd.Series(decide_at)).to_numpy("datetime64[ns]")
        if not len(new) == len(known) == len(decide):
            raise ValueError(f"new errors, their known times and the decision times must have one value per heat; "
                             f"got {len(new)}, {len(known)} and {len(decide)}")
        usable = np.isfinite(new) & ~np.isnat(known)
        order = np.argsort(known[usable], kind="stable")
        seq_err, seq_known = new[usable][order], known[usable][order]
        n_known = np.searchsorted(seq_known, decide, side="left")  # outcomes strictly before each decision
        take = self.window if self.window > 0 else len(cal)
        out = np.empty(len(new))
        cache: dict[int, float] = {}
        for i, m in enumerate(n_known):
            if m not in cache:
                pool = seq_err[:m] if self.window > 0 else seq_err[:0]
                cache[m] = conformal_quantile(np.concatenate([cal, pool])[-take:], confidence)
            out[i] = cache[m]
        return out


def scheme_coverage(calibration: pd.DataFrame, deployed: pd.DataFrame, scheme: str,
                    confidence: float = 0.9) -> float:
    """Coverage of ``deployed`` heats (time order; columns abs_degC, known_at, decide_at) by ``scheme``:
    ``static_last<k>`` (the latest k rolling folds of ``calibration``, columns abs_degC and fold),
    ``static_all`` or ``online_<window>``."""
    err, fold = calibration["abs_degC"].to_numpy(float), calibration["fold"].to_numpy(int)
    if scheme.startswith("online_"):
        hw = OnlineWindow(int(scheme.split("_")[1])).halfwidths(
            err, deployed["abs_degC"].to_numpy(float), deployed["known_at"].to_numpy(),
            deployed["decide_at"].to_numpy(), confidence)
    else:
        k = fold.max() + 1 if scheme == "static_all" else int(scheme.removeprefix("static_last"))
        hw = np.full(len(deployed), conformal_quantile(err[fold > fold.max() - k], confidence))
    return float(np.mean(deployed["abs_degC"].to_numpy(float) <= hw))


SCHEMES = ("static_last1", "static_last2", "static_all", "online_150", "online_300")
