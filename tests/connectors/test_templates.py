"""The onboarding templates under docs/templates/ load with the project's own loaders and validators and pass."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from connectors.files import load_heats
from optimizer.config import load_config
from optimizer.schedule import read_schedule
from optimizer.schema import heat_columns, sample_columns
from optimizer.stages.table import stage_table

TEMPLATES = Path(__file__).resolve().parents[2] / "docs" / "templates"


def test_plant_template_is_a_valid_config():
    cfg = load_config(TEMPLATES / "plant.toml")
    assert cfg.grade_names and cfg.materials and "your" in cfg.plant.name


def test_history_templates_validate_with_every_column_and_no_rejected_row():
    cfg = load_config(TEMPLATES / "plant.toml")
    loaded = load_heats(TEMPLATES, cfg)
    assert loaded.report.empty, loaded.report.to_string()
    assert len(loaded.heats) == len(pd.read_csv(TEMPLATES / "heats.csv"))
    assert list(pd.read_csv(TEMPLATES / "heats.csv").columns) == [c.name for c in heat_columns(cfg)]
    assert list(loaded.samples.columns) == sample_columns(cfg)
    assert {f"add_{m.name}_kg" for m in cfg.materials} | {"arc_energy_kWh", "arc_time_min"} <= set(
        loaded.samples.columns)
    stages = stage_table(cfg, loaded.heats, loaded.samples)
    assert set(stages["heat_id"]) == set(loaded.heats["heat_id"])


def test_schedule_template_reads_without_rejected_rows():
    cfg = load_config(TEMPLATES / "plant.toml")
    sched = read_schedule(TEMPLATES / "schedule.csv", cfg)
    assert sched.report.empty, sched.report.to_string()
    assert len(sched.heats) == len(pd.read_csv(TEMPLATES / "schedule.csv"))
