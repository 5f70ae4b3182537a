"""The stage interval near zero: a stage's noise is at least its two measurements' (optimizer/stages/models.py),
and what a heat's past samples explain never takes the next sample's own measurement error and the next stage's
own noise (optimizer/stages/update.py). Checked on synthetic stage rows with Si near zero (no Si added, a
0.002 wt% spectrometer) beside heats that get FeSi: with the least-squares stage noise the 90 % interval of the
trims near zero covered 80 % of fresh heats, with its floor 87 %."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from optimizer.config import PlantConfig
from optimizer.stages.models import StageModels, StagePlan, fit_stage_models
from optimizer.stages.state import HeatState, Sample, StageRecord
from optimizer.stages.update import forecast, stage_context
from tests.optimizer.advisor.stage_rows import stage_row

Z90 = float(stats.norm.ppf(0.95))
MEASURE_SD = 0.002  # wt% Si, at any level
ADD_SD = 0.06  # relative error of what an addition brings
SI = "Si_wt_pct"


def _heats(cfg: PlantConfig, n_heats: int, seed: int) -> list[dict]:
    """Three heats in ten (grade DC04) get no Si and stay near 0.01 wt%; the rest get FeSi to ~0.25 wt%. Each heat:
    arrival, main stage, two trims; every sample measures Si with ``MEASURE_SD``."""
    rng = np.random.default_rng(seed)
    fesi = cfg.material("FeSi75")
    out = []
    for h in range(n_heats):
        low = h % 10 < 3
        w_t = float(rng.uniform(90, 110))
        si = float(rng.uniform(0.005, 0.015)) if low else float(rng.uniform(0.02, 0.05))
        heat = {"id": f"V{h:04d}", "grade": "DC04" if low else "S355J2", "w_t": w_t,
                "measured": [si + rng.normal(0, MEASURE_SD)], "kg": []}
        for k in (1, 2, 3):
            kg = 0.0 if low else (float(rng.uniform(250, 400)) if k == 1 else float(rng.uniform(0, 30)))
            si += kg * fesi.composition_wt_pct["Si"] / (w_t * 1000.0) * 0.75 * (1.0 + rng.normal(0, ADD_SD))
            heat["measured"].append(si + rng.normal(0, MEASURE_SD))
            heat["kg"].append(kg)
        out.append(heat)
    return out


def _rows(cfg: PlantConfig, heats: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([stage_row(cfg, h["id"], k + 1, minutes=10.0, grade=h["grade"], steel_weight_t=h["w_t"],
                                   before={SI: h["measured"][k]}, after={SI: h["measured"][k + 1]},
                                   additions_kg={"FeSi75": h["kg"][k]})
                         for h in heats for k in range(3)])


def _state(h: dict, upto: int) -> HeatState:
    samples = tuple(Sample(i, 10.0 * i, 1580.0, {"Si": h["measured"][i]}) for i in range(upto + 1))
    stages = tuple(StageRecord({"FeSi75": h["kg"][i]}, 0.0) for i in range(upto))
    return HeatState(h["id"], h["grade"], h["w_t"], samples, stages, oxygen_ppm=400.0)


def _next_stage(models: StageModels, h: dict, upto: int) -> tuple[float, float, float]:
    """(forecast mean, variance of the next measured value, the floor) of the stage after sample ``upto``."""
    state = _state(h, upto)
    plan = StagePlan({"FeSi75": h["kg"][upto]}, 0.0, 0.0)
    fc = forecast(models, state, SI)
    x = models.effect_x(SI, stage_context(state, models.cfg), plan, 10.0)
    mean = fc.mean(plan, 10.0, x)
    var_meas, _ = fc.variance(x, mean)
    m = models.outcomes[SI]
    floor = max(m.variance(True, mean) - m.meas_variance(h["measured"][upto]), m.meas_variance(mean)) * \
        m.scale_for(True) ** 2
    return mean, var_meas, floor


@pytest.fixture(scope="module")
def fitted(cfg: PlantConfig) -> tuple[StageModels, list[dict]]:
    return fit_stage_models(cfg, _rows(cfg, _heats(cfg, 800, 8))), _heats(cfg, 400, 9)


def test_updated_interval_covers_the_heats_near_zero(fitted: tuple[StageModels, list[dict]]):
    models, fresh = fitted
    m = models.outcomes[SI]
    for kind in (False, True):  # a stage change is the difference of two measurements
        assert m.stage_var[kind][0] >= 2.0 * m.meas_var[0] * (1 - 1e-9)
    z = []
    for h in (h for h in fresh if h["grade"] == "DC04"):
        for upto in (1, 2):  # the trims, with the heat's own update from its samples so far
            mean, var_meas, floor = _next_stage(models, h, upto)
            assert var_meas >= floor * (1 - 1e-9)
            z.append((h["measured"][upto + 1] - mean) / np.sqrt(var_meas))
    assert np.mean(np.abs(np.array(z)) <= Z90) == pytest.approx(0.9, abs=0.06)


def test_update_never_explains_away_the_next_measurement(fitted: tuple[StageModels, list[dict]]):
    """A stage variance below its two measurements' (as the slag history's S main stage had: 2e-7 against a
    measurement variance of 8e-7) would let the update explain more than the next residual has; the interval of
    the next sample still keeps that sample's own measurement error."""
    models, fresh = fitted
    m = models.outcomes[SI]
    tight = dataclasses.replace(m, stage_var={k: (0.2 * m.meas_var[0], 0.0) for k in (False, True)})
    broken = dataclasses.replace(models, outcomes={**models.outcomes, SI: tight})
    h = next(h for h in fresh if h["grade"] == "DC04")
    mean, var_meas, _ = _next_stage(broken, h, 2)
    assert var_meas >= tight.meas_variance(mean) * tight.scale_for(True) ** 2 * (1 - 1e-9)
    assert np.sqrt(var_meas) >= 0.5 * MEASURE_SD
