"""The stage models recover a known holding-time fade of Al and a known loss per arc minute from synthetic stage
rows, tell the two apart, and find none where there is none, although the level before each stage is a noisy
measurement (regression to the mean is no fade)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.config import PlantConfig
from optimizer.stages.models import StageContext, StagePlan, fit_stage_models
from tests.optimizer.advisor.stage_rows import stage_row

RECOVERY = 0.5
MEASURE_SD = 0.0015  # wt% Al: the spectrometer's error, on every sample


KWH_PER_ARC_MIN = 300.0  # a 100 t heat's transformer: about 18 MW


def _synthetic(cfg: PlantConfig, fade_per_min: float, n_heats: int, seed: int,
               arc_fade_per_min: float = 0.0) -> pd.DataFrame:
    """Stage rows whose true Al loses ``(fade_per_min * minutes + arc_fade_per_min * arc minutes) * Al`` in every
    stage (0-12 of a stage's minutes arcing); Al wire in the main stage and in half the trims; every sample
    measures Al with ``MEASURE_SD``."""
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
            arc_min = float(rng.uniform(0.0, min(12.0, minutes - 3.0)))
            al_after = al + kg * wire.composition_wt_pct["Al"] / (w_t * 1000.0) * RECOVERY \
                - (fade_per_min * minutes + arc_fade_per_min * arc_min) * al
            measured_after = al_after + rng.normal(0, MEASURE_SD)
            rows.append(stage_row(cfg, f"F{h:04d}", k, minutes=minutes, grade=grade, steel_weight_t=w_t,
                                  before={"Al_wt_pct": measured}, after={"Al_wt_pct": measured_after},
                                  additions_kg={"Al_wire": kg}, arc_time_min=arc_min,
                                  arc_energy_kWh=arc_min * KWH_PER_ARC_MIN * w_t / 100.0))
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
    assert fade.arc_rate_per_min == 0.0  # a loss over the stage's minutes does not pass for one while arcing


def test_stage_models_recover_a_known_loss_per_arc_minute(cfg: PlantConfig):
    """Al lost in the arc zone (1 % per arc minute, none while holding) is learned as a rate per arc minute, and
    the decision's linear form loses it per kWh through the arc minutes a kWh takes."""
    true_arc_rate = 0.01
    models = fit_stage_models(cfg, _synthetic(cfg, 0.0, 500, 5, arc_fade_per_min=true_arc_rate))
    fade = models.outcomes["Al_wt_pct"].fade
    assert fade.kept and fade.arc_rate_per_min == pytest.approx(true_arc_rate, abs=3 * fade.arc_se)
    assert fade.arc_se < true_arc_rate / 3
    assert abs(fade.estimate) < 3 * fade.se  # holding costs no Al here
    ctx = StageContext(100.0, 1580.0, 2)
    lin = models.linear("Al_wt_pct", ctx)
    still = StagePlan({}, 0.0, 0.0)
    arcing = lin.value(0.03, StagePlan({}, 3000.0, 0.0), 10.0) - lin.value(0.03, still, 10.0)
    assert arcing == pytest.approx(-fade.arc_rate_per_min * 0.03 * models.arc_minutes(3000.0, 100.0), rel=1e-9)
    assert models.arc_minutes(3000.0, 100.0) == pytest.approx(10.0, rel=1e-6)


def test_no_fade_where_the_history_has_none(cfg: PlantConfig):
    models = fit_stage_models(cfg, _synthetic(cfg, 0.0, 500, 4))
    fade = models.outcomes["Al_wt_pct"].fade
    assert not fade.kept and fade.rate_per_min == 0.0
    assert abs(fade.estimate) < 3 * fade.se  # the measurement error of the level before did not pass for a fade
    assert fade.arc_rate_per_min == 0.0 and abs(fade.arc_z) < 3
    assert models.outcomes["temperature_degC"].fade.rate_per_min == 0.0
