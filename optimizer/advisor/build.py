"""An advisor from a plant's history: stage rows, stage models and history support in one step."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from optimizer.advisor.advisor import Advisor
from optimizer.advisor.support import history_support
from optimizer.config import PlantConfig
from optimizer.stages.models import fit_stage_models
from optimizer.stages.table import stage_table


def advisor_from_history(cfg: PlantConfig, heats: pd.DataFrame, samples: pd.DataFrame,
                         shadow_price_per_kg: Mapping[str, float] | None = None, residual: bool = False) -> Advisor:
    """Fit the stage models on the history's sample table and return an advisor that stays inside it.
    ``residual``: also learn the boosted-tree residuals (``optimizer.stages.residual``; off by default)."""
    stages = stage_table(cfg, heats, samples)
    order = list(heats.sort_values("start_time", kind="stable")["heat_id"].astype(str))
    models = fit_stage_models(cfg, stages, order, residual=residual)
    return Advisor(cfg, models, history_support(cfg, heats, stages, samples), dict(shadow_price_per_kg or {}))
