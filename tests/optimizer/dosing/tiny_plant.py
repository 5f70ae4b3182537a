"""A tiny canonical plant (3 materials, 2 elements, 1 grade) whose optimum is known in closed form."""

from __future__ import annotations

from optimizer.config import PlantConfig, parse_config


def tiny_raw(**overrides) -> dict:
    raw = {
        "elements": ["C", "Mn"],
        "plant": {"name": "tiny", "nominal_steel_weight_t": 100.0, "steel_weight_range_t": [50.0, 150.0]},
        "energy": {"price_per_kWh": 0.1, "co2_kg_per_kWh": 0.5, "arc_efficiency_prior": 0.5,
                   "steel_heat_kWh_per_t_per_degC": 0.25, "heat_loss_prior_degC_per_min": 0.0,
                   "max_heating_rate_degC_per_min": 5.0},
        "sampling": {"temperature_probe_cost": 5.0, "chemistry_sample_cost": 15.0,
                     "minutes_per_temperature_sample": 0.5, "minutes_per_chemistry_sample": 3.5,
                     "cost_per_treatment_minute": 0.0, "samples_per_heat_min": 1, "samples_per_heat_max": 4,
                     "baseline_samples_per_heat": 3},
        "objective": {"co2_price_per_t": 0.0},
        "safety": {"max_arc_energy_kWh": 8000.0, "max_samples_per_heat": 6},
        "materials": [
            {"name": "FeMnA", "kind": "ferroalloy", "composition_wt_pct": {"Mn": 80.0}, "prior_recovery": {"Mn": 0.9},
             "price_per_kg": 1.0, "co2_kg_per_kg": 1.0, "max_kg_per_heat": 5000.0, "daily_inventory_kg": 1e6},
            {"name": "FeMnB", "kind": "ferroalloy", "composition_wt_pct": {"Mn": 60.0}, "prior_recovery": {"Mn": 0.9},
             "price_per_kg": 0.6, "co2_kg_per_kg": 3.0, "max_kg_per_heat": 5000.0, "daily_inventory_kg": 1e6},
            {"name": "Coke", "kind": "carburizer", "composition_wt_pct": {"C": 100.0}, "prior_recovery": {"C": 0.8},
             "price_per_kg": 0.5, "co2_kg_per_kg": 3.0, "max_kg_per_heat": 1000.0},
        ],
        "grades": [{"name": "G1", "share": 1.0, "confidence": 0.95,
                    "temperature_degC": {"min": 1580.0, "aim": 1590.0, "max": 1600.0},
                    "chemistry_wt_pct": {"Mn": {"min": 1.0, "aim": 1.1, "max": 1.4},
                                         "C": {"min": 0.10, "max": 0.20}}}],
    }
    for path, value in overrides.items():
        node = raw
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        node[int(keys[-1]) if keys[-1].isdigit() else keys[-1]] = value
    return raw


def tiny_config(**overrides) -> PlantConfig:
    """The tiny plant, with dotted-path overrides like ``materials.1.price_per_kg=2.0``."""
    return parse_config(tiny_raw(**overrides), source="tiny")
