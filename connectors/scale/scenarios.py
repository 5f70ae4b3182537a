"""Price and CO2-price scenarios: what-if sweeps of one schedule per furnace, one Dask task per scenario.

A scenarios file (TOML) lists ``[[scenario]]`` tables::

    [[scenario]]
    name = "co2-200"                  # unique
    co2_price_per_t = 200.0           # CO2 price (currency per t CO2); default: the config's
    energy_price_factor = 1.2         # multiplies energy.price_per_kWh
    material_price_factor = { FeMn_HC = 1.3 }   # multiplies materials' price_per_kg

A scenario is applied to the plant config and the result is validated like any config, so a scenario that
names an unknown material or makes a price negative is refused at load, naming the file and the scenario.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from optimizer.config import PlantConfig, parse_config, read_toml, validate_as
from optimizer.dosing import DosingOptions, optimize_heats
from optimizer.errors import ConfigError
from optimizer.schedule import HeatContext, read_schedule
from optimizer.surrogates import prior_surrogates

Positive = Annotated[float, Field(gt=0.0)]


class Scenario(BaseModel):
    """One what-if: price factors and a CO2 price over the plant config."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Annotated[str, Field(min_length=1)]
    co2_price_per_t: Annotated[float, Field(ge=0.0)] | None = None
    energy_price_factor: Positive = 1.0
    material_price_factor: dict[str, Positive] = Field(default_factory=dict)


class _ScenarioFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scenario: Annotated[list[Scenario], Field(min_length=1)]


def load_scenarios(path: str | Path, cfg: PlantConfig) -> list[Scenario]:
    """Read and validate a scenarios file against ``cfg``; ConfigError names the file and each bad key."""
    p = Path(path)
    scenarios = validate_as(_ScenarioFile, read_toml(p), str(p)).scenario
    problems = []
    names = [s.name for s in scenarios]
    problems += [(f"scenario({n})", "name used twice") for n in sorted({n for n in names if names.count(n) > 1})]
    for s in scenarios:
        unknown = sorted(set(s.material_price_factor) - set(cfg.material_names))
        if unknown:
            problems.append((f"scenario({s.name}).material_price_factor",
                             f"unknown materials {unknown}; the config has {cfg.material_names}"))
    if problems:
        raise ConfigError(str(p), problems)
    return scenarios


def co2_scenarios(prices: list[float]) -> list[Scenario]:
    """The Pareto sweep as scenarios: one per CO2 price."""
    return [Scenario(name=f"co2-{p:g}", co2_price_per_t=p) for p in prices]


def apply_scenario(cfg: PlantConfig, scenario: Scenario) -> PlantConfig:
    """The plant config with the scenario's prices (validated again); unknown materials are refused."""
    unknown = sorted(set(scenario.material_price_factor) - set(cfg.material_names))
    if unknown:
        raise ValueError(f"scenario {scenario.name}: unknown materials {unknown}; the config has {cfg.material_names}")
    raw = cfg.model_dump(mode="python")
    raw["energy"]["price_per_kWh"] *= scenario.energy_price_factor
    for mat in raw["materials"]:
        mat["price_per_kg"] *= scenario.material_price_factor.get(mat["name"], 1.0)
    if scenario.co2_price_per_t is not None:
        raw["objective"]["co2_price_per_t"] = scenario.co2_price_per_t
    return parse_config(raw, source=f"scenario {scenario.name}")


@dataclass(frozen=True)
class ScenarioUnit:
    """What a worker needs for one (furnace, scenario): plain data and model URIs, no fitted objects."""

    furnace: str
    config: dict[str, Any]
    heats: tuple[HeatContext, ...]
    scenario: Scenario
    model_uris: dict[str, str] | None  # None: the config's prior (fixed-yield) surrogates
    tracking_uri: str | None


_MODELS: dict[tuple, Any] = {}  # per worker process: models already loaded, by (tracking URI, model URIs)


def _surrogates(cfg: PlantConfig, unit: ScenarioUnit):  # noqa: ANN202
    if unit.model_uris is None:
        return prior_surrogates(cfg)
    key = (unit.tracking_uri, tuple(sorted(unit.model_uris.items())))
    if key not in _MODELS:
        from connectors.model_registry import load_by_uris

        _MODELS[key] = load_by_uris(cfg, unit.model_uris, unit.tracking_uri)
    return _MODELS[key]


def run_scenario(unit: ScenarioUnit) -> dict[str, Any]:
    """Optimize the furnace's schedule under the scenario; one row of totals (money cost without CO2 charge)."""
    base = parse_config(unit.config, source=f"furnace {unit.furnace}")
    cfg = apply_scenario(base, unit.scenario)
    sur = _surrogates(base, unit)
    res = optimize_heats(cfg, list(unit.heats), sur, DosingOptions(), workers=1, explain=False)
    ok = [h for h in res.heats if h.feasible]
    row: dict[str, Any] = {
        "furnace": unit.furnace, "scenario": unit.scenario.name, "heats": len(res.heats),
        "infeasible_heats": len(res.heats) - len(ok),
        "co2_price_per_t": cfg.objective.co2_price_per_t,
        "money_cost": sum(h.money for h in ok),
        "material_cost": sum(h.material_cost for h in ok), "energy_cost": sum(h.energy_cost for h in ok),
        "co2_kg": sum(h.co2_kg for h in ok), "arc_energy_kWh": sum(h.arc_energy_kWh for h in ok),
        "samples": sum(h.n_samples for h in ok), "max_gap": res.max_gap, "joint_inventory": res.joint,
    }
    for m in cfg.material_names:
        row[f"{m}_kg"] = sum(h.additions_kg.get(m, 0.0) for h in ok)
    return row


@dataclass(frozen=True)
class SweepFurnace:
    """A furnace to sweep: its config, schedule file and where its champion models are tracked."""

    name: str
    cfg: PlantConfig
    schedule: Path
    tracking_uri: str | None = None


def sweep_units(furnaces: list[SweepFurnace], scenarios: list[Scenario],
                surrogates: str = "champion") -> dict[str, ScenarioUnit]:
    """One unit per (furnace, scenario), keyed ``<furnace>/<scenario>``. Schedules are read and champion
    versions pinned here, once, so every scenario of a furnace uses the same heats and model versions."""
    if surrogates not in ("champion", "prior"):
        raise ValueError(f"surrogates must be 'champion' or 'prior', got {surrogates!r}")
    units = {}
    for f in furnaces:
        sched = read_schedule(f.schedule, f.cfg)
        if not sched.heats:
            raise ValueError(f"furnace {f.name}: {f.schedule} has no valid heats")
        uris = None
        if surrogates == "champion":
            from connectors.model_registry import champion_uris

            uris = champion_uris(f.cfg, f.tracking_uri)
        raw = f.cfg.model_dump(mode="python")
        for s in scenarios:
            units[f"{f.name}/{s.name}"] = ScenarioUnit(f.name, raw, tuple(sched.heats), s, uris, f.tracking_uri)
    return units
