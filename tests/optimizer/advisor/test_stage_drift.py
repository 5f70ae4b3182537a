"""A heat's own drift per minute (optimizer/stages/effects.py): kept where the history identifies it and the
later heats' updated forecasts gain, left out where it is absent or where only adjacent stages (which share a
sample) could tell it from the measurement error. Synthetic stage rows: Mn, FeMn in the main stage and a trim,
a per-heat loss or pick-up of Mn per minute of known sd, stages of 5-25 minutes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.config import PlantConfig
from optimizer.stages.models import fit_stage_models
from optimizer.stages.state import HeatState, Sample, StageRecord
from optimizer.stages.update import forecast
from tests.optimizer.advisor.stage_rows import stage_row

MN = "Mn_wt_pct"
MEASURE_SD = 0.01  # wt% Mn
DRIFT_SD = 0.0015  # wt% Mn per minute, per heat


def _heats(cfg: PlantConfig, n_heats: int, seed: int, drift_sd: float, n_stages: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    femn = cfg.material("HC_FeMn")
    out = []
    for h in range(n_heats):
        w_t, mn, drift = float(rng.uniform(90, 110)), float(rng.uniform(0.05, 0.15)), float(rng.normal(0, drift_sd))
        heat = {"id": f"D{h:04d}", "w_t": w_t, "drift": drift, "measured": [mn + rng.normal(0, MEASURE_SD)],
                "kg": [], "minutes": []}
        for k in range(n_stages):
            kg = float(rng.uniform(800, 1200)) if k == 0 else float(rng.uniform(0, 60)) * (k == 1)
            minutes = float(rng.uniform(5, 25))
            mn += kg * femn.composition_wt_pct["Mn"] / (w_t * 1000.0) * 0.9 * (1 + rng.normal(0, 0.02)) \
                + drift * minutes
            heat["measured"].append(mn + rng.normal(0, MEASURE_SD))
            heat["kg"].append(kg)
            heat["minutes"].append(minutes)
        out.append(heat)
    return out


def _rows(cfg: PlantConfig, heats: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([stage_row(cfg, h["id"], k + 1, minutes=h["minutes"][k], grade="S355J2",
                                   steel_weight_t=h["w_t"], before={MN: h["measured"][k]},
                                   after={MN: h["measured"][k + 1]}, additions_kg={"HC_FeMn": h["kg"][k]})
                         for h in heats for k in range(len(h["kg"]))])


def _state(h: dict, upto: int) -> HeatState:
    t = np.concatenate([[0.0], np.cumsum(h["minutes"])])
    samples = tuple(Sample(i, float(t[i]), 1580.0, {"Mn": h["measured"][i]}) for i in range(upto + 1))
    stages = tuple(StageRecord({"HC_FeMn": h["kg"][i]}, 0.0) for i in range(upto))
    return HeatState(h["id"], "S355J2", h["w_t"], samples, stages, oxygen_ppm=400.0)


def test_a_drift_the_history_identifies_is_kept_and_learned_by_each_heat(cfg: PlantConfig):
    models = fit_stage_models(cfg, _rows(cfg, _heats(cfg, 400, 1, DRIFT_SD, 3)))
    mn = models.outcomes[MN]
    assert mn.drift_kept and mn.drift_z > 2.0 and mn.drift_gain > 0.0, (mn.drift_z, mn.drift_gain)
    assert 0.5 < np.sqrt(mn.effect_cov[1, 1]) / DRIFT_SD < 1.5, np.sqrt(mn.effect_cov[1, 1])
    # after two stages a fresh heat's update knows its drift: the effect's drift part follows the true rate
    fresh = _heats(cfg, 150, 2, DRIFT_SD, 3)
    learned = [-forecast(models, _state(h, 2), MN).effect[1] for h in fresh]
    assert np.corrcoef(learned, [h["drift"] for h in fresh])[0, 1] > 0.6


def test_no_drift_where_the_heats_have_none(cfg: PlantConfig):
    mn = fit_stage_models(cfg, _rows(cfg, _heats(cfg, 400, 1, 0.0, 3))).outcomes[MN]
    assert not mn.drift_kept and mn.effect_cov.shape == (1, 1), (mn.drift_z, mn.drift_gain)


def test_no_drift_where_only_adjacent_stages_could_show_it(cfg: PlantConfig):
    # one stage after arrival and one trim: the two stages share their middle sample, so a drift and that
    # sample's error give the same product of residuals
    mn = fit_stage_models(cfg, _rows(cfg, _heats(cfg, 600, 1, DRIFT_SD, 2))).outcomes[MN]
    assert mn.drift_pairs == 0 and not mn.drift_kept and mn.effect_cov.shape == (1, 1)
