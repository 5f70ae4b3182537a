"""Regression trees and tree ensembles as MILP constraints, pruned by the fixed context.

Pruning: a tree is walked from the root with the fixed inputs substituted and the decision inputs' bounds
known; a split on a fixed input, or one the bounds decide, keeps one branch only. What is left are the
reachable leaves and the free splits between them. Sides are decided as ``predict`` decides them
(``splits.py``: float32 comparison for scikit-learn's trees, float64 for HistGradientBoosting, NaN by the
node's ``missing_go_to_left``): a split is keyed by ``b``, the largest float64 sent left; the left branch is
``x <= b`` and the right branch ``x >= R``, ``R = nextafter(b) + margin`` (or the bound ``ub`` when it lies in
that gap).

Formulation (threshold indicators shared by every tree of every model, after Misic 2020 "Optimization of tree
ensembles", with an exact link to x instead of big-M rows): for each decision feature f, the distinct
thresholds ``t_1 < ... < t_K`` of all free splits on it get binaries ``y_fj = [x_f <= t_j]``, ordered
``y_f1 <= ... <= y_fK``; with ``w_j = y_j - y_(j-1)`` (``y_0 = 0``, ``y_(K+1) = 1``) selecting the piece
``[L_j, H_j]`` (``L_1 = lb``, ``L_j = R_(j-1)``, ``H_j = t_j``, ``H_(K+1) = ub``; ``t_j`` are the
boundaries ``b`` above):

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

import math
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.tree import DecisionTreeRegressor

from optimizer.embedding.errors import UnsupportedEstimatorError
from optimizer.embedding.features import Expr, Feature
from optimizer.embedding.splits import left_inset, left_max_array, right_start


@dataclass
class FlatTree:
    """A tree as arrays: children (-1 = leaf), split feature, threshold, leaf value, where NaN goes, and the
    dtype ``predict`` compares in (``splits.py``)."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    value: np.ndarray
    missing_left: np.ndarray
    dtype: type = np.float64

    def __post_init__(self) -> None:
        bound = left_max_array(self.threshold, self.dtype)  # the largest float64 sent left, per node
        self.nodes = (self.left.tolist(), self.right.tolist(), self.feature.tolist(),  # plain lists: walking
                      bound.tolist(), self.value.tolist(), self.missing_left.astype(bool).tolist())  # them is
        # ~5x faster from Python

    @classmethod
    def from_sklearn(cls, tree, output: int = 0, scale: float = 1.0) -> FlatTree:  # noqa: ANN001
        """A fitted DecisionTreeRegressor's tree (``output``: which of its outputs; leaf values times ``scale``)."""
        t = tree.tree_
        return cls(t.children_left, t.children_right, t.feature, t.threshold, t.value[:, output, 0] * scale,
                   np.asarray(t.missing_go_to_left), np.float32)

    @classmethod
    def from_hgb(cls, predictor) -> FlatTree:  # noqa: ANN001
        n = predictor.nodes
        leaf = n["is_leaf"].astype(bool)
        left = np.where(leaf, -1, n["left"].astype(np.int64))
        right = np.where(leaf, -1, n["right"].astype(np.int64))
        return cls(left, right, n["feature_idx"].astype(int), n["num_threshold"].astype(float),
                   n["value"].astype(float), n["missing_go_to_left"].astype(bool), np.float64)


@dataclass
class PrunedTree:
    """What the fixed context and the decision bounds leave of a tree: the reachable leaves' values in
    depth-first order (left first) and the free splits ``(feature, threshold, first, middle, end)``, where the
    leaves below the split are ``first:end``, those of its left branch ``first:middle``."""

    values: list[float] = field(default_factory=list)
    splits: list[tuple[int, float, int, int, int]] = field(default_factory=list)
    features: set[int] = field(default_factory=set)


