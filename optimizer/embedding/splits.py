"""Which side of a split a value goes to, exactly as the estimator's ``predict`` decides, and the margin that
keeps a solver's tolerances from blurring it.

scikit-learn's trees (DecisionTree, RandomForest, ExtraTrees, GradientBoosting) cast ``X`` to float32 and send
``x`` left iff ``float32(x) <= t`` (``t`` a float64); HistGradientBoosting compares float64 ``x <= t``; NaN goes
where the node's ``missing_go_to_left`` says. For a threshold, ``left_max`` is the largest float64 sent left:
every ``x <= left_max`` goes left and every ``x >= nextafter(left_max)`` goes right (rounding is monotone). For
float32 that is the midpoint between the largest float32 ``T <= t`` and the next float32 (or the float64 below
it when ties round up), which is not ``t`` when ``t`` is not a float32 value.

In the MILP the right piece starts ``margin`` above the boundary and the left piece ends ``inset`` below it:

    margin = MARGIN * max(1, |lb|, |ub|)        (lb, ub: the input's bounds, so also >= MARGIN * |t|)
    inset = min(LEFT_INSET * max(1, |lb|, |ub|), FEASIBILITY_TOL / 10)

``MARGIN`` is ten times the feasibility and integrality tolerance the embedding asks of HiGHS
(``SOLVER_OPTIONS``): a row or a binary off by the tolerance moves x by at most ``FEASIBILITY_TOL`` times the
input's range, which stays inside the gap. The inset is far below the solver's tolerance, so a decision
pinned on the boundary (x = t, an integer, a row) is still feasible on the left, and far above the rounding
of a vertex solution (x computed back from the pieces, a scaler applied), so it does not cross. Decisions
cannot take values in the gap (a relative 1e-6 of the input's range); fixed inputs and degenerate boxes are
decided exactly, and a bound inside the gap makes the right piece that bound alone.
"""

from __future__ import annotations

import math

import numpy as np

FEASIBILITY_TOL = 1e-7
"""Primal feasibility and MIP feasibility (integrality) tolerance asked of HiGHS (its MIP default is 1e-6)."""
MARGIN = 10 * FEASIBILITY_TOL
"""Relative width of the excluded gap above each split's boundary (module doc)."""
LEFT_INSET = 1e-12
"""Relative distance below a split's boundary where the left piece ends (module doc)."""
SOLVER_OPTIONS = {"primal_feasibility_tolerance": FEASIBILITY_TOL, "mip_feasibility_tolerance": FEASIBILITY_TOL}
"""HiGHS options under which the margins hold; ``PredictorHandle.solver_options`` carries them."""


def left_max(t: float, dtype: type) -> float:
    """The largest float64 that ``predict`` sends left at threshold ``t`` when it compares in ``dtype``."""
    return float(left_max_array(np.array([t], dtype=np.float64), dtype)[0])


def left_max_array(t: np.ndarray, dtype: type) -> np.ndarray:
    """``left_max`` of every threshold in ``t`` (vectorised; module doc)."""
    t = np.asarray(t, dtype=np.float64)
    if dtype is np.float64:
        return t.copy()
    with np.errstate(over="ignore", invalid="ignore"):
        low = t.astype(np.float32)
        low = np.where(low.astype(np.float64) > t, np.nextafter(low, np.float32(-np.inf)), low)
        up = np.nextafter(low, np.float32(np.inf))
        mid = (low.astype(np.float64) + up.astype(np.float64)) / 2.0  # exact in float64
        out = np.where(mid.astype(np.float32).astype(np.float64) <= t, mid, np.nextafter(mid, -np.inf))
    return np.where(np.isfinite(t) & np.isfinite(up), out, t)


def goes_left(x: float, t: float, dtype: type, missing_left: bool) -> bool:
    """``predict``'s decision for one value (NaN included)."""
    if math.isnan(x):
        return bool(missing_left)
    return float(dtype(x)) <= t


def margin(lb: float, ub: float) -> float:
    """Width of the excluded gap above a split's boundary for an input with bounds [lb, ub] (module doc)."""
    return MARGIN * max(1.0, abs(lb), abs(ub))


def left_inset(lb: float, ub: float) -> float:
    """How far below a split's boundary the left piece ends: ``LEFT_INSET * max(1, |lb|, |ub|)``, at most a tenth
    of the solver's tolerance (module doc)."""
    return min(LEFT_INSET * max(1.0, abs(lb), abs(ub)), FEASIBILITY_TOL / 10)


def right_start(boundary: float, lb: float, ub: float) -> float:
    """Where the right piece starts: ``margin`` above the first value that goes right, or ``ub`` itself when the
    bound lies inside that gap (x = ub must keep its right-hand leaf)."""
    return min(float(np.nextafter(boundary, math.inf)) + margin(lb, ub), ub)
