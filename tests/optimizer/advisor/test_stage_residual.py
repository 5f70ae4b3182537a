"""The learned stage residual: chosen only where it beats the physics on the later training heats, and then a
constant of the stage's context in the linear form the stage LP uses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.config import PlantConfig
from optimizer.schema import material_col
from optimizer.stages.models import TEMPERATURE, StageContext, fit_stage_models
from optimizer.stages.table import AFTER, BEFORE, measured_columns

MN_LOSS_HOT = 0.03  # wt% Mn a stage loses when it starts above 1600 degC: a law the physics does not have
MN = "Mn_wt_pct"


def _synthetic(cfg: PlantConfig, n_heats: int, seed: int, hot_loss: bool) -> pd.DataFrame:
    """Stage rows with a known Mn recovery and temperature balance; with ``hot_loss`` a stage that starts above
    1600 degC also loses ``MN_LOSS_HOT`` of Mn."""
    rng = np.random.default_rng(seed)
    fe_mn = cfg.material("HC_FeMn")
    rows = []
    for h in range(n_heats):
        w_t, temp, mn = float(rng.uniform(90, 110)), float(rng.uniform(1570, 1630)), 0.2
        for k in (1, 2, 3):
            kg = float(rng.uniform(600, 1500)) if k == 1 else float(rng.uniform(0, 150))
            kwh = float(rng.uniform(300, 2500))
            t_after = temp + 0.4 * kwh / (0.22 * w_t) - 1.0 * 12.0 - fe_mn.chill_degC_t_per_kg * kg / w_t \
                + rng.normal(0, 1.0)
            loss = MN_LOSS_HOT if hot_loss and temp > 1600.0 else 0.0
            mn_after = mn + kg * fe_mn.composition_wt_pct["Mn"] * 0.9 / (w_t * 1000.0) - loss + rng.normal(0, 0.004)
            row = {"heat_id": f"R{h:04d}", "stage_no": k, "minutes": 12.0, "grade": "S235JR", "steel_weight_t": w_t,
                   "initial_oxygen_ppm": float(rng.uniform(300, 500)), "slag_feo_wt_pct": np.nan,
                   "arc_energy_kWh": kwh, "arc_time_min": kwh * 0.38 / w_t}
            for c in measured_columns(cfg):
                row[BEFORE + c] = row[AFTER + c] = 0.05
            row.update({BEFORE + TEMPERATURE: temp, AFTER + TEMPERATURE: t_after, BEFORE + MN: mn,
                        AFTER + MN: mn_after})
            row.update({material_col(m.name): 0.0 for m in cfg.materials})
            row[material_col("HC_FeMn")] = kg
            rows.append(row)
            temp, mn = t_after, mn_after
    return pd.DataFrame(rows)


def _ctx(temperature_degC: float) -> StageContext:
    return StageContext(100.0, temperature_degC, 2, 400.0, before_wt_pct=(("Mn", 1.0),))


def test_a_residual_the_physics_misses_is_chosen_and_enters_the_stage_as_a_constant(cfg: PlantConfig):
    models = fit_stage_models(cfg, _synthetic(cfg, 150, 5, hot_loss=True), residual=True)
    mn = models.outcomes[MN]
    assert mn.residual is not None and mn.residual_check is not None
    assert mn.residual_check.mse_with_residual < 0.5 * mn.residual_check.mse_physics
    hot, cold = models.linear(MN, _ctx(1615.0)), models.linear(MN, _ctx(1585.0))
    assert abs((cold.const - hot.const) - MN_LOSS_HOT) < 0.01  # the step the physics cannot express
    # the residual is the stage's constant only; what the decision moves stays the physics': the LP stays linear
    # (equal up to rounding: the two constants sum the same terms in another order, and BLAS may differ per CPU)
    physics_hot = hot.const - models.residual_shift(MN, _ctx(1615.0))
    assert physics_hot == pytest.approx(cold.const - models.residual_shift(MN, _ctx(1585.0)), rel=1e-9, abs=1e-12)


def test_no_residual_where_the_physics_is_right(cfg: PlantConfig):
    models = fit_stage_models(cfg, _synthetic(cfg, 150, 6, hot_loss=False), residual=True)
    for name in (TEMPERATURE, MN):
        m = models.outcomes[name]
        assert m.residual_check is not None and m.residual is None, (name, m.residual_check)
    assert models.linear(MN, _ctx(1615.0)).const == models.linear(MN, _ctx(1585.0)).const
