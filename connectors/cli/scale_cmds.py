"""``dosing sweep`` and ``dosing fleet``: scenario sweeps and multi-furnace nights on Dask."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from connectors.cli.app import EXIT_BAD_INPUT, EXIT_FAILED, ConfigOption, app, config_or_exit, console, fail, out
from optimizer.errors import ConfigError, DataFileError

# Lazy imports (the CLI's entry-point pattern): the command functions import the heavy modules (dask, MLflow,
# pandas) when they run, after the arguments that need no data are checked (a bad --co2-prices exits 2 at once).
if TYPE_CHECKING:
    from connectors.scale import RunSummary, SweepFurnace

SchedulerOption = typer.Option(
    None, "--dask-scheduler", help="Address of an existing Dask scheduler (tcp://host:port). Default: start a "
    "local cluster of --workers processes; 'inline' runs everything in this process (the reference).")
WorkersOption = typer.Option(2, "--workers", min=1, help="Worker processes of the local cluster.")


def _quiet_logs() -> None:
    """Warnings only: distributed logs every worker start and stop at INFO."""
    logging.basicConfig(level=logging.WARNING)
    import distributed  # noqa: F401  (configures its loggers on import; override them after)

    for name in [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "distributed"]:
        logging.getLogger(name).setLevel(logging.WARNING)


def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        fail(f"--co2-prices must be comma-separated numbers, got {text!r}", EXIT_BAD_INPUT)


@app.command("sweep")
def sweep(
    scenarios: Path = typer.Option(None, "--scenarios", help="Scenarios TOML ([[scenario]]: name, co2_price_per_t, "
                                   "energy_price_factor, material_price_factor)."),
    co2_prices: str = typer.Option(None, "--co2-prices", help="Shortcut: one scenario per CO2 price, e.g. 0,100,400."),
    schedule: Path = typer.Option(None, "--schedule", "-s", help="Planned heats of the one furnace in --config."),
    config: Path = ConfigOption,
    fleet: Path = typer.Option(None, "--fleet", help="Fleet TOML: sweep every furnace's schedule instead."),
    surrogates: str = typer.Option("champion", help="'champion' (MLflow, pinned by version URI) or 'prior'."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow tracking URI (single-furnace mode)."),
    dask_scheduler: str = SchedulerOption,
    workers: int = WorkersOption,
    out_file: Path = typer.Option(Path("sweep.csv"), "--out", help="One row per furnace and scenario (CSV)."),
) -> None:
    """What-if sweep: re-optimize the schedule under each price / CO2-price scenario, one Dask task per furnace
    and scenario. Prints and writes total cost, CO2, energy and material use per scenario."""
    prices = _floats(co2_prices) if scenarios is None and co2_prices else None  # before the heavy imports
    import pandas as pd

    from connectors.scale import co2_scenarios, load_scenarios, run_scenario, run_units, sweep_units

    _quiet_logs()
    try:
        furnaces = _sweep_furnaces(fleet, config, schedule, tracking_uri)
        cfg0 = furnaces[0].cfg
        if scenarios is not None:
            chosen = load_scenarios(scenarios, cfg0)
        elif prices is not None:
            chosen = co2_scenarios(prices)
        else:
            fail("give --scenarios FILE or --co2-prices LIST", EXIT_BAD_INPUT)
        units = sweep_units(furnaces, chosen, surrogates)
    except (ConfigError, DataFileError, ValueError) as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except LookupError as exc:
        fail(str(exc), EXIT_FAILED)
    summary = run_units(run_scenario, units, dask_scheduler, workers, progress=lambda m: console.print(m))
    rows = [o.value for o in summary.outcomes if o.ok]
    if rows:
        frame = pd.DataFrame(rows)
        frame.to_csv(out_file, index=False)
        _print_sweep(rows, cfg0.plant.currency)
        out.print(f"{len(rows)} scenario results written to {out_file}")
    _finish(summary)


def _sweep_furnaces(fleet: Path | None, config: Path | None, schedule: Path | None,
                    tracking_uri: str | None) -> list[SweepFurnace]:
    from connectors.scale import SweepFurnace, load_fleet

    if fleet is not None:
        return [SweepFurnace(f.name, f.cfg, f.entry.schedule, f.tracking_uri) for f in load_fleet(fleet)]
    if schedule is None:
        fail("give --schedule (one furnace) or --fleet FILE", EXIT_BAD_INPUT)
    cfg = config_or_exit(config)
    return [SweepFurnace(cfg.plant.name, cfg, schedule, tracking_uri)]


@app.command("fleet")
def fleet_nightly(
    fleet: Path = typer.Option(..., "--fleet", help="Fleet TOML: per furnace its config, history, schedule, "
                               "workdir and (optional) setpoint-server state directory."),
    dask_scheduler: str = SchedulerOption,
    workers: int = WorkersOption,
) -> None:
    """The nightly run of every furnace in the fleet file, one Dask task per furnace. A furnace that fails is
    named with its error; the others still complete. Exit 1 if any furnace failed."""
    from rich.table import Table

    from connectors.scale import load_fleet, night_unit, run_furnace_night, run_units

    _quiet_logs()
    try:
        furnaces = load_fleet(fleet)
    except ConfigError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    units = {f.name: night_unit(f) for f in furnaces}
    summary = run_units(run_furnace_night, units, dask_scheduler, workers, progress=lambda m: console.print(m))
    table = Table("furnace", "night", "heats", "infeasible", "money", "money saved", "CO2 saved t", "published",
                  "report",
                  title=f"Fleet night on {summary.engine} ({summary.workers} workers, {summary.wall_s:.0f} s)")
    for o in summary.outcomes:
        v = o.value or {}
        table.add_row(o.key, v.get("night_id", "FAILED"), str(v.get("heats", "")), str(v.get("infeasible_heats", "")),
                      _fig(v, "money", ",.0f"), _fig(v, "money_saved", ",.0f"),
                      _fig(v, "co2_saved_t", ",.2f"), str(v.get("published", "")),
                      v.get("report", o.error))
    out.print(table)
    _finish(summary)


def _print_sweep(rows: list[dict[str, Any]], currency: str) -> None:
    """The scenario rows of ``run_scenario`` as a table."""
    from rich.table import Table

    table = Table("furnace", "scenario", f"cost {currency}", "CO2 t", "arc MWh", "samples", "infeasible",
                  title="Scenario sweep (money cost without the CO2 charge)")
    for r in rows:
        table.add_row(r["furnace"], r["scenario"], f"{r['money_cost']:,.0f}", f"{r['co2_kg'] / 1000:,.2f}",
                      f"{r['arc_energy_kWh'] / 1000:,.1f}", str(r["samples"]), str(r["infeasible_heats"]))
    out.print(table)


def _fig(v: dict, key: str, fmt: str) -> str:
    """A figure of a furnace's row, or blank (failed furnace, or a night done earlier: no savings then)."""
    return f"{v[key]:{fmt}}" if isinstance(v.get(key), float | int) else ""


def _finish(summary: RunSummary) -> None:
    from connectors.scale import INLINE

    where = "this process" if summary.engine == INLINE else f"{summary.engine} ({summary.workers} workers)"
    out.print(f"{len(summary.outcomes) - len(summary.failed)}/{len(summary.outcomes)} units done on {where} "
              f"in {summary.wall_s:.1f} s")
    if summary.failed:
        fail("failed: " + "; ".join(f"{o.key}: {o.error}" for o in summary.failed), EXIT_FAILED)