def prune(tree: FlatTree, feats: list[Feature]) -> PrunedTree:
    """The reachable leaves and free splits of ``tree`` (see module doc); a split is keyed by its boundary ``b``
    (the largest value sent left)."""
    out = PrunedTree()
    left, right, feature, bound, value, missing_left = tree.nodes
    fixed = [float(f.value) if f.fixed else None for f in feats]

    def walk(node: int, box: dict[int, tuple[float, float]]) -> None:
        while left[node] != -1:  # follow one-sided nodes without recursion
            f, b = feature[node], bound[node]
            x = fixed[f]
            if x is not None:
                go_left = missing_left[node] if math.isnan(x) else x <= b
                node = left[node] if go_left else right[node]
                continue
            lo, hi = box.get(f) or (feats[f].lb, feats[f].ub)
            if hi <= b or lo > b:
                node = left[node] if hi <= b else right[node]
                continue
            first = len(out.values)
            walk(left[node], {**box, f: (lo, b)})
            middle = len(out.values)
            walk(right[node], {**box, f: (right_start(b, feats[f].lb, feats[f].ub), hi)})
            out.splits.append((f, b, first, middle, len(out.values)))
            out.features.add(f)
            return
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

    def __init__(self, feat: Feature, bounds: set[float]) -> None:
        self.feat = feat
        self.t: list[float] = []  # H_j: a boundary inside the previous one's gap shares its indicator (the
        self.index: dict[float, int] = {}  # model excludes that gap anyway), which keeps it exact and free
        starts = [feat.lb]  # of tiny coefficients
        for b in sorted(bounds):
            start = right_start(b, feat.lb, feat.ub)
            if self.t and b < starts[-1]:
                starts[-1] = max(starts[-1], start)
            else:
                self.t.append(b)
                starts.append(start)
            self.index[b] = len(self.t) - 1
        self.starts = np.array(starts)  # L_j, one per piece
        inset = left_inset(feat.lb, feat.ub)  # H_j a hair below b_j: rounding x -> input cannot cross b_j
        self.ends = [max(b - inset, start) for b, start in zip(self.t, starts, strict=False)] + [feat.ub]
        self.y: Expr | None = None  # the ordered indicators y_j, when added
        self.w: Expr | None = None  # the piece binaries w_j, when added

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
        blk.add_component(f"{name}_ub", pyo.Constraint(expr=feat.expr <= self.piecewise(self.ends, pieces)))
        blk.add_component(f"{name}_lb", pyo.Constraint(expr=feat.expr >= self.piecewise(list(self.starts), pieces)))
        return (k if indicators else 0) + (k + 1 if pieces else 0)

    def piecewise(self, per_piece, over_pieces: bool = False) -> Expr:  # noqa: ANN001
        """sum_j v_j w_j for one value per piece: over the piece binaries when asked or when there are no
        indicators; else telescoped over y (w_j = y_j - y_(j-1)), a term only where the value changes."""
        if over_pieces or self.y is None:
            w = self.pieces()
            return sum(float(v) * w[j] for j, v in enumerate(per_piece) if v != 0)
        k, y = len(self.t), self.y
        return float(per_piece[k]) + sum(float(per_piece[j] - per_piece[j + 1]) * y[j] for j in range(k)
                                         if per_piece[j] != per_piece[j + 1])

    def pieces(self) -> Expr:
        """The piece binaries w_j (``add`` must have added them)."""
        if self.w is None:
            raise RuntimeError(f"{self.feat.name}: the piece binaries were not added")
        return self.w

    def indicators(self) -> Expr:
        """The ordered threshold indicators y_j (``add`` must have added them)."""
        if self.y is None:
            raise RuntimeError(f"{self.feat.name}: the threshold indicators were not added")
        return self.y

    def selected(self) -> int:
        """The piece the current solution's binaries choose."""
        if self.w is not None:
            return int(np.argmax([pyo.value(self.w[j]) for j in range(len(self.t) + 1)]))
        y = self.indicators()
        return next((j for j in range(len(self.t)) if pyo.value(y[j]) > 0.5), len(self.t))

    def piece(self, j: int) -> tuple[float, float]:
        """[L_j, H_j] of piece ``j``."""
        return float(self.starts[j]), float(self.ends[j])

    def step_values(self, tree: PrunedTree) -> np.ndarray:
        """The value on each piece of a tree that splits on this input only: its leaves, left to right, lie in
        increasing x, so a piece's leaf is the number of the tree's thresholds below the piece's start."""
        cuts = sorted(t for _, t, _, _, _ in tree.splits)
        return np.asarray(tree.values)[np.searchsorted(cuts, self.starts, side="left")]


