"""``add_predictor_constr``: embed a fitted scikit-learn regressor in a Pyomo model.

    handle = add_predictor_constr(block, estimator, inputs, output, fixed_inputs=None, epsilon=1e-6)
    handles = add_predictors_constr(block, estimators, inputs, outputs)   # several models, shared inputs

``inputs`` is a list in the estimator's feature order or a dict ``{feature name: value or Pyomo var/expression}``
(checked against ``feature_names_in_``). Numbers and strings are the heat's known context and are substituted
at build time; Pyomo expressions are decisions and need finite bounds. Everything added lives in a new
sub-block; ``output == prediction`` links it to the caller's model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from optimizer.embedding.errors import UnsupportedEstimatorError
from optimizer.embedding.features import Feature, make_feature
from optimizer.embedding.mlp import add_mlp
from optimizer.embedding.preprocessing import SUPPORTED_TRANSFORMERS, transform
from optimizer.embedding.trees import TreeModel, ensemble, ensembles, tree_ensemble_parts

SUPPORTED_ESTIMATORS = (
    "LinearRegression", "Ridge", "RidgeCV", "Lasso", "LassoCV", "ElasticNet", "ElasticNetCV",
    "DecisionTreeRegressor", "RandomForestRegressor", "ExtraTreesRegressor", "GradientBoostingRegressor",
    "HistGradientBoostingRegressor", "MLPRegressor (relu)",
    "Pipeline of those with " + ", ".join(SUPPORTED_TRANSFORMERS),
)
LINEAR = ("LinearRegression", "Ridge", "RidgeCV", "Lasso", "LassoCV", "ElasticNet", "ElasticNetCV")
TREES = ("DecisionTreeRegressor", "RandomForestRegressor", "ExtraTreesRegressor", "GradientBoostingRegressor",
         "HistGradientBoostingRegressor")


@dataclass
class PredictorHandle:
    """What ``add_predictor_constr`` added: the sub-block, the prediction expression and its size."""

    block: pyo.Block
    estimator: Any
    features: list[Feature]
    prediction: Any
    n_binaries: int

    @property
    def n_constraints(self) -> int:
        return sum(1 for _ in self.block.component_data_objects(pyo.Constraint, active=True))

    def input_values(self) -> pd.DataFrame:
        """The inputs at the current solution, as one row for ``estimator.predict``."""
        row = {f.name: (f.value if f.fixed else pyo.value(f.expr)) for f in self.features}
        return pd.DataFrame([row])

    def check(self) -> tuple[float, float]:
        """(value in the model, estimator.predict at the same inputs): should agree at any solution."""
        x = self.input_values()
        if not hasattr(self.estimator, "feature_names_in_"):
            x = x.to_numpy()
        return float(pyo.value(self.prediction)), float(self.estimator.predict(x)[0])


def add_predictor_constr(block: pyo.Block, estimator: BaseEstimator, inputs: Sequence | Mapping, output: Any,
                         fixed_inputs: Mapping[str, Any] | None = None, epsilon: float = 1e-6,
                         name: str | None = None) -> PredictorHandle:
    """Add constraints making ``output`` equal the estimator's prediction at ``inputs`` (see module doc)."""
    _check_fitted(estimator)
    feats = _features(estimator, inputs, fixed_inputs or {})
    sub = pyo.Block(concrete=True)
    block.add_component(name or _unique(block, "predictor"), sub)
    steps = estimator.steps if isinstance(estimator, Pipeline) else [("model", estimator)]
    current = feats
    for _, step in steps[:-1]:
        current = transform(step, current)
    prediction, n_bin = _final(sub, steps[-1][1], current, epsilon)
    sub.link = pyo.Constraint(expr=output == prediction)
    return PredictorHandle(sub, estimator, feats, prediction, n_bin)


