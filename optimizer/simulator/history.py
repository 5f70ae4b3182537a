"""Generate historical heats under a policy (today's practice by default) in the canonical schema."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from optimizer.config import PlantConfig
from optimizer.schema import element_col, heat_columns, material_col, sample_columns
from optimizer.simulator.heats import DEFAULT_START, HISTORY_STREAM, SimHeat, draw_heats, heat_rng
from optimizer.simulator.physics import Physics
from optimizer.simulator.plant import HeatRecord, run_controlled_heat, run_heat
from optimizer.simulator.policies import ControllerPolicy, Level2Policy, Policy

HeatProgress = Callable[[str, int, int], None]  # (phase, heats done, heats)


def run_heats(cfg: PlantConfig, heats: list[SimHeat], policy: Policy | ControllerPolicy, seed: int, stream: int,
              vary_samples: bool = False, progress: HeatProgress | None = None) -> list[HeatRecord]:
    """Apply ``policy`` to ``heats``; each heat's process noise comes from its own stream. A
    :class:`ControllerPolicy` decides each heat stage by stage (on arrival and after every sample).
    ``progress(phase, done, heats)`` is told when planning starts and after every heat run."""
    tell = progress or _quiet
    if isinstance(policy, ControllerPolicy):
        controlled = []
        for k, heat in enumerate(heats):
            controlled.append(run_controlled_heat(cfg, heat, policy.controller(heat.context),
                                                  heat_rng(seed, stream + 100, k)))
            tell("run heats", k + 1, len(heats))
        return controlled
    tell("plan heats", 0, len(heats))
    plans = policy.decide_many([h.context for h in heats])
    records = []
    for k, (heat, plan) in enumerate(zip(heats, plans, strict=True)):
        rng = heat_rng(seed, stream + 100, k)
        if vary_samples:
            lo, hi = cfg.sampling.samples_per_heat_min, cfg.sampling.samples_per_heat_max
            # operators vary the sample count around the plan (today's practice: 2..4 when the plan says 3):
            # history then shows how the final spread depends on sampling, which the models need to learn
            n = int(np.clip(plan.n_samples + rng.choice(heat.physics.practice.sample_variation), max(lo, 1), hi))
            plan = type(plan)(plan.additions_kg, plan.arc_energy_kWh, n, plan.aim_wt_pct, plan.aim_temperature_degC,
                              plan.source)
        records.append(run_heat(cfg, heat, plan, rng))
        tell("run heats", k + 1, len(heats))
    return records


def _quiet(phase: str, done: int, total: int) -> None:
    """The default progress: nobody is watching."""


def simulate_history(cfg: PlantConfig, n_heats: int, seed: int, policy: Policy | None = None,
                     start: pd.Timestamp | None = None,
                     grades: Sequence[str] | None = None,
                     physics: str | Physics | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n_heats`` historical heats under today's practice: (heat table, sample table), canonical schema.

    Heat ids ``H000000``...; one heat every 45-60 min from ``start`` (default 2026-01-05 06:00 UTC); ``physics``
    names the plant (default ``standard``), whose operators make the trims.
    """
    heats = draw_heats(cfg, n_heats, seed, HISTORY_STREAM, start=DEFAULT_START if start is None else start,
                       grades=grades, physics=physics)
    records = run_heats(cfg, heats, policy or Level2Policy(cfg), seed, HISTORY_STREAM, vary_samples=True)
    return heat_table(cfg, heats, records), sample_table(cfg, heats, records)


def _start(sim: SimHeat) -> pd.Timestamp:
    """A simulated heat's start: its planned time (the simulator always draws one)."""
    if sim.context.planned_time is None:
        raise ValueError(f"simulated heat {sim.context.heat_id} has no planned time")
    return pd.Timestamp(sim.context.planned_time)


def heat_table(cfg: PlantConfig, heats: list[SimHeat], records: list[HeatRecord]) -> pd.DataFrame:
    """One canonical row per heat (hidden state is not written; slag FeO is unmeasured: NaN)."""
    rows = []
    for h, r in zip(heats, records, strict=True):
        c = h.context
        start = _start(h)
        row: dict[str, object] = {
            "heat_id": c.heat_id, "start_time": start,
            "end_time": start + pd.Timedelta(minutes=r.treatment_time_min), "grade": c.grade,
            "steel_weight_t": c.steel_weight_t,
        }
        row.update({element_col("initial", el): c.initial_wt_pct[el] for el in cfg.elements})
        row.update({"initial_temperature_degC": c.initial_temperature_degC, "initial_oxygen_ppm": c.initial_oxygen_ppm,
                    "slag_feo_wt_pct": np.nan})
        row.update({material_col(m): round(kg, 1) for m, kg in r.additions_kg.items()})
        row.update({"arc_energy_kWh": round(r.arc_energy_kWh, 1), "arc_time_min": round(r.arc_time_min, 2),
                    "n_samples": r.n_samples, "treatment_time_min": round(r.treatment_time_min, 2)})
        row.update({element_col("final", el): r.final_measured_wt_pct[el] for el in cfg.elements})
        row["final_temperature_degC"] = r.final_measured_temperature_degC
        rows.append(row)
    return pd.DataFrame(rows, columns=[c.name for c in heat_columns(cfg)])


def sample_table(cfg: PlantConfig, heats: list[SimHeat], records: list[HeatRecord]) -> pd.DataFrame:
    """Every sample of every heat (sample 0 = arrival), each with the stage it ends: additions (main additions
    before sample 1, the operator's trims before later ones), arc energy and arc time since the previous sample."""
    rows = []
    for h, r in zip(heats, records, strict=True):
        start = _start(h)
        for s in r.samples:
            k = s["sample_no"]
            stage = r.stages[k - 1] if k > 0 else None
            adds = {material_col(m.name): round(stage.additions_kg.get(m.name, 0.0), 1) if stage else 0.0
                    for m in cfg.materials}
            rows.append({"heat_id": h.context.heat_id, "time": start + pd.Timedelta(minutes=s["minutes_from_start"]),
                         **s, **adds, "arc_energy_kWh": round(stage.arc_energy_kWh, 1) if stage else 0.0,
                         "arc_time_min": round(stage.arc_time_min, 2) if stage else 0.0})
    return pd.DataFrame(rows, columns=sample_columns(cfg))
