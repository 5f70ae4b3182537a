"""``add_predictor_constr``: embed a fitted scikit-learn regressor in a Pyomo model.

    handle = add_predictor_constr(block, estimator, inputs, output, fixed_inputs=None, output_index=None)
    handles = add_predictors_constr(block, estimators, inputs, outputs)   # several models, shared inputs
    solve with handle.solver_options (HiGHS tolerances the exactness needs), then verify(handles)

``inputs`` is a list in the estimator's feature order or a dict ``{feature name: value or Pyomo var/expression}``
(checked against ``feature_names_in_``). Numbers and strings are the heat's known context and are substituted
at build time; Pyomo expressions are decisions and need finite bounds. Everything added lives in a new
sub-block; ``output == prediction`` links it to the caller's model. The embedder is found by type
(registry.py); a multi-output model embeds the output ``output_index``; a model whose predict is
``exp(raw)`` (HistGradientBoosting poisson/gamma) is refused unless ``log_output=True``, which makes
``output == log(predict)`` exactly (use it where the program is monotone in the prediction).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from optimizer.embedding.errors import UnsupportedEstimatorError
from optimizer.embedding.features import Feature, make_feature
from optimizer.embedding.preprocessing import transform
from optimizer.embedding.registry import (
    Embedded,
    check_numeric,
    embed_trees,
    find_embedder,
    n_outputs,
    unsupported,
)
from optimizer.embedding.splits import SOLVER_OPTIONS
from optimizer.embedding.trees import Thresholds, TreeModel, ensembles, tree_ensemble_parts


@dataclass
class PredictorHandle:
    """What ``add_predictor_constr`` added: the sub-block, the prediction expression, its size, which output it
    is, the link (predict = exp(prediction) for "log"), the HiGHS options the exactness needs and the
    decisions' threshold pieces (``repair``)."""

    block: pyo.Block
    estimator: Any
    features: list[Feature]
    prediction: Any
    n_binaries: int
    output_index: int = 0
    link: str = "identity"
    solver_options: dict[str, float] = field(default_factory=lambda: dict(SOLVER_OPTIONS))
    pieces: list[Thresholds] = field(default_factory=list)

    @property
    def n_constraints(self) -> int:
        return sum(1 for _ in self.block.component_data_objects(pyo.Constraint, active=True))

    def input_values(self) -> pd.DataFrame:
        """The inputs at the current solution, as one row for ``estimator.predict``. A decision the solver left
        without a value appears in no constraint, so the model does not depend on it: its lower bound stands in."""
        row = {f.name: f.value if f.fixed else _value_or(f.expr, f.lb) for f in self.features}
        return pd.DataFrame([row])

    def model_value(self) -> float:
        """The embedded model's value at the current solution, in ``predict``'s space."""
        v = float(pyo.value(self.prediction))
        return math.exp(v) if self.link == "log" else v

    def predicted(self) -> float:
        """``estimator.predict`` at the current solution's inputs (this handle's output).

        On one OpenMP thread: HistGradientBoosting's predict runs OpenMP, and GNU OpenMP hangs in a process forked
        from one that already used it (the dosing heat pool's workers, once the parent fitted or predicted with
        such a model); one row needs no threads anyway."""
        frame = self.input_values()
        x = frame if hasattr(self.estimator, "feature_names_in_") else frame.to_numpy()
        with threadpool_limits(limits=1, user_api="openmp"):
            y = self.estimator.predict(x)
        return float(np.asarray(y).reshape(1, -1)[0, self.output_index])

    def check(self) -> tuple[float, float]:
        """(value in the model, estimator.predict at the same inputs): equal at any solution (``verify``)."""
        return self.model_value(), self.predicted()


def _value_or(expr: Any, default: float) -> float:
    v = pyo.value(expr, exception=False)
    return default if v is None else float(v)


def add_predictor_constr(block: pyo.Block, estimator: BaseEstimator, inputs: Sequence | Mapping, output: Any,
                         fixed_inputs: Mapping[str, Any] | None = None, name: str | None = None,
                         output_index: int | None = None, log_output: bool = False) -> PredictorHandle:
    """Add constraints making ``output`` equal the estimator's prediction at ``inputs`` (see module doc)."""
    _check_fitted(estimator)
    feats = _features(estimator, inputs, fixed_inputs or {})
    steps = estimator.steps if isinstance(estimator, Pipeline) else [("model", estimator)]
    final = steps[-1][1]
    embed = find_embedder(final)  # refuse before adding anything
    k = _output_index(final, output_index)
    sub = pyo.Block(concrete=True)
    block.add_component(name or _unique(block, "predictor"), sub)
    current = feats
    for _, step in steps[:-1]:
        current = transform(step, current, sub)
    check_numeric(final, current, nan_ok=embed is embed_trees)
    if any(f.fixed and math.isnan(float(f.value)) for f in current):
        _check_predict_takes_nan(estimator, feats)
    got: Embedded = embed(sub, final, current, k)
    _check_link(final, got.link, log_output)
    sub.link = pyo.Constraint(expr=output == got.expr)
    return PredictorHandle(sub, estimator, feats, got.expr, got.n_binaries, k, got.link, pieces=got.pieces)


