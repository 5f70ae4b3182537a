"""Regression trees and tree ensembles as MILP constraints, pruned by the fixed context.

Pruning: a tree is walked from the root with the fixed inputs substituted and the decision inputs' bounds
known; a split on a fixed input, or one the bounds decide, keeps one branch only. What is left are the
reachable leaves and the free splits ``x_f <= t`` between them (scikit-learn sends x <= t left, so the right
branch means x >= t + epsilon).

Formulation (threshold indicators shared by every tree of every model, after Misic 2020 "Optimization of tree
ensembles", with an exact link to x instead of big-M rows): for each decision feature f, the distinct
thresholds ``t_1 < ... < t_K`` of all free splits on it get binaries ``y_fj = [x_f <= t_j]``, ordered
``y_f1 <= ... <= y_fK``; with ``w_j = y_j - y_(j-1)`` (``y_0 = 0``, ``y_(K+1) = 1``) selecting the piece
``[L_j, H_j]`` (``L_1 = lb``, ``L_j = t_(j-1) + eps``, ``H_j = t_j``, ``H_(K+1) = ub``):

    x_f <= sum_j H_j w_j,    x_f >= sum_j L_j w_j            (the convex hull of "x_f in one piece")

A tree that still splits on one feature only is a step function of it: its value on each piece is known, so it
adds ``sum_j v_j w_j`` to the output with no variable of its own (all such trees of all models merge). Any other
tree gets continuous leaf weights ``z_l >= 0``, output ``sum_l value_l z_l``, and per free split
``sum_(l left) z_l <= y_fj``, ``sum_(l right) z_l <= 1 - y_fj`` (equalities at the tree's topmost free split,
which makes ``sum_l z_l = 1``): with y binary exactly one leaf survives, the one x falls in. Branching on a y cuts
x's range in two for every tree at once, which is what makes this much faster to solve than one binary per leaf
(measured in docs/embedding.md). An input that only step functions use gets one binary ``w_j`` per piece with
``sum_j w_j = 1`` instead of the ordered y (the same LP relaxation; one row instead of K - 1 order rows, which
is cheaper to write and to solve for the many small dosing MILPs).
A long chain (``LONG_CHAIN`` = 64 thresholds or more) gets both: the piece binaries ``w_j`` with ``sum_j w_j = 1``
link x, and the indicators are their running sums ``y_j = y_(j-1) + w_j`` (binary too, so branching still cuts
x's range for every tree at once). The same LP relaxation, but HiGHS's probing presolve spends far less on it
than on K - 1 order rows: it derives every ``y_i = 1 => y_j = 1`` of an ordered chain (of the order of K^2
implications), which took ~60 % of the solve at 200 trees x depth 5 (measured in docs/embedding.md). Short
chains keep the order rows, which are cheaper there.
A tree whose context leaves one leaf is a constant. Ensembles add the trees up (mean for forests, init +
learning_rate * sum for gradient boosting; HistGradientBoosting's leaves already include the rate).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

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

    def __post_init__(self) -> None:
        self.nodes = (self.left.tolist(), self.right.tolist(), self.feature.tolist(),  # plain lists: walking
                      self.threshold.tolist(), self.value.tolist())  # them from Python is ~5x faster

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


@dataclass
class PrunedTree:
    """What the fixed context and the decision bounds leave of a tree: the reachable leaves' values in
    depth-first order (left first) and the free splits ``(feature, threshold, first, middle, end)``, where the
    leaves below the split are ``first:end``, those of its left branch ``first:middle``."""

    values: list[float] = field(default_factory=list)
    splits: list[tuple[int, float, int, int, int]] = field(default_factory=list)
    features: set[int] = field(default_factory=set)


def prune(tree: FlatTree, feats: list[Feature], eps: float) -> PrunedTree:
    """The reachable leaves and free splits of ``tree`` (see module doc)."""
    out = PrunedTree()
    left, right, feature, threshold, value = tree.nodes
    fixed = [float(f.value) if f.fixed else None for f in feats]

    def walk(node: int, box: dict[int, tuple[float, float]]) -> None:
        while left[node] != -1:  # follow one-sided nodes without recursion
            f, t = feature[node], threshold[node]
            if fixed[f] is not None:
                node = left[node] if fixed[f] <= t else right[node]
                continue
            lo, hi = box.get(f) or (feats[f].lb, feats[f].ub)
            if lo <= t and hi >= t + eps:
                first = len(out.values)
                walk(left[node], {**box, f: (lo, t)})
                middle = len(out.values)
                walk(right[node], {**box, f: (t + eps, hi)})
                out.splits.append((f, t, first, middle, len(out.values)))
                out.features.add(f)
                return
            if lo <= t:
                box, node = ({**box, f: (lo, t)} if hi > t else box), left[node]
            else:
                box, node = ({**box, f: (t + eps, hi)} if lo < t + eps else box), right[node]
        out.values.append(value[node])

    walk(0, {})
    return out


@dataclass
class TreeModel:
    """A tree ensemble's parts over its own features: predict = offset + weight * sum(trees)."""

    trees: list[FlatTree]
    weight: float
    offset: float
    feats: list[Feature]


