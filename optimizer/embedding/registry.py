"""Which embedder takes an estimator: its exact type, then its base classes (the MRO), as gurobi-machinelearning
dispatches; at each level a class registered with ``register_predictor`` comes before the built-in one.

    register_predictor(MyRegressor, embed_my_regressor)    # embed(block, est, feats, output) -> Embedded

A subclass of ``Ridge`` is embedded as a ``Ridge``; a user's class gets its own embedder, or overrides ours.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.linear_model import ElasticNet, ElasticNetCV, Lasso, LassoCV, LinearRegression, Ridge, RidgeCV
from sklearn.neural_network import MLPRegressor
from sklearn.tree import DecisionTreeRegressor

from optimizer.embedding.errors import UnsupportedEstimatorError
from optimizer.embedding.features import Feature
from optimizer.embedding.mlp import add_mlp
from optimizer.embedding.trees import Thresholds, TreeModel, ensembles, tree_ensemble_parts


@dataclass
class Embedded:
    """What an embedder returns: the prediction (a Pyomo expression, in the estimator's raw space when ``link``
    is "log": predict = exp(expr)), how many binaries it added and the threshold pieces of its decisions (for
    ``repair``)."""

    expr: Any
    n_binaries: int
    link: str = "identity"
    pieces: list[Thresholds] = field(default_factory=list)


Embedder = Callable[[pyo.Block, Any, list[Feature], int], Embedded]
_USER: dict[type, Embedder] = {}


def register_predictor(cls: type, embed: Embedder) -> None:
    """Embed instances of ``cls`` (and its subclasses) with ``embed(block, est, feats, output) -> Embedded``."""
    if not isinstance(cls, type) or not callable(embed):
        raise TypeError(f"register_predictor needs a class and a callable; got {cls!r}, {embed!r}")
    _USER[cls] = embed


def find_embedder(est: Any) -> Embedder:
    """The embedder for ``est`` (module doc), or ``UnsupportedEstimatorError`` listing what is supported."""
    for cls in type(est).__mro__:
        hit = _USER.get(cls) or _BUILTIN.get(cls)
        if hit is not None:
            return hit
    raise UnsupportedEstimatorError(unsupported(est))


def n_outputs(est: Any) -> int:
    """How many outputs ``est.predict`` returns per row."""
    if hasattr(est, "n_outputs_"):
        return int(est.n_outputs_)
    coef = getattr(est, "coef_", None)
    return int(np.shape(coef)[0]) if coef is not None and np.ndim(coef) == 2 else 1


def embed_linear(_blk: pyo.Block, est: Any, feats: list[Feature], output: int) -> Embedded:
    """``intercept + coef . x``; fixed inputs fold into the constant."""
    coef = np.atleast_2d(est.coef_)[output]
    expr: Any = float(np.ravel([est.intercept_])[output] if np.ndim(est.intercept_) else est.intercept_)
    for f, c in zip(feats, coef, strict=True):
        if c != 0.0:
            expr = expr + float(c) * (float(f.value) if f.fixed else f.expr)
    return Embedded(expr, 0)


def embed_trees(blk: pyo.Block, est: Any, feats: list[Feature], output: int) -> Embedded:
    """A tree model (trees.py)."""
    parts = tree_ensemble_parts(est, output)
    outs, n_bin, pieces = ensembles(blk, [TreeModel(parts.trees, parts.weight, parts.offset, feats)])
    return Embedded(outs[0], n_bin, parts.link, pieces)


def embed_mlp(blk: pyo.Block, est: Any, feats: list[Feature], output: int) -> Embedded:
    """A ReLU MLP (mlp.py)."""
    expr, n_bin = add_mlp(blk, est, feats, output)
    return Embedded(expr, n_bin)


_LINEAR = (LinearRegression, Ridge, RidgeCV, Lasso, LassoCV, ElasticNet, ElasticNetCV)
TREE_MODELS = (DecisionTreeRegressor, RandomForestRegressor, ExtraTreesRegressor, GradientBoostingRegressor,
               HistGradientBoostingRegressor)
_BUILTIN: dict[type, Embedder] = {**{c: embed_linear for c in _LINEAR}, **{c: embed_trees for c in TREE_MODELS},
                                  MLPRegressor: embed_mlp}
SUPPORTED_ESTIMATORS = (*(c.__name__ for c in _LINEAR), *(c.__name__ for c in TREE_MODELS), "MLPRegressor (relu)",
                        "their subclasses", "classes added with register_predictor")


def unsupported(est: Any) -> str:
    return f"{type(est).__name__} cannot be embedded; supported: {', '.join(SUPPORTED_ESTIMATORS)}"


def check_numeric(est: Any, feats: list[Feature], nan_ok: bool) -> None:
    """Context must be numbers (categories are encoded by a pipeline step); NaN only where predict routes it."""
    for f in feats:
        if not f.fixed:
            continue
        if not isinstance(f.value, int | float | np.floating | np.integer):
            raise ValueError(f"input {f.name!r} = {f.value!r} is not numeric; encode categories first")
        if math.isnan(float(f.value)) and not nan_ok:
            raise ValueError(f"input {f.name!r} is NaN, which {type(est).__name__}.predict does not accept")
