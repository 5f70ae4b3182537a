"""A history with gross readings (optimizer/stages/models.py ``_fit_outcome``): the stage model is fitted on its
core, so the measurement variance and the intervals are those of the good readings, not widened by the gross
ones (the advisor weighs a suspect reading against the good readings' spread). Synthetic stage rows: Mn, FeMn in
the main stage, a trim, a stage that adds nothing; the spectrometer's error of known sd, and at a known rate a
reading 10-25 of its sd low (a slag-diluted sample) that the next sample does not confirm."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.config import PlantConfig
from optimizer.stages.models import fit_stage_models
from tests.optimizer.advisor.stage_rows import stage_row

MN = "Mn_wt_pct"
MEASURE_SD = 0.01  # wt% Mn, the good readings' error


def _rows(cfg: PlantConfig, n_heats: int, seed: int, gross_rate: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    femn = cfg.material("HC_FeMn")
    rows = []
    for h in range(n_heats):
        w_t, mn = float(rng.uniform(90, 110)), float(rng.uniform(0.05, 0.15))
        recovery = 0.9 * (1 + rng.normal(0, 0.02))

        def read(true: float) -> float:
            gross = rng.random() < gross_rate
            return true + rng.normal(0, MEASURE_SD) - gross * float(rng.uniform(10, 25)) * MEASURE_SD

        before = read(mn)
        for k, kg in enumerate((float(rng.uniform(800, 1200)), float(rng.uniform(0, 60)), 0.0)):
            minutes = float(rng.uniform(5, 25))
            mn += kg * femn.composition_wt_pct["Mn"] / (w_t * 1000.0) * recovery
            after = read(mn)
            rows.append(stage_row(cfg, f"G{h:04d}", k + 1, minutes=minutes, grade="S355J2", steel_weight_t=w_t,
                                  before={MN: before}, after={MN: after}, additions_kg={"HC_FeMn": kg}))
            before = after
    return pd.DataFrame(rows)


def _measurement_sd(cfg: PlantConfig, gross_rate: float) -> tuple[float, float, bool]:
    """(learned sd of a reading at 0.9 wt% Mn, share of the stages fitted on, gross readings kept below)."""
    mn = fit_stage_models(cfg, _rows(cfg, 600, 7, gross_rate)).outcomes[MN]
    return float(np.sqrt(mn.meas_variance(0.9))), mn.core_share, mn.gross.below.kept


def test_without_gross_readings_every_stage_is_fitted_on(cfg: PlantConfig):
    sd, core, kept = _measurement_sd(cfg, 0.0)
    assert not kept and core == 1.0
    assert 0.7 < sd / MEASURE_SD < 1.3, sd


def test_gross_readings_do_not_widen_the_measurement_error_of_the_good_ones(cfg: PlantConfig):
    sd, core, kept = _measurement_sd(cfg, 0.04)
    assert kept
    # a gross reading spoils the stage it closes and the one that starts from it: about 2 x 4 % of the stages
    assert 0.85 < core < 0.97, core
    # fitted on every stage, the moments of the gross readings (10-25 sd, 4 %) make it about three times as wide
    assert 0.7 < sd / MEASURE_SD < 1.4, sd