LONG_CHAIN = 64
"""Indicator chains with at least this many thresholds also get piece binaries (module doc)."""


class Thresholds:
    """The shared threshold indicators of one decision input (see module doc)."""

    def __init__(self, feat: Feature, thresholds: set[float], eps: float) -> None:
        self.feat = feat
        self.t: list[float] = []  # H_j: thresholds closer than eps share one indicator (the piece between
        self.index: dict[float, int] = {}  # them holds no x anyway), which leaves the model exact and
        starts = [feat.lb]  # free of tiny coefficients
        for t in sorted(thresholds):
            if self.t and t < self.t[-1] + eps:
                starts[-1] = t + eps
            else:
                self.t.append(t)
                starts.append(t + eps)
            self.index[t] = len(self.t) - 1
        self.starts = np.array(starts)  # L_j, one per piece
        self.y = self.w = None

    def add(self, blk: pyo.Block, name: str, indicators: bool) -> int:
        """Add the binaries and the link to x; returns how many binaries. ``indicators``: ordered y_j (needed
        when trees on several inputs split on this one; long chains also get the piece binaries, module doc);
        otherwise one binary w_j per piece with sum 1 (the same LP relaxation, and one row instead of K - 1
        order rows when only step functions use the input)."""
        k, feat = len(self.t), self.feat
        pieces = not indicators or k >= LONG_CHAIN
        if pieces:
            w = pyo.Var(range(k + 1), domain=pyo.Binary)
            blk.add_component(f"{name}_piece" if indicators else name, w)
            blk.add_component(f"{name}_one", pyo.Constraint(expr=sum(w[j] for j in range(k + 1)) == 1))
        if indicators:
            self.y = y = pyo.Var(range(k), domain=pyo.Binary)
            blk.add_component(name, y)
            if pieces:  # y_j = w_0 + ... + w_j
                blk.add_component(f"{name}_sum", pyo.Constraint(
                    range(k), rule=lambda _b, j: y[j] == (y[j - 1] if j else 0) + w[j]))
            else:
                blk.add_component(f"{name}_order", pyo.Constraint(range(k - 1), rule=lambda _b, j: y[j] <= y[j + 1]))
        self.w = w if pieces else None
        blk.add_component(f"{name}_ub", pyo.Constraint(expr=feat.expr <= self.piecewise([*self.t, feat.ub], pieces)))
        blk.add_component(f"{name}_lb", pyo.Constraint(expr=feat.expr >= self.piecewise(list(self.starts), pieces)))
        return (k if indicators else 0) + (k + 1 if pieces else 0)

    def piecewise(self, per_piece, over_pieces: bool = False) -> object:  # noqa: ANN001
        """sum_j v_j w_j for one value per piece: over the piece binaries when asked or when there are no
        indicators; else telescoped over y (w_j = y_j - y_(j-1)), a term only where the value changes."""
        if over_pieces or self.y is None:
            return sum(float(v) * self.w[j] for j, v in enumerate(per_piece) if v != 0)
        k, y = len(self.t), self.y
        return float(per_piece[k]) + sum(float(per_piece[j] - per_piece[j + 1]) * y[j] for j in range(k)
                                         if per_piece[j] != per_piece[j + 1])

    def step_values(self, tree: PrunedTree) -> np.ndarray:
        """The value on each piece of a tree that splits on this input only: its leaves, left to right, lie in
        increasing x, so a piece's leaf is the number of the tree's thresholds below the piece's start."""
        cuts = sorted(t for _, t, _, _, _ in tree.splits)
        return np.asarray(tree.values)[np.searchsorted(cuts, self.starts, side="left")]


