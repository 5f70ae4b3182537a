"""The stage models recover a known holding-time fade of Al from synthetic stage rows, and find none where there is
none, although the level before each stage is a noisy measurement (regression to the mean is no fade)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.config import PlantConfig
from optimizer.stages.models import StageContext, StagePlan, fit_stage_models
from tests.optimizer.advisor.stage_rows import stage_row

RECOVERY = 0.5
MEASURE_SD = 0.0015  # wt% Al: the spectrometer's error, on every sample


def _synthetic(cfg: PlantConfig, fade_per_min: float, n_heats: int, seed: int) -> pd.DataFrame:
    """Stage rows whose true Al loses ``fade_per_min * Al * minutes`` in every stage; Al wire in the main stage
    and in half the trims; every sample measures Al with ``MEASURE_SD``."""
    rng = np.random.default_rng(seed)
    wire = cfg.material("Al_wire")
    rows = []
    for h in range(n_heats):
        w_t = float(rng.uniform(90, 110))
        grade = "S235JR" if h % 2 else "DC04"
        al = float(rng.uniform(0.002, 0.01))
        measured = al + rng.normal(0, MEASURE_SD)
        for k in (1, 2, 3, 4):
            kg = float(rng.uniform(60, 120)) if k == 1 else float(rng.choice([0.0, rng.uniform(5, 20)]))
            minutes = float(rng.uniform(5, 35))
            al_after = al + kg * wire.composition_wt_pct["Al"] / (w_t * 1000.0) * RECOVERY \
                - fade_per_min * al * minutes
            measured_after = al_after + rng.normal(0, MEASURE_SD)
            rows.append(stage_row(cfg, f"F{h:04d}", k, minutes=minutes, grade=grade, steel_weight_t=w_t,
                                  before={"Al_wt_pct": measured}, after={"Al_wt_pct": measured_after},
                                  additions_kg={"Al_wire": kg}))
            al, measured = al_after, measured_after
    return pd.DataFrame(rows)


def test_stage_models_recover_a_known_fade_rate(cfg: PlantConfig):
    true_rate = 0.004  # 1/min: 0.4 % of the Al per minute
    models = fit_stage_models(cfg, _synthetic(cfg, true_rate, 500, 3))
    fade = models.outcomes["Al_wt_pct"].fade
    assert fade.kept
    assert fade.rate_per_min == pytest.approx(true_rate, abs=3 * fade.se)
    assert fade.se < true_rate / 3
    # the decision's linear form loses fade x level before x minutes, on top of what the wire brings
    ctx = StageContext(100.0, 1580.0, 2)
    lin = models.linear("Al_wt_pct", ctx)
    hold_10 = lin.value(0.03, StagePlan({}, 0.0, 0.0), 10.0) - lin.value(0.03, StagePlan({}, 0.0, 0.0), 0.0)
    assert hold_10 == pytest.approx(-fade.rate_per_min * 0.03 * 10.0, rel=1e-9)


def test_no_fade_where_the_history_has_none(cfg: PlantConfig):
    models = fit_stage_models(cfg, _synthetic(cfg, 0.0, 500, 4))
    fade = models.outcomes["Al_wt_pct"].fade
    assert not fade.kept and fade.rate_per_min == 0.0
    assert abs(fade.estimate) < 3 * fade.se  # the measurement error of the level before did not pass for a fade
    assert models.outcomes["temperature_degC"].fade.rate_per_min == 0.0
