"""The inputs of an embedded model: each feature is a fixed number or an affine Pyomo expression with bounds.

Preprocessing steps (scalers) map features to features affinely, so bounds travel with them exactly; fixed
context stays a number all the way, which is what lets trees prune and linear terms fold into constants.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyomo.environ as pyo

Expr = Any  # a Pyomo expression or indexed Var (pyomo ships no types)


@dataclass(frozen=True)
class Feature:
    """A number (``value``) or an expression ``expr`` with bounds [lb, ub] (both finite)."""

    name: str
    value: Any = None
    expr: Any = None
    lb: float = -math.inf
    ub: float = math.inf

    @property
    def fixed(self) -> bool:
        return self.expr is None

    def apply(self, fn: Callable[[Any], Any]) -> Feature:
        """``fn(x)`` for a monotone affine ``fn`` written as scikit-learn computes it (e.g. ``(x - mean) / scale``),
        so a fixed value, the bounds and the expression's value all round as ``transform`` does."""
        if self.fixed:
            return Feature(self.name, value=fn(float(self.value)))
        a, b = fn(self.lb), fn(self.ub)
        return Feature(self.name, expr=fn(self.expr), lb=min(a, b), ub=max(a, b))


def make_feature(name: str, x: Any) -> Feature:
    """From a number/string (fixed), a fixed Pyomo var (fixed at its value), or a var/expression with bounds."""
    if isinstance(x, str | int | float):
        return Feature(name, value=x)
    if isinstance(x, pyo.Var) and x.is_indexed():
        raise TypeError(f"input {name!r} is an indexed Pyomo Var; pass its elements, e.g. m.x[i]")
    if hasattr(x, "is_fixed") and hasattr(x, "value") and getattr(x, "is_variable_type", lambda: False)() \
            and x.is_fixed():
        return Feature(name, expr=x, lb=float(x.value), ub=float(x.value))
    lb, ub = _bounds(x)
    if not (math.isfinite(lb) and math.isfinite(ub)):
        raise ValueError(f"input {name!r} ({x}) needs finite bounds: big-M constants are derived from them; "
                         f"set them on the variable (got lb={lb}, ub={ub})")
    return Feature(name, expr=x, lb=lb, ub=ub)


def _bounds(x: Any) -> tuple[float, float]:
    from pyomo.contrib.fbbt.fbbt import compute_bounds_on_expr

    lb, ub = compute_bounds_on_expr(x)
    return (-math.inf if lb is None else float(lb)), (math.inf if ub is None else float(ub))