def _key(feat: Feature) -> tuple:
    """Inputs of different models are the same decision when name, expression and bounds agree."""
    return feat.name, id(feat.expr), feat.lb, feat.ub


def ensembles(blk: pyo.Block, models: list[TreeModel], eps: float) -> tuple[list[object], int]:
    """Several tree ensembles over inputs shared by name; returns (one expression per model, binaries).

    One set of threshold indicators per decision input serves every tree of every model (module doc); trees
    on one input merge into one step function per model."""
    pruned = [(k, prune(tree, mdl.feats, eps)) for k, mdl in enumerate(models) for tree in mdl.trees]
    inputs: dict[tuple, Thresholds] = {}
    found: dict[tuple, tuple[Feature, set[float]]] = {}
    for k, tree in pruned:
        for f, t, *_ in tree.splits:
            feat = models[k].feats[f]
            found.setdefault(_key(feat), (feat, set()))[1].add(t)
    shared = {_key(models[k].feats[f]) for k, tree in pruned if len(tree.features) > 1 for f in tree.features}
    n_bin = 0
    for j, (key, (feat, ts)) in enumerate(found.items()):
        inputs[key] = Thresholds(feat, ts, eps)
        n_bin += inputs[key].add(blk, f"y{j}", indicators=key in shared)
    outs: list[object] = [m.offset for m in models]
    steps: dict[tuple[int, tuple], np.ndarray] = {}
    multi: list[tuple[int, PrunedTree]] = []
    for k, tree in pruned:
        mdl, used = models[k], tree.features
        if not used:
            outs[k] = outs[k] + mdl.weight * tree.values[0]
        elif len(used) == 1:
            key = _key(mdl.feats[next(iter(used))])
            vals = mdl.weight * inputs[key].step_values(tree)
            steps[k, key] = steps[k, key] + vals if (k, key) in steps else vals
        else:
            multi.append((k, tree))
    for (k, key), vals in steps.items():
        outs[k] = outs[k] + inputs[key].piecewise(vals)
    for (k, _), value in zip(multi, _add_leaf_weights(blk, multi, models, inputs), strict=True):
        outs[k] = outs[k] + models[k].weight * value
    return outs, n_bin


def _add_leaf_weights(blk: pyo.Block, multi: list[tuple[int, PrunedTree]], models: list[TreeModel],
                      inputs: dict[tuple, Thresholds]) -> list[object]:
    """Continuous leaf weights tied to the threshold indicators by every free split; returns each tree's value.

    The topmost free split of a tree holds with equality (its two sides sum to one, so no separate
    ``sum z = 1`` row); a side of it with one leaf needs no weight: that leaf's weight is ``y`` or ``1 - y``.
    All trees share one Var and one ConstraintList (fewer components to build and write)."""
    if not multi:
        return []
    first = np.cumsum([0] + [len(tree.values) for _, tree in multi]).tolist()
    blk.z = z = pyo.Var(range(first[-1]), bounds=(0, 1))
    blk.split = rows = pyo.ConstraintList()
    values = []
    for (k, tree), base in zip(multi, first, strict=False):
        weight = [z[base + i] for i in range(len(tree.values))]
        top = max(tree.splits, key=lambda s: s[4] - s[2])  # the only split over all leaves
        y_top = _indicator(inputs, models[k], top)
        if top[3] - top[2] == 1:
            weight[top[2]] = y_top
        if top[4] - top[3] == 1:
            weight[top[3]] = 1 - y_top
        for split in tree.splits:
            f, t, lo, mid, hi = split
            y = _indicator(inputs, models[k], split)
            left, right = sum(weight[lo:mid]), sum(weight[mid:hi])
            if split is top:
                if mid - lo > 1:
                    rows.add(left == y)
                if hi - mid > 1:
                    rows.add(right == 1 - y)
            else:
                rows.add(left <= y)
                rows.add(right <= 1 - y)
        values.append(sum(value * w for value, w in zip(tree.values, weight, strict=True)))
    return values


def _indicator(inputs: dict[tuple, Thresholds], model: TreeModel, split: tuple) -> object:
    """The threshold indicator ``[x_f <= t]`` of a free split ``(f, t, ...)``."""
    thr = inputs[_key(model.feats[split[0]])]
    return thr.y[thr.index[split[1]]]


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
