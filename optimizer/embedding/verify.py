"""Check a solution against the models' own ``predict``, and repair a tree model's inputs when they slipped.

    mismatches = verify(handles)          # [] when every embedded model equals predict at the solution
    if mismatches: repair(handles); mismatches = verify(handles)
    check = check_solution(handles, "heat 17")   # both, counted and logged: what every product solve calls

``verify`` re-predicts each embedded model at the solution's inputs and reports every model whose value in the
program differs from ``predict`` by more than ``atol + rtol * |predict|``. ``repair`` moves each decision
input of a tree model into the piece its binaries chose (the solver may leave it up to its feasibility
tolerance outside): the binaries, hence the model's value, stay; the input becomes a point where predict
agrees. Only decisions that are a Pyomo variable, or an affine expression of one, can be moved.
``check_solution`` does both after a solve and returns a ``ModelCheck`` (models checked, repaired, what still
differs), logging a warning for a mismatch: the dosing program and the ladle recommender call it after every
solve and put ``mismatch`` on the plan.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import pyomo.environ as pyo
from pyomo.core.expr.visitor import identify_variables

from optimizer.embedding.api import PredictorHandle

log = logging.getLogger(__name__)

RTOL = 1e-6
ATOL = 1e-6


@dataclass(frozen=True)
class Mismatch:
    """One embedded model whose value in the program is not its ``predict`` at the solution."""

    block: str
    estimator: str
    output_index: int
    inputs: dict[str, object]
    model_value: float
    predicted: float

    def __str__(self) -> str:
        return (f"{self.estimator} in {self.block} (output {self.output_index}): program {self.model_value:.6g}, "
                f"predict {self.predicted:.6g} at {self.inputs}")


def verify(handles: PredictorHandle | Iterable[PredictorHandle], rtol: float = RTOL,
           atol: float = ATOL) -> list[Mismatch]:
    """Every handle whose model value differs from ``predict`` at the current solution (module doc)."""
    out = []
    for h in [handles] if isinstance(handles, PredictorHandle) else handles:
        value, predicted = h.check()
        if not abs(value - predicted) <= atol + rtol * abs(predicted):
            row = {str(k): v for k, v in h.input_values().iloc[0].items()}
            out.append(Mismatch(h.block.name, type(h.estimator).__name__, h.output_index, row, value, predicted))
    return out


def repair(handles: PredictorHandle | Iterable[PredictorHandle]) -> int:
    """Move tree models' decision inputs into the pieces their binaries chose; returns how many were moved."""
    moved = 0
    seen: set[int] = set()
    for h in [handles] if isinstance(handles, PredictorHandle) else handles:
        for th in h.pieces:
            if id(th) in seen:
                continue
            seen.add(id(th))
            lo, hi = th.piece(th.selected())
            moved += _move_into(th.feat.expr, lo, hi)
    return moved


def _move_into(expr: object, lo: float, hi: float) -> int:
    """Set the one variable of the affine ``expr`` so that its value lies in [lo, hi]; 1 if it moved."""
    now = float(pyo.value(expr))
    if lo <= now <= hi:
        return 0
    target = min(max(now, lo), hi)
    var = list(identify_variables(expr, include_fixed=False))
    if len(var) != 1:
        return 0
    x = var[0]
    x0 = float(x.value)
    x.set_value(x0 + 1.0, skip_validation=True)
    slope = float(pyo.value(expr)) - now
    if slope == 0.0:
        x.set_value(x0, skip_validation=True)
        return 0
    x.set_value(x0 + (target - now) / slope, skip_validation=True)
    if not lo <= float(pyo.value(expr)) <= hi:  # rounding: step inside by one unit of the piece's scale
        x.set_value(x0 + (target - now) / slope + (1e-12 if target == lo else -1e-12) / slope, skip_validation=True)
    return 1


@dataclass(frozen=True)
class ModelCheck:
    """One solution's check: how many embedded models were re-predicted, how many needed a repair, and what still
    differs (empty when the solution is exact)."""

    checked: int
    repaired: int
    mismatch: str = ""


def check_solution(handles: Iterable[PredictorHandle], label: str) -> ModelCheck:
    """``verify`` the loaded solution, ``repair`` and ``verify`` again if needed; a model that still differs is
    logged as a warning naming ``label`` (e.g. "heat 17") and described in ``ModelCheck.mismatch``."""
    handles = list(handles)
    found = verify(handles)
    repaired = 0
    if found:
        repair(handles)
        still = verify(handles)
        repaired, found = len(found) - len(still), still
    text = "; ".join(str(x) for x in found)
    if found:
        log.warning("%s: %d of %d embedded models differ from their predict at the solution: %s", label,
                    len(found), len(handles), text)
    else:
        log.debug("%s: %d embedded models equal their predict at the solution (%d repaired)", label,
                  len(handles), repaired)
    return ModelCheck(len(handles), repaired, f"embedded model differs from its predict: {text}" if found else "")
