"""Stage models recover known recoveries, heating efficiency, loss and chill from synthetic stage rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.config import PlantConfig
from optimizer.schema import material_col
from optimizer.stages.models import TEMPERATURE, StageContext, StagePlan, fit_stage_models
from optimizer.stages.table import AFTER, BEFORE, stage_table
from tests.optimizer.advisor.stage_rows import stage_row

TRUE_ETA, TRUE_LOSS, TRUE_CHILL = 0.38, 1.1, 1.2  # efficiency, degC/min, chill factor on the config's chill


def _true_recovery(oxygen_ppm: float, trim: bool) -> float:
    return 0.90 - 0.03 * (oxygen_ppm - 400.0) / 100.0 + (0.05 if trim else 0.0)


def _synthetic(cfg: PlantConfig, n_heats: int, seed: int) -> pd.DataFrame:
    """Stage rows whose Mn follows ``_true_recovery`` and whose temperature follows a known heat balance."""
    rng = np.random.default_rng(seed)
    rows = []
    fe_mn = cfg.material("HC_FeMn")
    for h in range(n_heats):
        w_t = float(rng.uniform(90, 110))
        oxygen = float(rng.uniform(200, 700))
        temp, mn = float(rng.uniform(1560, 1600)), 0.1
        for k in (1, 2, 3):
            kg = float(rng.uniform(600, 1500)) if k == 1 else float(rng.uniform(0, 120))
            kwh = float(rng.uniform(500, 3000))
            minutes = float(rng.uniform(6, 20))
            chill = fe_mn.chill_degC_t_per_kg * kg / w_t
            t_after = temp + TRUE_ETA * kwh / (0.22 * w_t) - TRUE_LOSS * minutes - TRUE_CHILL * chill \
                + rng.normal(0, 1.0)
            mn_after = mn + kg * fe_mn.composition_wt_pct["Mn"] / (w_t * 1000.0) * _true_recovery(oxygen, k > 1) \
                + rng.normal(0, 0.002)
            rows.append(stage_row(cfg, f"S{h:04d}", k, minutes=minutes, grade="S235JR", steel_weight_t=w_t,
                                  before={TEMPERATURE: temp, "Mn_wt_pct": mn},
                                  after={TEMPERATURE: t_after, "Mn_wt_pct": mn_after}, additions_kg={"HC_FeMn": kg},
                                  oxygen_ppm=oxygen, arc_energy_kWh=kwh, arc_time_min=kwh * 0.38 / w_t))
            temp, mn = t_after, mn_after
    return pd.DataFrame(rows)


def test_stage_models_recover_known_recovery_and_heat_balance(cfg: PlantConfig):
    models = fit_stage_models(cfg, _synthetic(cfg, 400, 1))
    for oxygen in (250.0, 400.0, 650.0):
        for stage_no in (1, 2):
            got = models.recovery("Mn", "HC_FeMn", StageContext(100.0, 1580.0, stage_no, oxygen))
            assert got == pytest.approx(_true_recovery(oxygen, stage_no > 1), abs=0.01)
    t = models.outcomes[TEMPERATURE].coef
    assert t[0] == pytest.approx(TRUE_ETA, abs=0.01)  # efficiency
    assert -t[2] == pytest.approx(TRUE_LOSS, abs=0.05)  # loss per minute
    assert t[4] == pytest.approx(TRUE_CHILL, abs=0.05)  # chill factor
    lin = models.linear(TEMPERATURE, StageContext(100.0, 1580.0, 1))
    plan = StagePlan({"HC_FeMn": 1000.0}, 2000.0, 0.0)
    expected = 1580.0 + TRUE_ETA * 2000 / 22.0 - TRUE_LOSS * 10.0 - TRUE_CHILL * 1.5 * 10.0
    assert lin.value(1580.0, plan, 10.0) == pytest.approx(expected, abs=1.0)


def test_stage_intervals_are_calibrated_on_held_out_stages(cfg: PlantConfig, history):
    heats, samples = history
    stages = stage_table(cfg, heats, samples)
    train = stages[stages["heat_id"] < heats["heat_id"].iloc[400]]
    test = stages[stages["heat_id"] >= heats["heat_id"].iloc[400]]
    models = fit_stage_models(cfg, train)
    for name in (TEMPERATURE, "Mn_wt_pct"):
        m = models.outcomes[name]
        inside = []
        for r in test.itertuples(index=False):
            ctx = StageContext(r.steel_weight_t, getattr(r, BEFORE + TEMPERATURE), r.stage_no, r.initial_oxygen_ppm)
            plan = StagePlan({mm.name: getattr(r, material_col(mm.name)) for mm in cfg.materials}, r.arc_energy_kWh,
                             0.0)
            mean = models.linear(name, ctx).value(getattr(r, BEFORE + name), plan, r.minutes)
            x = models.effect_x(name, ctx, plan, r.minutes)
            sd = np.sqrt(x @ m.effect_cov @ x + m.variance(r.stage_no > 1, mean if name != TEMPERATURE else 0.0)) \
                * m.scale
            inside.append(abs(getattr(r, AFTER + name) - mean) <= 1.645 * sd)
        assert 0.84 <= np.mean(inside) <= 0.96, (name, np.mean(inside))


def test_stage_table_needs_the_stage_columns(cfg: PlantConfig, history):
    heats, samples = history
    with pytest.raises(ValueError, match="add_<material>_kg"):
        stage_table(cfg, heats, samples.drop(columns=[material_col("SiMn")]))
