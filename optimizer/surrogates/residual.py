"""Structure (c): a decision-linear base plus a non-linear residual over context AND decisions.

    final = base(ctx, x) + r(ctx, x)

``base`` is one of the decision-linear structures (its ``linear_terms`` stay exact for the linear part) and
``r`` is a scikit-learn Pipeline (one-hot grade + standardised numeric columns, then a tree ensemble or a ReLU
MLP) fitted on the base's training residuals, on named DataFrame columns so ``feature_names_in_`` exists. The
dosing program embeds ``r`` with ``optimizer.embedding.add_predictor_constr`` with the heat's context fixed, so
only the decision inputs stay free; it costs binaries (tree leaves or ReLU units) per heat and outcome, which is
why a residual structure is only chosen when it beats the best decision-linear one clearly.

The gradient-boosting residual is constrained (``interaction_cst``) to be **additive in the decisions given the
context**: a tree may combine context columns with one decision column, never two decisions. Once the heat's
context is fixed, every tree is a step function of a single decision, and the embedding merges all trees on the
same decision into one step function (one binary per piece instead of per leaf of every tree), which keeps the
per-heat MILP small. Context x decision effects (oxygen lowering Al recovery) stay; decision x decision ones
(FeSi with Al) are left to the mass-balance base.

Small residuals (wt% differences of 1e-3) are scaled to unit size for the MLP's training and the scale is folded
back into its output layer, so the fitted MLP predicts residuals in outcome units with no wrapper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import ExtraTreesRegressor, HistGradientBoostingRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from optimizer.surrogates.structures import Structure, require_fitted

RESIDUAL_KINDS = ("gbm", "forest", "mlp")


def residual_pipeline(kind: str, numeric: list[str], seed: int = 0) -> Pipeline:
    """Preprocessing (grade one-hot, numeric standardised) and a small, embeddable regressor."""
    if kind == "gbm":
        est: Any = HistGradientBoostingRegressor(max_iter=60, max_depth=3, learning_rate=0.1, min_samples_leaf=20,
                                                 random_state=seed)
    elif kind == "forest":
        est = ExtraTreesRegressor(n_estimators=30, max_depth=6, min_samples_leaf=20, random_state=seed, n_jobs=1)
    elif kind == "mlp":
        est = MLPRegressor(hidden_layer_sizes=(16,), activation="relu", alpha=1e-3, max_iter=400,
                           early_stopping=True, random_state=seed)
    else:
        raise ValueError(f"The 'kind' parameter of residual_pipeline must be one of {RESIDUAL_KINDS}. "
                         f"Got {kind!r} instead.")
    pre = ColumnTransformer([("grade", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["grade"]),
                             ("num", StandardScaler(), numeric)])
    return Pipeline([("pre", pre), ("model", est)])


def residual_name(base: str, kind: str) -> str:
    """Name of a structure with a residual model: ``context_recovery`` + ``gbm`` -> ``context_recovery+gbm``."""
    return f"{base}+{kind}"


def is_residual_name(name: str) -> bool:
    """Whether a structure name (:func:`residual_name`) carries a residual model."""
    return "+" in name


class ResidualStructure(RegressorMixin, BaseEstimator):
    """A decision-linear ``base`` plus a residual Pipeline over ``features`` (see module doc). ``decisions``: the
    decision columns, in which the GBM stays additive. Fitted attributes: ``base_`` (a fitted copy of ``base``)
    and ``model_`` (the residual Pipeline)."""

    def __init__(self, base: Structure | None = None, kind: str = "gbm", features: Sequence[str] = (),
                 seed: int = 0, decisions: Sequence[str] | None = None) -> None:
        self.base = base
        self.kind = kind
        self.features = features
        self.seed = seed
        self.decisions = decisions

    @property
    def name(self) -> str:
        if self.base is None:
            raise ValueError("ResidualStructure needs a decision-linear base structure")
        return residual_name(self.base.name, self.kind)

    def fit(self, df: pd.DataFrame, y: np.ndarray) -> Self:
        if self.base is None:
            raise ValueError("ResidualStructure needs a decision-linear base structure")
        base: Structure = clone(self.base).fit(df, y)
        resid = np.asarray(y, float) - base.predict(df)
        features = list(self.features)
        numeric = [f for f in features if f != "grade"]
        model = residual_pipeline(self.kind, numeric, self.seed)
        x = df[features]
        if self.kind == "gbm" and self.decisions:
            model.set_params(model__interaction_cst=self._additive_groups(df, numeric))
        if self.kind == "mlp":
            scale = float(np.std(resid)) or 1.0
            model.fit(x, resid / scale)
            mlp = model[-1]
            mlp.coefs_[-1] = mlp.coefs_[-1] * scale
            mlp.intercepts_[-1] = mlp.intercepts_[-1] * scale
        else:
            model.fit(x, resid)
        self.base_, self.model_ = base, model
        return self

    def _additive_groups(self, df: pd.DataFrame, numeric: list[str]) -> list[list[int]]:
        """Column groups after preprocessing (grade one-hot first, then ``numeric``): all context columns plus
        one decision column each."""
        n_grade = int(df["grade"].nunique()) if "grade" in self.features else 0
        dec = set(self.decisions or [])
        ctx = list(range(n_grade)) + [n_grade + j for j, f in enumerate(numeric) if f not in dec]
        return [[*ctx, n_grade + j] for j, f in enumerate(numeric) if f in dec]

    def linear_terms(self, context: Mapping[str, float | str]) -> tuple[float, dict[str, float]]:
        """The fitted base's linear terms; the residual is added by embedding ``model_``."""
        require_fitted(self, "model_")
        return self.base_.linear_terms(context)

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        require_fitted(self, "model_")
        return self.base_.predict(df) + self.model_.predict(df[list(self.features)])
