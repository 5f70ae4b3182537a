"""Canonical historical heat data: one row per heat, plus an optional per-heat sample table.

Column names carry their units. Per-element and per-material columns are generated from the plant
config, so the schema grows with the config (a new element adds ``initial_<El>_wt_pct`` etc.).

Heat table (``heat_columns(cfg)``):

=============================  =========  ==========================================================
column                         unit       meaning
=============================  =========  ==========================================================
heat_id                        text       unique heat number (key)
start_time, end_time           UTC time   start and end of ladle treatment
grade                          text       grade name from the plant config
steel_weight_t                 t          liquid steel in the ladle
initial_<El>_wt_pct            wt%        chemistry of the first sample after tapping
initial_temperature_degC       degC       first temperature at the ladle furnace
initial_oxygen_ppm             ppm        dissolved oxygen (activity probe) at arrival
slag_feo_wt_pct                wt%        FeO+MnO of the carry-over slag; optional (often unmeasured)
add_<material>_kg              kg         total addition of each config material
arc_energy_kWh                 kWh        arc energy used in the treatment
arc_time_min                   min        arc-on time
n_samples                      count      temperature+chemistry samples taken (after the first)
treatment_time_min             min        arrival to end of treatment
final_<El>_wt_pct              wt%        final chemistry (last sample)
final_temperature_degC         degC       final temperature (last dip)
=============================  =========  ==========================================================

Sample table (``sample_columns(cfg)``): heat_id, sample_no (0 = arrival), time (UTC), minutes_from_start,
kind (``temperature`` | ``chemistry`` | ``both``), temperature_degC, <El>_wt_pct, and what was done in the stage
that this sample ends (the level-2 addition log per interval): add_<material>_kg (kg added since the previous
sample: main additions before sample 1, trims before later samples), arc_energy_kWh and arc_time_min (since the
previous sample). Sample 0 has no stage before it (zeros). The stage columns are what the stage models learn
from; a sample table without them still loads, and the stage models say which columns they miss.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from optimizer.config import PlantConfig

KEY = "heat_id"
TEMPERATURE = "final_temperature_degC"  # the final-temperature outcome (the other outcomes: element_col("final", El))


@dataclass(frozen=True)
class Column:
    """One column of the canonical schema with its unit and plausible physical range."""

    name: str
    unit: str
    kind: str  # "key" | "text" | "time" | "float" | "int"
    required: bool = True
    low: float | None = None
    high: float | None = None
    description: str = ""


def element_col(prefix: str, element: str) -> str:
    """``initial``/``final`` + element -> column name, e.g. ``final_Mn_wt_pct``."""
    return f"{prefix}_{element}_wt_pct"


def material_col(material: str) -> str:
    """Addition column of a material, e.g. ``add_SiMn_kg``."""
    return f"add_{material}_kg"


_ELEMENT_COL = re.compile(r"^(initial|final)_([A-Za-z]+)_wt_pct$")
_MATERIAL_COL = re.compile(r"^add_(.+)_kg$")
_SAMPLE_ELEMENT_COL = re.compile(r"^([A-Za-z]+)_wt_pct$")


def element_of(column: str) -> str | None:
    """The element of an ``initial``/``final`` chemistry column (``final_Mn_wt_pct`` -> ``Mn``), else None."""
    found = _ELEMENT_COL.match(column)
    return found.group(2) if found else None


def material_of(column: str) -> str | None:
    """The material of an addition column (``add_SiMn_kg`` -> ``SiMn``), else None: the inverse of
    :func:`material_col`."""
    found = _MATERIAL_COL.match(column)
    return found.group(1) if found else None


def heat_columns(cfg: PlantConfig) -> list[Column]:
    """The heat-table schema for a plant config, in canonical order."""
    cols = [
        Column(KEY, "", "key", description="unique heat number"),
        Column("start_time", "UTC", "time", description="start of ladle treatment"),
        Column("end_time", "UTC", "time", required=False, description="end of ladle treatment"),
        Column("grade", "", "text", description="grade name from the plant config"),
        Column("steel_weight_t", "t", "float", low=5.0, high=500.0, description="liquid steel mass"),
    ]
    cols += [
        Column(element_col("initial", el), "wt%", "float", low=0.0, high=30.0, description=f"{el} at arrival")
        for el in cfg.elements
    ]
    cols += [
        Column("initial_temperature_degC", "degC", "float", low=1450.0, high=1750.0,
               description="first temperature at the ladle furnace"),
        Column("initial_oxygen_ppm", "ppm", "float", required=False, low=0.0, high=2000.0,
               description="dissolved oxygen at arrival (activity probe)"),
        Column("slag_feo_wt_pct", "wt%", "float", required=False, low=0.0, high=60.0,
               description="FeO+MnO of the carry-over slag (often unmeasured)"),
    ]
    cols += [
        Column(material_col(m.name), "kg", "float", low=0.0, high=20000.0, description=f"{m.name} added")
        for m in cfg.materials
    ]
    cols += [
        Column("arc_energy_kWh", "kWh", "float", low=0.0, high=50000.0, description="arc energy of the treatment"),
        Column("arc_time_min", "min", "float", required=False, low=0.0, high=300.0, description="arc-on time"),
        Column("n_samples", "count", "int", low=0.0, high=30.0,
               description="temperature+chemistry samples after arrival"),
        Column("treatment_time_min", "min", "float", required=False, low=0.0, high=600.0,
               description="arrival to end of treatment"),
    ]
    cols += [
        Column(element_col("final", el), "wt%", "float", low=0.0, high=30.0, description=f"final {el}")
        for el in cfg.elements
    ]
    cols.append(Column(TEMPERATURE, "degC", "float", low=1450.0, high=1750.0,
                       description="final temperature (last dip)"))
    return cols


SAMPLE_COLUMNS = ["heat_id", "sample_no", "time", "minutes_from_start", "kind", "temperature_degC"]


STAGE_ENERGY_COLUMNS = ["arc_energy_kWh", "arc_time_min"]


def sample_element_col(element: str) -> str:
    """Measured content of an element in a sample, e.g. ``Mn_wt_pct``."""
    return f"{element}_wt_pct"


def sample_element_of(name: str) -> str | None:
    """The element of a sample column or stage outcome (``Mn_wt_pct`` -> ``Mn``), else None."""
    found = _SAMPLE_ELEMENT_COL.match(name)
    return found.group(1) if found else None


def sample_element(name: str) -> str:
    """The element of a chemistry outcome name (``Mn_wt_pct`` -> ``Mn``); a ValueError for any other name."""
    el = sample_element_of(name)
    if el is None:
        raise ValueError(f"{name!r} is not a chemistry outcome (<element>_wt_pct)")
    return el


def sample_elements(values: Mapping[str, float]) -> dict[str, float]:
    """The chemistry of a sample row or outcome mapping, by element (``{"Mn_wt_pct": 1.2}`` -> ``{"Mn": 1.2}``)."""
    return {el: v for name, v in values.items() if (el := sample_element_of(name)) is not None}


def sample_columns(cfg: PlantConfig) -> list[str]:
    """Sample-table column names for a plant config (measurements, then the stage that the sample ends)."""
    return SAMPLE_COLUMNS + [sample_element_col(el) for el in cfg.elements] + stage_columns(cfg)


def stage_columns(cfg: PlantConfig) -> list[str]:
    """The sample table's per-stage columns: additions per material (kg) and arc energy/time since the previous
    sample."""
    return [material_col(m.name) for m in cfg.materials] + STAGE_ENERGY_COLUMNS


def schema_markdown(cfg: PlantConfig) -> str:
    """The heat-table schema as a Markdown table (for docs and ``dosing schema``)."""
    rows = ["| column | unit | required | plausible range | meaning |", "|---|---|---|---|---|"]
    for c in heat_columns(cfg):
        rng = "" if c.low is None else f"{c.low:g} .. {c.high:g}"
        rows.append(f"| {c.name} | {c.unit} | {'yes' if c.required else 'no'} | {rng} | {c.description} |")
    return "\n".join(rows)
