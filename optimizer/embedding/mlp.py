"""ReLU multilayer perceptrons (identity output) as MILP constraints with interval-arithmetic big-M.

For hidden unit j with pre-activation a_j = w_j . h + b_j, bounds [L_j, U_j] propagated layer by layer:
U_j <= 0 -> output 0; L_j >= 0 -> output a_j; otherwise, with s_j binary:

    y_j >= a_j,   y_j >= 0,   y_j <= a_j - L_j (1 - s_j),   y_j <= U_j s_j
Fixed inputs fold into the first layer's biases.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from optimizer.embedding.features import Feature


def add_mlp(blk: pyo.Block, est, feats: list[Feature]) -> tuple[object, int]:  # noqa: ANN001
    if est.activation != "relu" or est.out_activation_ != "identity":
        raise ValueError(f"MLPRegressor must use activation='relu' (got {est.activation!r}) and an identity output")
    layer = [(float(f.value), float(f.value), float(f.value)) if f.fixed else (f.expr, f.lb, f.ub) for f in feats]
    n_bin = 0
    for k, (w, b) in enumerate(zip(est.coefs_, est.intercepts_, strict=True)):
        last = k == len(est.coefs_) - 1
        nxt = []
        for j in range(w.shape[1]):
            expr, lo, hi = _affine(layer, w[:, j], float(b[j]))
            if last:
                nxt.append((expr, lo, hi))
                continue
            if hi <= 0:
                nxt.append((0.0, 0.0, 0.0))
            elif lo >= 0:
                nxt.append((expr, lo, hi))
            else:
                y = pyo.Var(bounds=(0.0, hi))
                s = pyo.Var(domain=pyo.Binary)
                blk.add_component(f"h{k}_{j}", y)
                blk.add_component(f"s{k}_{j}", s)
                blk.add_component(f"c{k}_{j}_a", pyo.Constraint(expr=y >= expr))
                blk.add_component(f"c{k}_{j}_b", pyo.Constraint(expr=y <= expr - lo * (1 - s)))
                blk.add_component(f"c{k}_{j}_c", pyo.Constraint(expr=y <= hi * s))
                nxt.append((y, 0.0, hi))
                n_bin += 1
        layer = nxt
    return layer[0][0], n_bin


def _affine(layer: list[tuple], w: np.ndarray, b: float) -> tuple[object, float, float]:
    expr, lo, hi = b, b, b
    for (x, xl, xu), wi in zip(layer, w, strict=True):
        wi = float(wi)
        if wi == 0.0:
            continue
        if isinstance(x, float) and xl == xu:
            expr, lo, hi = expr + wi * x, lo + wi * x, hi + wi * x
            continue
        expr = expr + wi * x
        lo += wi * (xl if wi > 0 else xu)
        hi += wi * (xu if wi > 0 else xl)
    return expr, lo, hi