def _key(feat: Feature) -> tuple:
    """Inputs of different models are the same decision when name, expression and bounds agree."""
    return feat.name, id(feat.expr), feat.lb, feat.ub


def ensembles(blk: pyo.Block, models: list[TreeModel]) -> tuple[list[Expr], int, list[Thresholds]]:
    """Several tree ensembles over inputs shared by name; returns (one expression per model, binaries, the
    threshold pieces of each decision input).

    One set of threshold indicators per decision input serves every tree of every model (module doc); trees
    on one input merge into one step function per model."""
    pruned = [(k, prune(tree, mdl.feats)) for k, mdl in enumerate(models) for tree in mdl.trees]
    inputs: dict[tuple, Thresholds] = {}
    found: dict[tuple, tuple[Feature, set[float]]] = {}
    for k, tree in pruned:
        for f, t, *_ in tree.splits:
            feat = models[k].feats[f]
            found.setdefault(_key(feat), (feat, set()))[1].add(t)
    shared = {_key(models[k].feats[f]) for k, tree in pruned if len(tree.features) > 1 for f in tree.features}
    n_bin = 0
    for j, (key, (feat, ts)) in enumerate(found.items()):
        inputs[key] = Thresholds(feat, ts)
        n_bin += inputs[key].add(blk, f"y{j}", indicators=key in shared)
    outs: list[Expr] = [m.offset for m in models]
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
    return outs, n_bin, list(inputs.values())


def _add_leaf_weights(blk: pyo.Block, multi: list[tuple[int, PrunedTree]], models: list[TreeModel],
                      inputs: dict[tuple, Thresholds]) -> list[Expr]:
    """Continuous leaf weights tied to the threshold indicators by every free split; returns each tree's value.

    The topmost free split of a tree holds with equality (its two sides sum to one, so no separate
    ``sum z = 1`` row); a side of it with one leaf needs no weight: that leaf's weight is ``y`` or ``1 - y``.
    All trees share one Var and one ConstraintList (fewer components to build and write)."""
    if not multi:
        return []
    first = np.cumsum([0] + [len(tree.values) for _, tree in multi]).tolist()
    blk.z = z = pyo.Var(range(first[-1]), bounds=(0, 1))
    blk.split = rows = pyo.ConstraintList()
    values: list[Expr] = []
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


def _indicator(inputs: dict[tuple, Thresholds], model: TreeModel, split: tuple) -> Expr:
    """The threshold indicator ``[x_f <= t]`` of a free split ``(f, t, ...)``."""
    thr = inputs[_key(model.feats[split[0]])]
    return thr.indicators()[thr.index[split[1]]]


