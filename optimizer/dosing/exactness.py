"""After every solve: each heat's embedded residual models re-predicted at the plan with their own ``predict``.

A model whose value in the program differs from its ``predict`` (beyond ``optimizer.embedding.verify``'s
tolerance) is repaired first: its decision inputs are moved into the pieces the solver's binaries chose
(``optimizer.embedding.repair``: a move within the solver's tolerance) and checked again. What still differs
is reported on the heat's result (``model_check``) and in its recommendation, and logged as a warning;
it is never silent (``optimizer.embedding.check_solution``).
"""

from __future__ import annotations

import pyomo.environ as pyo

from optimizer.embedding import ModelCheck, check_solution

__all__ = ["ModelCheck", "check_heat"]


def check_heat(m: pyo.ConcreteModel, heat_id: str) -> ModelCheck:
    """Verify (and if needed repair) heat ``heat_id``'s embedded models at the loaded solution (module doc)."""
    handles = m.embedded.get(heat_id, []) if hasattr(m, "embedded") else []
    return check_solution(handles, f"heat {heat_id}")
