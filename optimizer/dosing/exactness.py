"""After every solve: each heat's embedded residual models re-predicted at the plan with their own ``predict``.

A model whose value in the program differs from its ``predict`` (beyond ``optimizer.embedding.verify``'s
tolerance) is repaired first: its decision inputs are moved into the pieces the solver's binaries chose
(``optimizer.embedding.repair``: a move within the solver's tolerance) and checked again. What still differs
is reported on the heat's result (``model_mismatch``) and in its recommendation, and logged as a warning;
it is never silent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pyomo.environ as pyo

from optimizer.embedding import repair, verify

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelCheck:
    """One heat's check: how many embedded models were re-predicted, how many needed a repair, and what still
    differs (empty when the plan is exact)."""

    checked: int
    repaired: int
    mismatch: str = ""


def check_heat(m: pyo.ConcreteModel, heat_id: str) -> ModelCheck:
    """Verify (and if needed repair) heat ``heat_id``'s embedded models at the loaded solution (module doc)."""
    handles = m.embedded.get(heat_id, []) if hasattr(m, "embedded") else []
    found = verify(handles)
    repaired = 0
    if found:
        repair(handles)
        still = verify(handles)
        repaired, found = len(found) - len(still), still
    text = "; ".join(str(x) for x in found)
    if found:
        log.warning("heat %s: %d of %d embedded models differ from their predict at the plan: %s", heat_id,
                    len(found), len(handles), text)
    else:
        log.debug("heat %s: %d embedded models equal their predict at the plan (%d repaired)", heat_id,
                  len(handles), repaired)
    return ModelCheck(len(handles), repaired, f"embedded model differs from its predict: {text}" if found else "")
