"""Regression trees and tree ensembles as MILP constraints, pruned by the fixed context.

Definition: a tree is walked from the root with the fixed inputs substituted and the decision inputs' bounds
known; a split on a fixed input, or one that the bounds decide, keeps one branch only. The reachable leaves
``L`` each carry a box ``[lo_lf, hi_lf]`` per decision feature f (scikit-learn sends x <= t left, so a right
branch means x >= t + epsilon).

Formulation (one binary per reachable leaf, the disaggregated box constraints):

    sum_l z_l = 1,    y_tree = sum_l value_l z_l,
    x_f <= sum_l min(hi_lf, ub_f) z_l,    x_f >= sum_l max(lo_lf, lb_f) z_l     for every decision feature f

so each decision feature lies in the chosen leaf's interval (exact for binary z) with no big-M constant; the
bounds are convex combinations of leaf boxes, tighter than per-leaf big-M rows (not the full convex hull of the
disjunction, which would need a copy of x per leaf). A tree whose context leaves one leaf is a constant;
ensembles add the trees up (mean for forests, init + learning_rate * sum for gradient boosting;
HistGradientBoosting's leaves already include the rate).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from optimizer.embedding.features import Feature


@dataclass
class FlatTree:
    """A tree as arrays: children (-1 = leaf), split feature, threshold, leaf value."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    value: np.ndarray

    @classmethod
    def from_sklearn(cls, tree) -> FlatTree:  # noqa: ANN001
        t = tree.tree_
        return cls(t.children_left, t.children_right, t.feature, t.threshold, t.value[:, 0, 0])

    @classmethod
    def from_hgb(cls, predictor) -> FlatTree:  # noqa: ANN001
        n = predictor.nodes
        leaf = n["is_leaf"].astype(bool)
        left = np.where(leaf, -1, n["left"].astype(np.int64))
        right = np.where(leaf, -1, n["right"].astype(np.int64))
        return cls(left, right, n["feature_idx"].astype(int), n["num_threshold"].astype(float),
                   n["value"].astype(float))


def reachable_leaves(tree: FlatTree, feats: list[Feature], eps: float) -> list[tuple[float, dict[int, list[float]]]]:
    """(leaf value, {feature: [lo, hi]}) for every leaf the fixed inputs and bounds allow."""
    out = []
    stack = [(0, {})]
    while stack:
        node, box = stack.pop()
        if tree.left[node] == -1:
            out.append((float(tree.value[node]), box))
            continue
        f, t = int(tree.feature[node]), float(tree.threshold[node])
        feat = feats[f]
        if feat.fixed:
            stack.append((tree.left[node] if float(feat.value) <= t else tree.right[node], box))
            continue
        lo, hi = box.get(f, [feat.lb, feat.ub])
        if lo <= t:  # left branch x <= t possible
            stack.append((tree.left[node], {**box, f: [lo, min(hi, t)]}))
        if hi >= t + eps:  # right branch x >= t + eps possible
            stack.append((tree.right[node], {**box, f: [max(lo, t + eps), hi]}))
    return out


def add_tree(blk: pyo.Block, name: str, tree: FlatTree, feats: list[Feature], eps: float) -> tuple[object, int]:
    """Add one tree; returns (its output: number or expression, binaries added)."""
    return add_leaves(blk, name, reachable_leaves(tree, feats, eps), feats)


def add_leaves(blk: pyo.Block, name: str, leaves: list[tuple[float, dict[int, list[float]]]],
               feats: list[Feature]) -> tuple[object, int]:
    """One binary per leaf (see module doc); returns (output expression, binaries added)."""
    if len(leaves) == 1:
        return leaves[0][0], 0
    idx = list(range(len(leaves)))
    z = pyo.Var(idx, domain=pyo.Binary)
    blk.add_component(f"{name}_z", z)
    blk.add_component(f"{name}_one", pyo.Constraint(expr=sum(z[i] for i in idx) == 1))
    used = sorted({f for _, box in leaves for f in box})
    for f in used:
        feat = feats[f]
        hi = [min(box.get(f, [feat.lb, feat.ub])[1], feat.ub) for _, box in leaves]
        lo = [max(box.get(f, [feat.lb, feat.ub])[0], feat.lb) for _, box in leaves]
        blk.add_component(f"{name}_ub{f}", pyo.Constraint(expr=feat.expr <= sum(hi[i] * z[i] for i in idx)))
        blk.add_component(f"{name}_lb{f}", pyo.Constraint(expr=feat.expr >= sum(lo[i] * z[i] for i in idx)))
    return sum(leaves[i][0] * z[i] for i in idx), len(idx)


