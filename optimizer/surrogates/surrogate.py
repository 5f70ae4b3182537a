"""The objects the dosing program consumes: one ``OutcomeSurrogate`` per outcome, bundled in a ``SurrogateSet``.

An outcome's prediction is ``const + sum_d coef_d x_d`` (``linear_terms`` given the heat's context, exact for
the structure) plus, when ``residual_model`` is set, ``residual_model.predict(X[residual_features])``: a
scikit-learn Pipeline the dosing program embeds with ``add_predictor_constr`` and the context fixed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from optimizer.surrogates.conformal import SampleWidths
from optimizer.surrogates.domain import ApplicabilityDomain
from optimizer.surrogates.residual import residual_name


class Surrogate(Protocol):
    """One outcome's surrogate as the dosing program uses it: a learned :class:`OutcomeSurrogate` or a
    :class:`~optimizer.surrogates.prior.PriorOutcome` from the config's priors."""

    @property
    def outcome(self) -> str: ...
    @property
    def context_features(self) -> list[str]: ...
    @property
    def decision_features(self) -> list[str]: ...
    @property
    def residual_model(self) -> Any:
        """A fitted scikit-learn Pipeline over ``residual_features`` to embed, or None (decision-linear)."""
    @property
    def residual_features(self) -> list[str]: ...

    def linear_terms(self, context: Mapping[str, float | str]) -> tuple[float, dict[str, float]]:
        """Constant and coefficient per decision feature for a heat's known context."""

    def halfwidth(self, n_samples: int, confidence: float, grade: str | None = None) -> float:
        """Interval half-width at ``confidence`` with ``n_samples`` samples (for ``grade`` where widths differ)."""


class Surrogates(Protocol):
    """Every constrained outcome's surrogate, where the data supports them (None: no data, priors) and the model
    versions used: a learned :class:`SurrogateSet` or :class:`~optimizer.surrogates.prior.PriorSurrogates`."""

    @property
    def outcomes(self) -> Mapping[str, Surrogate]: ...
    @property
    def domain(self) -> ApplicabilityDomain | None: ...
    @property
    def versions(self) -> dict[str, str]: ...


@dataclass
class OutcomeSurrogate:
    """A fitted structure for one outcome plus its calibrated interval widths and provenance."""

    outcome: str
    structure: Any
    widths: SampleWidths
    context_features: list[str]
    decision_features: list[str]
    metrics: dict[str, float] = field(default_factory=dict)
    residual_model: Any = None
    residual_features: list[str] = field(default_factory=list)
    residual_kind: str = ""

    @property
    def structure_name(self) -> str:
        """The structure's name, e.g. ``context_recovery`` or ``context_recovery+gbm`` with a residual."""
        kind = getattr(self, "residual_kind", "")
        return residual_name(self.structure.name, kind) if self.residual_model is not None and kind \
            else self.structure.name

    @property
    def decision_linear(self) -> bool:
        """True when ``linear_terms`` alone is the whole prediction (no residual model to embed)."""
        return self.residual_model is None

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted outcome for every row (context + decision columns)."""
        y = self.structure.predict(X)
        if self.residual_model is not None:
            y = y + self.residual_model.predict(X[self.residual_features])
        return y

    def linear_terms(self, context: Mapping[str, float | str]) -> tuple[float, dict[str, float]]:
        """Constant and coefficient per decision feature, for a heat's known context (the whole prediction
        when ``decision_linear``, else the part before the residual model)."""
        return self.structure.linear_terms(context)

    def halfwidth(self, n_samples: int, confidence: float, grade: str | None = None) -> float:
        """Calibrated interval half-width at ``confidence`` with ``n_samples`` samples (for ``grade``)."""
        return self.widths.halfwidth(n_samples, confidence, grade)

    def signature(self) -> dict[str, list[str]]:
        """Feature lists this surrogate was trained with (checked against the config at load)."""
        return {"context": list(self.context_features), "decision": list(self.decision_features)}


@dataclass
class SurrogateSet:
    """All outcomes' surrogates, the applicability domain and the model versions used."""

    outcomes: dict[str, OutcomeSurrogate]
    domain: ApplicabilityDomain
    versions: dict[str, str] = field(default_factory=dict)

    def check(self, context: Mapping[str, float | str], decisions: Mapping[str, float]) -> list[str]:
        """Applicability-domain violations of a heat's context and a proposed decision (empty: inside)."""
        return self.domain.check(context, decisions)