def add_predictors_constr(block: pyo.Block, estimators: Sequence[BaseEstimator], inputs: Mapping,
                          outputs: Sequence[Any], epsilon: float = 1e-6,
                          name: str | None = None) -> list[PredictorHandle]:
    """Several fitted models over inputs from one mapping (each takes the features it was fitted on), e.g. one
    residual model per element over the same additions: ``outputs[k] == estimators[k]``'s prediction.

    Bare tree ensembles share their step functions: trees that depend on one free input after pruning become
    one step function of that input for all the models together (one binary per piece, shared), which is
    tighter and smaller than one per model. Other models are embedded one by one as ``add_predictor_constr``
    does. Returns one handle per estimator; the tree models' handles share one block (``n_binaries`` is the
    shared block's)."""
    if len(estimators) != len(outputs):
        raise ValueError(f"got {len(estimators)} estimators but {len(outputs)} outputs")
    handles: dict[int, PredictorHandle] = {}
    shared = [k for k, est in enumerate(estimators) if type(est).__name__ in TREES]
    for k, est in enumerate(estimators):
        if k not in shared:
            handles[k] = add_predictor_constr(block, est, _own_inputs(est, inputs), outputs[k], epsilon=epsilon)
    if shared:
        sub = pyo.Block(concrete=True)
        block.add_component(name or _unique(block, "predictors"), sub)
        models, feats_of = [], {}
        for k in shared:
            _check_fitted(estimators[k])
            feats_of[k] = _features(estimators[k], _own_inputs(estimators[k], inputs), {})
            _numeric_context(feats_of[k])
            models.append(TreeModel(*tree_ensemble_parts(estimators[k]), feats_of[k]))
        preds, n_bin = ensembles(sub, models, epsilon)
        sub.link = pyo.Constraint(range(len(shared)), rule=lambda _b, j: outputs[shared[j]] == preds[j])
        for j, k in enumerate(shared):
            handles[k] = PredictorHandle(sub, estimators[k], feats_of[k], preds[j], n_bin)
    return [handles[k] for k in range(len(estimators))]


def _own_inputs(est: BaseEstimator, inputs: Mapping) -> dict:
    """The entries of ``inputs`` that ``est`` was fitted on (all of them if it has no feature names)."""
    names = list(getattr(est, "feature_names_in_", []))
    if not names:
        raise ValueError(f"{type(est).__name__} was fitted without feature names; add_predictors_constr needs "
                         "them to pick its inputs")
    missing = [c for c in names if c not in inputs]
    if missing:
        raise ValueError(f"inputs do not give {type(est).__name__}'s features {missing}")
    return {c: inputs[c] for c in names}


def _numeric_context(feats: list[Feature]) -> None:
    for f in feats:
        if f.fixed and not isinstance(f.value, int | float | np.floating | np.integer):
            raise ValueError(f"input {f.name!r} = {f.value!r} is not numeric; encode categories first")


def _check_fitted(est: BaseEstimator) -> None:
    try:
        check_is_fitted(est)
    except NotFittedError as exc:
        raise NotFittedError(f"{type(est).__name__} is not fitted; call fit before embedding it") from exc
    except TypeError:
        raise UnsupportedEstimatorError(_unsupported(est)) from None


def _features(est: BaseEstimator, inputs: Sequence | Mapping, fixed: Mapping[str, Any]) -> list[Feature]:
    names = list(getattr(est, "feature_names_in_", []))
    n = getattr(est, "n_features_in_", None)
    if isinstance(inputs, Mapping):
        given = {**dict(inputs), **dict(fixed)}
        if not names:
            raise ValueError(f"{type(est).__name__} was fitted without feature names; pass inputs as a list in "
                             "feature order")
        missing = [c for c in names if c not in given]
        extra = [c for c in given if c not in names]
        if missing or extra:
            raise ValueError(f"inputs do not match {type(est).__name__}'s features: missing {missing}, "
                             f"unknown {extra}")
        return [make_feature(c, given[c]) for c in names]
    inputs = list(inputs)
    if n is not None and len(inputs) != n:
        raise ValueError(f"got {len(inputs)} inputs, but {type(est).__name__} is expecting {n} features")
    labels = names or [f"x{i}" for i in range(len(inputs))]
    return [make_feature(c, fixed.get(c, x)) for c, x in zip(labels, inputs, strict=True)]


def _final(sub: pyo.Block, est: Any, feats: list[Feature], eps: float) -> tuple[Any, int]:
    kind = type(est).__name__
    if kind in LINEAR:
        coef = np.ravel(est.coef_)
        expr = float(np.ravel([est.intercept_])[0])
        for f, c in zip(feats, coef, strict=True):
            if c != 0.0:
                expr = expr + float(c) * (float(f.value) if f.fixed else f.expr)
        return expr, 0
    if kind in TREES:
        _numeric_context(feats)
        trees, weight, offset = tree_ensemble_parts(est)
        return ensemble(sub, trees, feats, eps, weight, offset)
    if kind == "MLPRegressor":
        return add_mlp(sub, est, feats)
    raise UnsupportedEstimatorError(_unsupported(est))


def _unsupported(est: Any) -> str:
    return f"{type(est).__name__} cannot be embedded; supported: {', '.join(SUPPORTED_ESTIMATORS)}"


def _unique(block: pyo.Block, base: str) -> str:
    k = 0
    while block.component(f"{base}{k}") is not None:
        k += 1
    return f"{base}{k}"