@dataclass
class TreeModel:
    """A tree ensemble's parts over its own features: predict = offset + weight * sum(trees)."""

    trees: list[FlatTree]
    weight: float
    offset: float
    feats: list[Feature]


Step = tuple[float, float, float]  # (value, lo, hi) of one leaf of a tree that depends on one input only


def merge_steps(groups: list[tuple[int, float, list[Step]]], n_models: int, feat: Feature,
                eps: float) -> tuple[list[list[float]], np.ndarray]:
    """Trees that depend on the single free input ``feat`` are step functions of it: their weighted sums, one
    per model, are step functions on the union of all their thresholds. ``groups`` holds (model index, model
    weight, leaves) per tree. Returns the pieces ``[lo, hi]`` and the values, shape (n_models, pieces)."""
    cuts = sorted({hi for _, _, leaves in groups for _, _, hi in leaves if hi < feat.ub})
    pieces, lo = [], feat.lb
    for hi in [*cuts, feat.ub]:
        if lo <= hi:
            pieces.append([lo, hi])
        lo = hi + eps
    starts = np.array([lo for lo, _ in pieces])
    totals = np.zeros((n_models, len(pieces)))
    for k, weight, leaves in groups:  # a tree's leaves tile [lb, ub]: the piece's start finds the leaf holding it
        order = sorted(leaves, key=lambda leaf: leaf[1])
        leaf_lo = np.array([lo for _, lo, _ in order])
        values = np.array([v for v, _, _ in order])
        totals[k] += weight * values[np.searchsorted(leaf_lo, starts, side="right") - 1]
    return pieces, totals


def add_steps(blk: pyo.Block, name: str, feat: Feature, pieces: list[list[float]],
              totals: np.ndarray) -> tuple[list[object], int]:
    """One binary per piece, shared by every model's step function of ``feat`` (see ``add_leaves``); returns
    (one output expression per model, binaries added). Sharing is the convex hull of the joint step function:
    tighter than one set of binaries per model, which the LP relaxation could choose differently."""
    if len(pieces) == 1:
        return [float(t[0]) for t in totals], 0
    idx = list(range(len(pieces)))
    z = pyo.Var(idx, domain=pyo.Binary)
    blk.add_component(f"{name}_z", z)
    blk.add_component(f"{name}_one", pyo.Constraint(expr=sum(z[i] for i in idx) == 1))
    hi_expr = sum(hi * z[i] for i, (_, hi) in enumerate(pieces))
    lo_expr = sum(lo * z[i] for i, (lo, _) in enumerate(pieces))
    blk.add_component(f"{name}_ub", pyo.Constraint(expr=feat.expr <= hi_expr))
    blk.add_component(f"{name}_lb", pyo.Constraint(expr=feat.expr >= lo_expr))
    outs = [sum(float(v) * z[i] for i, v in enumerate(row) if v != 0.0) if np.any(row) else 0.0 for row in totals]
    return outs, len(idx)


