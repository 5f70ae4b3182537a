"""Scale-out on Dask: furnaces' nightly runs and price/CO2 scenario sweeps as independent tasks."""

from connectors.scale.engine import INLINE, RunSummary, UnitOutcome, dask_client, run_units
from connectors.scale.fleet import Furnace, NightUnit, load_fleet, night_unit, run_furnace_night
from connectors.scale.scenarios import (
    Scenario,
    ScenarioUnit,
    SweepFurnace,
    apply_scenario,
    co2_scenarios,
    load_scenarios,
    run_scenario,
    sweep_units,
)

__all__ = [
    "INLINE", "Furnace", "NightUnit", "RunSummary", "Scenario", "ScenarioUnit", "SweepFurnace", "UnitOutcome",
    "apply_scenario", "co2_scenarios", "dask_client", "load_fleet", "load_scenarios", "night_unit",
    "run_furnace_night", "run_scenario", "run_units", "sweep_units",
]
