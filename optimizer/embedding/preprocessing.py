"""Pipeline and ColumnTransformer steps: scalers (affine, computed in scikit-learn's order of operations, and
``MinMaxScaler(clip=True)`` as an exact piecewise-linear clip), one-hot encoding of fixed categories,
passthrough and drop.

Clip of an input ``u`` in [L, U] to [a, b] (only the pieces the bounds allow), with binaries ``d_k`` choosing
the piece and ``u = u_1 + u_2 + u_3`` split over them (the convex hull of the three pieces):

    L d_1 <= u_1 <= a d_1,   a d_2 <= u_2 <= b d_2,   b d_3 <= u_3 <= U d_3,   z = a d_1 + u_2 + b d_3
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyomo.environ as pyo
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder, StandardScaler

from optimizer.embedding.errors import UnsupportedEstimatorError
from optimizer.embedding.features import Expr, Feature

SUPPORTED_TRANSFORMERS = ("StandardScaler", "MinMaxScaler (also clip=True)", "OneHotEncoder (fixed categories)",
                          "ColumnTransformer", "'passthrough'", "'drop'", "FunctionTransformer() (identity)")


def transform(step, feats: list[Feature], blk: pyo.Block) -> list[Feature]:  # noqa: ANN001
    """Apply one fitted transformer to the features (components it needs go into ``blk``)."""
    if step == "passthrough" or step is None:
        return feats
    if isinstance(step, StandardScaler):
        return [f.apply(_standardize(step, j)) for j, f in enumerate(feats)]
    if isinstance(step, MinMaxScaler):
        out = [f.apply(_scale_then_shift(float(s), float(m))) for f, s, m in zip(feats, step.scale_, step.min_,
                                                                                  strict=True)]
        if step.clip:
            lo, hi = (float(v) for v in step.feature_range)
            out = [_clip(blk, f, lo, hi) for f in out]
        return out
    if isinstance(step, OneHotEncoder):
        return _one_hot(step, feats)
    if isinstance(step, ColumnTransformer):
        return _columns(step, feats, blk)
    if isinstance(step, Pipeline):
        for _, inner in step.steps:
            feats = transform(inner, feats, blk)
        return feats
    if isinstance(step, FunctionTransformer):
        if step.func is None and step.inverse_func is None:  # what 'passthrough' becomes in a fitted ColumnTransformer
            return feats
        raise UnsupportedEstimatorError(f"FunctionTransformer(func={step.func!r}) cannot be embedded: only the "
                                        "identity (func=None, what 'passthrough' is fitted as) is supported")
    raise UnsupportedEstimatorError(f"{type(step).__name__} cannot be embedded; supported preprocessing: "
                                    f"{', '.join(SUPPORTED_TRANSFORMERS)}")


def _scale_then_shift(scale: float, shift: float) -> Callable[[Expr], Expr]:
    """``x * scale + shift`` as MinMaxScaler.transform computes it (multiply, then add)."""
    def fn(x: Expr) -> Expr:
        return x * scale + shift
    return fn


def _standardize(step: StandardScaler, j: int):  # noqa: ANN202
    """``(x - mean) / scale`` as StandardScaler.transform computes it (subtract, then divide)."""
    mean = float(step.mean_[j]) if step.with_mean else None
    scale = float(step.scale_[j]) if step.with_std else None

    def fn(x):  # noqa: ANN001, ANN202
        if mean is not None:
            x = x - mean
        return x / scale if scale is not None else x

    return fn


def _clip(blk: pyo.Block, f: Feature, a: float, b: float) -> Feature:
    """``min(max(f, a), b)`` exactly (module doc); a no-op where the bounds keep f inside [a, b]."""
    if f.fixed:
        v = float(f.value)
        return Feature(f.name, value=v if math.isnan(v) else float(np.clip(v, a, b)))
    if f.lb >= a and f.ub <= b:
        return f
    if f.ub <= a or f.lb >= b:
        return Feature(f.name, value=a if f.ub <= a else b)
    pieces = [(lo, hi, kind) for lo, hi, kind in ((f.lb, a, "low"), (max(f.lb, a), min(f.ub, b), "mid"),
                                                  (b, f.ub, "high")) if lo < hi]
    k = len([c for c in blk.component_objects(pyo.Var, descend_into=False) if c.local_name.startswith("clip")])
    d = pyo.Var(range(len(pieces)), domain=pyo.Binary)
    u = pyo.Var(range(len(pieces)))
    z = pyo.Var(bounds=(max(f.lb, a), min(f.ub, b)))
    blk.add_component(f"clip{k}_piece", d)
    blk.add_component(f"clip{k}_part", u)
    blk.add_component(f"clip{k}_value", z)
    rows = pyo.ConstraintList()
    blk.add_component(f"clip{k}_rows", rows)
    rows.add(sum(d[i] for i in d) == 1)
    rows.add(f.expr == sum(u[i] for i in u))
    value = 0.0
    for i, (lo, hi, kind) in enumerate(pieces):
        rows.add(u[i] >= lo * d[i])
        rows.add(u[i] <= hi * d[i])
        value = value + (u[i] if kind == "mid" else (a if kind == "low" else b) * d[i])
    rows.add(z == value)
    return Feature(f.name, expr=z, lb=max(f.lb, a), ub=min(f.ub, b))


def _one_hot(enc: OneHotEncoder, feats: list[Feature]) -> list[Feature]:
    out = []
    for j, (f, cats) in enumerate(zip(feats, enc.categories_, strict=True)):
        if not f.fixed:
            raise ValueError(f"categorical input {f.name!r} must be fixed (the heat's known context); one-hot "
                             "encoding of a decision variable is not supported")
        if f.value not in list(cats) and enc.handle_unknown == "error":
            raise ValueError(f"category {f.value!r} of {f.name!r} was not seen in training: {list(cats)}")
        drop = None if enc.drop_idx_ is None else enc.drop_idx_[j]
        for i, c in enumerate(cats):
            if drop is not None and i == drop:
                continue
            out.append(Feature(f"{f.name}_{c}", value=1.0 if c == f.value else 0.0))
    return out


def _columns(ct: ColumnTransformer, feats: list[Feature], blk: pyo.Block) -> list[Feature]:
    """Each fitted transformer on its columns, in ``transformers_`` order (remainder last), as transform does."""
    out: list[Feature] = []
    for name, trans, _ in ct.transformers_:
        idx = ct._transformer_to_input_indices.get(name, [])  # noqa: SLF001 (resolved names, masks, slices)
        if trans == "drop" or not len(idx):
            continue
        out += transform(trans, [feats[i] for i in idx], blk)
    return out
