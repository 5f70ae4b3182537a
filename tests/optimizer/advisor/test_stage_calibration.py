"""Intervals are calibrated per stage kind: a main stage and a trim each get the scale of their own held-out stages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.config import PlantConfig
from optimizer.stages.models import fit_stage_models
from optimizer.stages.state import HeatState, Sample
from optimizer.stages.update import forecast
from tests.optimizer.advisor.stage_rows import stage_row

RECOVERY = 0.9


def _stages(cfg: PlantConfig, n_heats: int, seed: int, main_outliers: bool) -> pd.DataFrame:
    """Mn stage rows with a known recovery. ``main_outliers``: the main stage's error is small in 90 % of heats and
    ten times larger in the rest (its variance says wide, most heats lie much closer); trims are Gaussian."""
    rng = np.random.default_rng(seed)
    fe_mn = cfg.material("HC_FeMn")
    rows = []
    for h in range(n_heats):
        w_t, mn = float(rng.uniform(90, 110)), 0.1
        for k in (1, 2):
            kg = float(rng.uniform(600, 1500)) if k == 1 else float(rng.uniform(20, 120))
            sd = 0.002
            if k == 1 and main_outliers:
                sd = 0.02 if rng.random() < 0.1 else 0.002
            after = mn + kg * fe_mn.composition_wt_pct["Mn"] / (w_t * 1000.0) * RECOVERY + rng.normal(0, sd)
            rows.append(stage_row(cfg, f"S{h:04d}", k, minutes=10.0, grade="S235JR", steel_weight_t=w_t,
                                  before={"Mn_wt_pct": mn}, after={"Mn_wt_pct": after}, additions_kg={"HC_FeMn": kg}))
            mn = after
    return pd.DataFrame(rows)


def test_main_stage_with_few_large_errors_gets_its_own_narrower_scale(cfg: PlantConfig):
    models = fit_stage_models(cfg, _stages(cfg, 400, 3, main_outliers=True))
    m = models.outcomes["Mn_wt_pct"]
    assert m.scale_for(False) < 0.75 * m.scale_for(True), m.stage_scale
    assert m.scale_for(True) == pytest.approx(1.0, abs=0.25)
    # the forecast of a main stage uses the main stage's scale, a trim's the trim's
    state = HeatState("H", "S235JR", 100.0, (Sample(0, 0.0, 1580.0, {"Mn": 0.1}),), oxygen_ppm=400.0)
    fc = forecast(models, state, "Mn_wt_pct")
    assert fc._scale == m.scale_for(False)  # noqa: SLF001


def test_stages_calibrated_alike_keep_one_scale(cfg: PlantConfig):
    m = fit_stage_models(cfg, _stages(cfg, 400, 3, main_outliers=False)).outcomes["Mn_wt_pct"]
    assert m.scale_for(False) == pytest.approx(m.scale_for(True), rel=0.25)
    assert m.scale_for(False) == pytest.approx(1.0, abs=0.25)