_PARTS_CACHE: weakref.WeakKeyDictionary[Any, tuple[object, dict[int, EnsembleParts]]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class EnsembleParts:
    """A tree model as ``link(offset + weight * sum(trees))``; ``link`` is "identity" or "log" (predict is the
    exp of the raw score: HistGradientBoosting with loss poisson or gamma)."""

    trees: list[FlatTree]
    weight: float
    offset: float
    link: str = "identity"


def tree_ensemble_parts(est, output: int = 0) -> EnsembleParts:  # noqa: ANN001
    """The parts of a supported tree model for its output ``output`` (``EnsembleParts``).

    Read once per fitted estimator (a day's plan embeds the same model for every heat); refitting an estimator
    in place changes its trees, so the cache is keyed by the estimator and its fitted trees' identity."""
    key = _fitted_state(est)
    hit = _PARTS_CACHE.get(est)
    if hit is None or hit[0] is not key:
        hit = (key, {})  # fitted state, parts per output
        _PARTS_CACHE[est] = hit
    if output not in hit[1]:
        hit[1][output] = _read_parts(est, output)
    return hit[1][output]


def _fitted_state(est) -> object:  # noqa: ANN001
    """The object a refit replaces (held by the cache, so it is compared by identity safely)."""
    for attr in ("tree_", "estimators_", "_predictors"):
        if hasattr(est, attr):
            return getattr(est, attr)
    return None


def _read_parts(est, output: int) -> EnsembleParts:  # noqa: ANN001
    if isinstance(est, DecisionTreeRegressor):
        return EnsembleParts([FlatTree.from_sklearn(est, output)], 1.0, 0.0)
    if isinstance(est, RandomForestRegressor | ExtraTreesRegressor):
        trees = [FlatTree.from_sklearn(t, output) for t in est.estimators_]
        return EnsembleParts(trees, 1.0 / len(trees), 0.0)
    if isinstance(est, GradientBoostingRegressor):
        trees = [FlatTree.from_sklearn(t) for t in est.estimators_[:, 0]]
        rate = float(est.learning_rate)
        return EnsembleParts(_gbr_init_trees(est, rate) + trees, rate, _gbr_init_offset(est))
    if isinstance(est, HistGradientBoostingRegressor):
        if getattr(est, "is_categorical_", None) is not None and np.any(est.is_categorical_):
            raise UnsupportedEstimatorError(
                f"HistGradientBoostingRegressor(categorical_features={est.categorical_features!r}) cannot be "
                "embedded: categorical splits are not supported; encode the categories as numbers or one-hot")
        link = "log" if est.loss in ("poisson", "gamma") else "identity"
        trees = [FlatTree.from_hgb(p[0]) for p in est._predictors]
        return EnsembleParts(trees, 1.0, float(np.ravel(est._baseline_prediction)[0]), link)
    raise UnsupportedEstimatorError(f"{type(est).__name__} is not a tree model")


_TREE_INITS = (DecisionTreeRegressor, RandomForestRegressor, ExtraTreesRegressor)


def _gbr_init_trees(est: GradientBoostingRegressor, rate: float) -> list[FlatTree]:
    """A tree-model ``init`` as extra trees of the sum (leaf values divided by the learning rate): its predict
    sees the same float32 inputs as the boosted trees, so it embeds exactly."""
    init = est.init_
    if isinstance(init, str) or isinstance(init, DummyRegressor):
        return []
    if isinstance(init, DecisionTreeRegressor):
        return [FlatTree.from_sklearn(init, scale=1.0 / rate)]
    if isinstance(init, _TREE_INITS):
        return [FlatTree.from_sklearn(t, scale=1.0 / (rate * len(init.estimators_))) for t in init.estimators_]
    raise UnsupportedEstimatorError(
        f"GradientBoostingRegressor(init={est.init!r}) cannot be embedded exactly: scikit-learn evaluates init "
        "on the float32-cast inputs, which a float64 MILP reproduces only for tree models; supported init: None, "
        "'zero', a DummyRegressor, a DecisionTree-, RandomForest- or ExtraTreesRegressor")


def _gbr_init_offset(est: GradientBoostingRegressor) -> float:
    """The constant part of the initial prediction (0 for 'zero' or a tree-model init)."""
    if isinstance(est.init_, str) or not isinstance(est.init_, DummyRegressor):
        return 0.0
    return float(est._raw_predict_init(np.zeros((1, est.n_features_in_)))[0, 0])
