"""Stage rows from the history: one row per interval between two consecutive samples of a heat.

Each row holds the measured state before the stage (the previous sample), what was done in it (additions, arc
energy and time, minutes) and the measured state after it (the sample that ends it), with the heat's context
(grade, steel weight, arrival oxygen, slag FeO if measured), the stage number (1 = main additions, later
stages = trims), what the heat's previous stage did (``PREVIOUS`` + each per-stage column, 0 before the first
stage: what its closing sample may not have seen yet shows in this one) and the oxygen the deoxidisers of the
heat's earlier stages can bind (``BOUND_O``, kg; per t in the stage models). Built from the heat table and the
sample table with the per-stage columns (see ``schema``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.config import PlantConfig
from optimizer.errors import DataFileError
from optimizer.schema import KEY, material_col, sample_element_col, stage_columns
from optimizer.stages.deox import oxygen_bound_per_kg

BEFORE, AFTER = "before_", "after_"
CONTEXT = ["grade", "steel_weight_t", "initial_oxygen_ppm", "slag_feo_wt_pct"]
PREVIOUS = "previous_"  # prefix of the previous stage's per-stage columns (additions kg, arc energy kWh, arc min)
BOUND_O = "bound_oxygen_kg"  # kg of oxygen the heat's Al, Si, Mn of its earlier stages can bind (optimizer.stages.deox)


def measured_columns(cfg: PlantConfig) -> list[str]:
    """The measured quantities of a sample: temperature and every tracked element."""
    return ["temperature_degC"] + [sample_element_col(el) for el in cfg.elements]


def stage_table(cfg: PlantConfig, heats: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """One row per stage of every heat that has samples (see module doc).

    Raises DataFileError naming the missing columns when the sample table has no per-stage columns (a sample
    table that holds only measurements cannot say what was done between two samples).
    """
    need = [KEY, "sample_no", "minutes_from_start", *measured_columns(cfg), *stage_columns(cfg)]
    missing = [c for c in need if c not in samples.columns]
    if missing:
        raise DataFileError(f"the sample table lacks the columns the stage models learn from: {missing}; export "
                            "each sample with the additions (add_<material>_kg), arc energy and arc time since the "
                            "previous sample (the level-2 addition log per interval), see `dosing schema`")
    s = samples[need].copy()
    s[KEY] = s[KEY].astype(str)
    s = s.sort_values([KEY, "sample_no"], kind="stable").reset_index(drop=True)
    ctx = heats[[KEY, *[c for c in CONTEXT if c in heats.columns]]].copy()
    ctx[KEY] = ctx[KEY].astype(str)
    prev = s.groupby(KEY, sort=False).shift(1)
    meas = measured_columns(cfg)
    staged = prev["sample_no"].notna()
    per_kg = oxygen_bound_per_kg(cfg)
    bound = sum((s[material_col(m)].fillna(0.0).to_numpy(float) * f for m, f in per_kg.items()),
                np.zeros(len(s))) * staged.to_numpy()
    # what the earlier stages of the same heat added (this stage's own additions not included)
    s[BOUND_O] = pd.Series(bound, index=s.index).groupby(s[KEY], sort=False).cumsum() - bound
    rows = s.loc[staged].copy()
    before = prev.loc[rows.index]
    out = pd.DataFrame({KEY: rows[KEY].to_numpy(), "stage_no": rows["sample_no"].to_numpy().astype(int),
                        "minutes": (rows["minutes_from_start"] - before["minutes_from_start"]).to_numpy(),
                        BOUND_O: rows[BOUND_O].to_numpy(float)})
    for c in meas:
        out[BEFORE + c] = before[c].to_numpy(dtype=float)
        out[AFTER + c] = rows[c].to_numpy(dtype=float)
    for c in stage_columns(cfg):
        out[c] = rows[c].fillna(0.0).to_numpy(dtype=float)
    previous = out.groupby(KEY, sort=False)[stage_columns(cfg)].shift(1).fillna(0.0)  # rows are in stage order
    out[[PREVIOUS + c for c in stage_columns(cfg)]] = previous.to_numpy(dtype=float)
    out = out.merge(ctx, on=KEY, how="inner")
    for c in CONTEXT[1:]:
        if c not in out.columns:
            out[c] = np.nan
    ok = np.isfinite(out[[BEFORE + c for c in meas] + [AFTER + c for c in meas]].to_numpy(dtype=float)).all(axis=1)
    return out.loc[ok & (out["minutes"] > 0)].reset_index(drop=True)
