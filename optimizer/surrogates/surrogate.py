"""The objects the dosing program consumes: one ``OutcomeSurrogate`` per outcome, bundled in a ``SurrogateSet``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.surrogates.conformal import SampleWidths
from optimizer.surrogates.domain import ApplicabilityDomain


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

    @property
    def structure_name(self) -> str:
        return self.structure.name

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted outcome for every row (context + decision columns)."""
        y = self.structure.predict(X)
        if self.residual_model is not None:
            y = y + self.residual_model.predict(X[self.residual_features])
        return y

    def linear_terms(self, context: Mapping[str, float | str]) -> tuple[float, dict[str, float]]:
        """Constant and coefficient per decision feature, for a heat's known context."""
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