def ensembles(blk: pyo.Block, models: list[TreeModel], eps: float) -> tuple[list[object], int]:
    """Several tree ensembles over inputs shared by name; returns (one expression per model, binaries).

    After pruning by the fixed context, trees that still depend on one free input only are merged per input
    into one step function (one binary per piece of the union of their thresholds instead of one per leaf of
    every tree), across all the models: exact, and the usual case for boosting constrained to be additive in
    the decisions. Other trees get one binary per reachable leaf (``add_leaves``)."""
    outs: list[object] = [m.offset for m in models]
    n_bin = 0
    steps: dict[tuple, tuple[Feature, list]] = {}
    for k, mdl in enumerate(models):
        for t, tree in enumerate(mdl.trees):
            leaves = reachable_leaves(tree, mdl.feats, eps)
            used = {f for _, box in leaves for f in box}
            if len(leaves) > 1 and len(used) == 1 and all(len(box) == 1 for _, box in leaves):
                f = used.pop()
                feat = mdl.feats[f]
                key = (feat.name, id(feat.expr), feat.lb, feat.ub)
                steps.setdefault(key, (feat, []))[1].append((k, mdl.weight, [(v, *box[f]) for v, box in leaves]))
                continue
            val, nb = add_leaves(blk, f"m{k}t{t}", leaves, mdl.feats)
            outs[k] = outs[k] + mdl.weight * val
            n_bin += nb
    for j, (feat, groups) in enumerate(steps.values()):
        vals, nb = add_steps(blk, f"s{j}", feat, *merge_steps(groups, len(models), feat, eps))
        outs = [o + v for o, v in zip(outs, vals, strict=True)]
        n_bin += nb
    return outs, n_bin


def ensemble(blk: pyo.Block, trees: list[FlatTree], feats: list[Feature], eps: float, weight: float,
             offset: float) -> tuple[object, int]:
    """offset + weight * sum of trees (one model; see ``ensembles``); returns (expression, binaries)."""
    outs, n_bin = ensembles(blk, [TreeModel(trees, weight, offset, feats)], eps)
    return outs[0], n_bin


_PARTS_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def tree_ensemble_parts(est) -> tuple[list[FlatTree], float, float]:  # noqa: ANN001
    """(trees, weight, offset) of a supported tree model so that predict = offset + weight * sum(trees).

    Read once per fitted estimator (a day's plan embeds the same model for every heat); refitting an estimator
    in place changes its trees, so the cache is keyed by the estimator and its fitted trees' identity."""
    key = _fitted_state(est)
    hit = _PARTS_CACHE.get(est)
    if hit is not None and hit[0] is key:
        return hit[1]
    parts = _read_parts(est)
    _PARTS_CACHE[est] = (key, parts)
    return parts


def _fitted_state(est) -> object:  # noqa: ANN001
    """The object a refit replaces (held by the cache, so it is compared by identity safely)."""
    for attr in ("tree_", "estimators_", "_predictors"):
        if hasattr(est, attr):
            return getattr(est, attr)
    return None


def _read_parts(est) -> tuple[list[FlatTree], float, float]:  # noqa: ANN001
    from sklearn.ensemble import (
        ExtraTreesRegressor,
        GradientBoostingRegressor,
        HistGradientBoostingRegressor,
        RandomForestRegressor,
    )
    from sklearn.tree import DecisionTreeRegressor

    if isinstance(est, DecisionTreeRegressor):
        return [FlatTree.from_sklearn(est)], 1.0, 0.0
    if isinstance(est, RandomForestRegressor | ExtraTreesRegressor):
        trees = [FlatTree.from_sklearn(t) for t in est.estimators_]
        return trees, 1.0 / len(trees), 0.0
    if isinstance(est, GradientBoostingRegressor):
        trees = [FlatTree.from_sklearn(t) for t in est.estimators_[:, 0]]
        init = float(est._raw_predict_init(np.zeros((1, est.n_features_in_)))[0, 0])
        return trees, float(est.learning_rate), init
    if isinstance(est, HistGradientBoostingRegressor):
        if getattr(est, "is_categorical_", None) is not None and np.any(est.is_categorical_):
            raise ValueError("HistGradientBoostingRegressor with categorical features cannot be embedded yet")
        trees = [FlatTree.from_hgb(p[0]) for p in est._predictors]
        return trees, 1.0, float(np.ravel(est._baseline_prediction)[0])
    raise TypeError(type(est).__name__)


def check_finite(feats: list[Feature]) -> None:
    for f in feats:
        if not f.fixed and not (math.isfinite(f.lb) and math.isfinite(f.ub)):
            raise ValueError(f"input {f.name!r} needs finite bounds")