def add_predictors_constr(block: pyo.Block, estimators: Sequence[BaseEstimator], inputs: Mapping,
                          outputs: Sequence[Any], name: str | None = None) -> list[PredictorHandle]:
    """Several fitted models over inputs from one mapping (each takes the features it was fitted on), e.g. one
    residual model per element over the same additions: ``outputs[k] == estimators[k]``'s prediction.

    Bare single-output tree models with an identity link share their step functions: trees that depend on one
    free input after pruning become one step function of that input for all the models together (one binary
    per piece, shared), which is tighter and smaller than one per model. Other models are embedded one by one
    as ``add_predictor_constr`` does. Returns one handle per estimator; the tree models' handles share one
    block (``n_binaries`` is the shared block's)."""
    if len(estimators) != len(outputs):
        raise ValueError(f"got {len(estimators)} estimators but {len(outputs)} outputs")
    handles: dict[int, PredictorHandle] = {}
    shared = [k for k, est in enumerate(estimators) if _shareable(est)]
    for k, est in enumerate(estimators):
        if k not in shared:
            handles[k] = add_predictor_constr(block, est, _own_inputs(est, inputs), outputs[k])
    if shared:
        sub = pyo.Block(concrete=True)
        block.add_component(name or _unique(block, "predictors"), sub)
        models, feats_of = [], {}
        for k in shared:
            _check_fitted(estimators[k])
            feats_of[k] = _features(estimators[k], _own_inputs(estimators[k], inputs), {})
            check_numeric(estimators[k], feats_of[k], nan_ok=True)
            if any(f.fixed and math.isnan(float(f.value)) for f in feats_of[k]):
                _check_predict_takes_nan(estimators[k], feats_of[k])
            parts = tree_ensemble_parts(estimators[k])
            models.append(TreeModel(parts.trees, parts.weight, parts.offset, feats_of[k]))
        preds, n_bin, pieces = ensembles(sub, models)
        sub.link = pyo.Constraint(range(len(shared)), rule=lambda _b, j: outputs[shared[j]] == preds[j])
        for j, k in enumerate(shared):
            handles[k] = PredictorHandle(sub, estimators[k], feats_of[k], preds[j], n_bin, pieces=pieces)
    return [handles[k] for k in range(len(estimators))]


def _shareable(est: Any) -> bool:
    """A bare single-output tree model with an identity link (add_predictors_constr merges those)."""
    if isinstance(est, Pipeline):
        return False
    try:
        if find_embedder(est) is not embed_trees or n_outputs(est) != 1:
            return False
        return tree_ensemble_parts(est).link == "identity"
    except (UnsupportedEstimatorError, AttributeError):
        return False  # embedded alone, which raises the proper error


def _output_index(est: Any, index: int | None) -> int:
    n = n_outputs(est)
    if index is None:
        if n > 1:
            raise ValueError(f"{type(est).__name__} predicts {n} outputs; pass output_index (0 to {n - 1}) to "
                             "embed one of them")
        return 0
    if not 0 <= index < n:
        raise ValueError(f"output_index={index} is out of range: {type(est).__name__} predicts {n} output(s)")
    return index


def _check_link(est: Any, link: str, log_output: bool) -> None:
    if link == "log" and not log_output:
        raise UnsupportedEstimatorError(
            f"{type(est).__name__}(loss={getattr(est, 'loss', '?')!r}) predicts exp(raw score), which a MILP "
            "cannot hold exactly; pass log_output=True to embed log(predict) exactly (exp is monotone: bound the "
            "output by log(target))")
    if link != "log" and log_output:
        raise ValueError(f"log_output=True is for models that predict exp(raw score); {type(est).__name__} "
                         "predicts its raw score")


def _check_predict_takes_nan(est: Any, feats: list[Feature]) -> None:
    """A NaN in the context is embedded as predict routes it; refuse it where predict itself refuses NaN."""
    row = {f.name: (f.value if f.fixed else f.lb) for f in feats}
    x = pd.DataFrame([row]) if hasattr(est, "feature_names_in_") else np.array([list(row.values())], dtype=float)
    try:
        with threadpool_limits(limits=1, user_api="openmp"):
            est.predict(x)
    except ValueError as exc:
        nan = [f.name for f in feats if f.fixed and isinstance(f.value, float) and math.isnan(f.value)]
        raise ValueError(f"inputs {nan} are NaN, which {type(est).__name__}.predict refuses: {exc}") from None


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


def _check_fitted(est: BaseEstimator) -> None:
    try:
        check_is_fitted(est)
    except NotFittedError as exc:
        raise NotFittedError(f"{type(est).__name__} is not fitted; call fit before embedding it") from exc
    except TypeError:
        raise UnsupportedEstimatorError(unsupported(est)) from None


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
    unknown = [c for c in fixed if c not in labels]
    if unknown:
        raise ValueError(f"fixed_inputs {unknown} are not features of {type(est).__name__}; its features are "
                         f"{labels}")
    return [make_feature(c, fixed.get(c, x)) for c, x in zip(labels, inputs, strict=True)]


def _unique(block: pyo.Block, base: str) -> str:
    k = 0
    while block.component(f"{base}{k}") is not None:
        k += 1
    return f"{base}{k}"
