"""Oxygen already bound: a trim's recovery that rises with the deoxidiser of the heat's earlier stages is learned
from synthetic stage rows, and kept out where the rows do not show it (optimizer/stages/deox.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.config import PlantConfig
from optimizer.schema import material_col
from optimizer.stages.deox import OXYGEN_PER_KG, oxygen_bound_kg_per_t
from optimizer.stages.models import StageContext, fit_stage_models
from optimizer.stages.table import BOUND_O, stage_table
from tests.optimizer.advisor.stage_rows import stage_row

MEASURE_SD = 0.0015  # wt% Al


def _al_recovery(trim: bool, bound_kg_per_t: float, slope: float) -> float:
    return 0.45 + (0.05 + slope * bound_kg_per_t if trim else 0.0)


def _synthetic(cfg: PlantConfig, slope: float, n_heats: int, seed: int) -> pd.DataFrame:
    """Main stage: SiMn and Al wire in varying amounts; trims: Al wire whose recovery rises by ``slope`` per kg of
    oxygen per t the earlier stages' Al, Si, Mn can bind."""
    rng = np.random.default_rng(seed)
    wire = cfg.material("Al_wire")
    rows = []
    for h in range(n_heats):
        w_t = float(rng.uniform(90, 110))
        al = float(rng.uniform(0.002, 0.006))
        measured = al + rng.normal(0, MEASURE_SD)
        bound = 0.0
        for k in (1, 2, 3):
            adds = {"SiMn": float(rng.uniform(0, 1500)), "Al_wire": float(rng.uniform(40, 200))} if k == 1 else \
                {"Al_wire": float(rng.uniform(10, 40))}
            rec = _al_recovery(k > 1, bound / w_t, slope)
            al_after = al + adds["Al_wire"] * wire.composition_wt_pct["Al"] / (w_t * 1000.0) * rec
            measured_after = al_after + rng.normal(0, MEASURE_SD)
            row = stage_row(cfg, f"B{h:04d}", k, minutes=float(rng.uniform(5, 20)), grade="DC04", steel_weight_t=w_t,
                            before={"Al_wt_pct": measured}, after={"Al_wt_pct": measured_after}, additions_kg=adds)
            row[BOUND_O] = bound
            rows.append(row)
            bound += oxygen_bound_kg_per_t(cfg, adds, 1.0)
            al, measured = al_after, measured_after
    return pd.DataFrame(rows)


def test_trim_recovery_that_rises_with_oxygen_bound_earlier_is_recovered(cfg: PlantConfig):
    slope = 0.04  # recovery per kg O/t bound before: a trim after 1.5 t SiMn recovers ~0.2 more than after none
    models = fit_stage_models(cfg, _synthetic(cfg, slope, 400, 5))
    al = models.outcomes["Al_wt_pct"]
    assert al.bound_oxygen_kept and al.bound_oxygen_z > 3
    for bound in (1.0, 4.0, 8.0):
        ctx = StageContext(100.0, 1580.0, 2, 400.0, bound_oxygen_kg_per_t=bound)
        assert models.recovery("Al", "Al_wire", ctx) == pytest.approx(_al_recovery(True, bound, slope), abs=0.03)
    main = StageContext(100.0, 1580.0, 1, 400.0)
    assert models.recovery("Al", "Al_wire", main) == pytest.approx(_al_recovery(False, 0.0, slope), abs=0.03)


def test_no_bound_oxygen_term_where_the_rows_have_none(cfg: PlantConfig):
    models = fit_stage_models(cfg, _synthetic(cfg, 0.0, 400, 6))
    al = models.outcomes["Al_wt_pct"]
    assert not al.bound_oxygen_kept
    col = models.recovery_features.index("bound_oxygen")
    assert abs(al.coef[col]) < 1e-6  # held at 0: the model is what it was without the term
    low, high = (models.recovery("Al", "Al_wire", StageContext(100.0, 1580.0, 2, 400.0, bound_oxygen_kg_per_t=b))
                 for b in (1.0, 8.0))
    assert low == pytest.approx(high, abs=1e-6)


def test_stage_table_carries_the_oxygen_the_earlier_stages_can_bind(cfg: PlantConfig,
                                                                    history: tuple[pd.DataFrame, pd.DataFrame]):
    heats, samples = history
    stages = stage_table(cfg, heats, samples)
    assert (stages.loc[stages["stage_no"] == 1, BOUND_O] == 0.0).all()  # nothing before the main stage
    hid = stages.loc[stages["stage_no"] == 3, "heat_id"].iloc[0]
    s = samples[samples["heat_id"].astype(str) == hid].sort_values("sample_no")
    first_two = {m.name: float(s.loc[s["sample_no"].isin([1, 2]), material_col(m.name)].fillna(0).sum())
                 for m in cfg.materials}
    got = float(stages.loc[(stages["heat_id"] == hid) & (stages["stage_no"] == 3), BOUND_O].iloc[0])
    assert got == pytest.approx(oxygen_bound_kg_per_t(cfg, first_two, 1.0), rel=1e-9)
    # stoichiometry: 1 kg of Al wire binds its Al content times 3 O / 2 Al
    wire = cfg.material("Al_wire")
    assert oxygen_bound_kg_per_t(cfg, {"Al_wire": 1.0}, 1.0) == pytest.approx(
        wire.composition_wt_pct["Al"] / 100.0 * OXYGEN_PER_KG["Al"] + wire.composition_wt_pct.get("Si", 0) / 100.0
        * OXYGEN_PER_KG["Si"] + wire.composition_wt_pct.get("Mn", 0) / 100.0 * OXYGEN_PER_KG["Mn"])
    assert OXYGEN_PER_KG["Al"] == pytest.approx(0.889, abs=1e-3)
