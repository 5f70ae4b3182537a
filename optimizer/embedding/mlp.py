"""ReLU multilayer perceptrons (identity output) as MILP constraints with big-M from propagated bounds.

For hidden unit j with pre-activation a_j = w_j . h + b_j and bounds [L_j, U_j]: U_j <= 0 -> output 0;
L_j >= 0 -> output a_j; otherwise, with s_j binary:

    y_j >= a_j,   y_j >= 0,   y_j <= a_j - L_j (1 - s_j),   y_j <= U_j s_j

Bounds: interval arithmetic layer by layer, intersected with linear back-substitution to the inputs (the
CROWN / DeepPoly bound: each unstable ReLU between its linear upper bound U (a - L) / (U - L) and a linear lower
bound 0 or a, whichever is closer), which keeps the correlation between units that interval arithmetic loses.
Tighter bounds switch more units to always-on/off (fewer binaries) and shrink the big-M constants; all
vectorised numpy. Fixed inputs are inputs with lb = ub: they fold into the first layer.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from optimizer.embedding.errors import UnsupportedEstimatorError
from optimizer.embedding.features import Expr, Feature


def add_mlp(blk: pyo.Block, est, feats: list[Feature], output: int = 0) -> tuple[object, int]:  # noqa: ANN001
    """The network's ``output``-th output (module doc); returns (expression, binaries)."""
    if est.activation != "relu" or est.out_activation_ != "identity":
        raise UnsupportedEstimatorError(
            f"MLPRegressor(activation={est.activation!r}) cannot be embedded exactly: only activation='relu' "
            f"with an identity output is piecewise linear (got output activation {est.out_activation_!r})")
    lb = np.array([float(f.value) if f.fixed else f.lb for f in feats])
    ub = np.array([float(f.value) if f.fixed else f.ub for f in feats])
    bounds = preactivation_bounds(est.coefs_, est.intercepts_, lb, ub)
    layer: list[Expr] = [float(f.value) if f.fixed else f.expr for f in feats]
    n_bin = 0
    for k, (w, b) in enumerate(zip(est.coefs_[:-1], est.intercepts_[:-1], strict=True)):
        lo, hi = bounds[k]
        nxt: list[Expr] = []
        for j in range(w.shape[1]):
            if hi[j] <= 0:
                nxt.append(0.0)
                continue
            expr = _affine(layer, w[:, j], float(b[j]))
            if lo[j] >= 0:
                nxt.append(expr)
                continue
            y = pyo.Var(bounds=(0.0, float(hi[j])))
            s = pyo.Var(domain=pyo.Binary)
            blk.add_component(f"h{k}_{j}", y)
            blk.add_component(f"s{k}_{j}", s)
            blk.add_component(f"c{k}_{j}_a", pyo.Constraint(expr=y >= expr))
            blk.add_component(f"c{k}_{j}_b", pyo.Constraint(expr=y <= expr - float(lo[j]) * (1 - s)))
            blk.add_component(f"c{k}_{j}_c", pyo.Constraint(expr=y <= float(hi[j]) * s))
            nxt.append(y)
            n_bin += 1
        layer = nxt
    return _affine(layer, est.coefs_[-1][:, output], float(est.intercepts_[-1][output])), n_bin


def preactivation_bounds(coefs: list[np.ndarray], intercepts: list[np.ndarray], lb: np.ndarray,
                         ub: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(L, U) of every hidden layer's pre-activations for inputs in the box [lb, ub] (module doc)."""
    out: list[tuple[np.ndarray, np.ndarray]] = []
    h_lo, h_hi = lb, ub
    for k in range(len(coefs) - 1):
        w, b = coefs[k], intercepts[k]
        lo = b + np.clip(w, 0, None).T @ h_lo + np.clip(w, None, 0).T @ h_hi  # interval arithmetic
        hi = b + np.clip(w, 0, None).T @ h_hi + np.clip(w, None, 0).T @ h_lo
        if k > 0:
            blo, bhi = _back_substitute(coefs, intercepts, out, k, lb, ub)
            lo, hi = np.maximum(lo, blo), np.minimum(hi, bhi)
        out.append((lo, hi))
        h_lo, h_hi = np.maximum(lo, 0.0), np.maximum(hi, 0.0)
    return out


def _back_substitute(coefs: list[np.ndarray], intercepts: list[np.ndarray], bounds: list, k: int,
                     lb: np.ndarray, ub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear bounds of layer k's pre-activations pushed back through layers k-1 .. 0 to the input box."""
    result = []
    for sign in (-1.0, 1.0):  # lower bound, then upper bound
        lam = sign * coefs[k].T  # (units of layer k) x (units of layer k-1): we bound sign * a_k from above
        const = sign * intercepts[k]
        for m in range(k - 1, -1, -1):
            up_slope, up_icpt, low_slope = _relu_relaxation(*bounds[m])
            pos, neg = np.clip(lam, 0, None), np.clip(lam, None, 0)
            const = const + pos @ up_icpt
            lam = pos * up_slope + neg * low_slope
            const = const + lam @ intercepts[m]
            lam = lam @ coefs[m].T
        best = const + np.clip(lam, 0, None) @ ub + np.clip(lam, None, 0) @ lb
        result.append(sign * best)
    return result[0], result[1]


def _relu_relaxation(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unit: h <= up_slope * a + up_icpt and h >= low_slope * a, valid for a in [lo, hi]."""
    on, off = lo >= 0, hi <= 0
    unstable = ~(on | off)
    width = np.where(unstable, hi - lo, 1.0)
    up_slope = np.where(on, 1.0, np.where(unstable, hi / width, 0.0))
    up_icpt = np.where(unstable, -hi * lo / width, 0.0)
    low_slope = np.where(on, 1.0, np.where(unstable & (hi > -lo), 1.0, 0.0))
    return up_slope, up_icpt, low_slope


def _affine(layer: list[Expr], w: np.ndarray, b: float) -> Expr:
    expr: Expr = b
    for x, wi in zip(layer, w, strict=True):
        wi = float(wi)
        if wi == 0.0 or (isinstance(x, float) and x == 0.0):
            continue
        expr = expr + wi * x
    return expr
