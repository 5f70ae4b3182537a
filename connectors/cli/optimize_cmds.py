"""``dosing optimize``: recommend additions, arc energy and samples for a schedule of heats."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from connectors.cli.app import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INFEASIBLE,
    ConfigOption,
    app,
    config_or_exit,
    console,
    fail,
    out,
    progress_bar,
)
from optimizer.errors import DataFileError

if TYPE_CHECKING:

    from optimizer.config import PlantConfig
    from optimizer.dosing import DosingResult
    from optimizer.recommendation import Recommendation
    from optimizer.savings import Savings
    from optimizer.schedule import Schedule


@app.command("optimize")
def optimize(
    schedule: Path = typer.Option(..., "--schedule", "-s", help="Planned heats (CSV/Parquet): heat_id, grade, "
                                  "steel_weight_t, expected initial chemistry and temperature."),
    config: Path = ConfigOption,
    out_dir: Path = typer.Option(Path(".dosing/recommendations"), "--out", help="Where recommendations go."),
    surrogates: str = typer.Option("champion", help="'champion' (trained models from MLflow) or 'prior' "
                                   "(today's fixed-yield calculation from the config)."),
    tracking_uri: str = typer.Option(None, help="MLflow tracking URI (default: config, else local store)."),
    pareto: bool = typer.Option(False, "--pareto", help="Also sweep the CO2 price and print the cost-vs-CO2 front."),
    workers: int = typer.Option(None, help="Parallel processes for independent heats (default: CPU count)."),
    history: Path = typer.Option(None, "--history", help="Historical heats (file or directory): warn about "
                                 "schedule heats that are already in it."),
    explain: bool = typer.Option(False, "--explain", help="Also show, per heat, the limits its plan sits on "
                                 "(the optimizer's internal constraint names, e.g. final_Mn_wt_pct min 1.3)."),
) -> None:
    """Recommend, for every planned heat, the kg of each material, arc energy (kWh) and number of samples that
    land it in spec with the grade's confidence at the lowest cost and CO2. Writes JSON and Parquet, prints one
    line per heat, then the totals against today's practice (money; CO2 separately) and a one-line summary."""
    from connectors.recommendations import load_surrogates, write_recommendation
    from optimizer.dosing import optimize_heats, to_recommendation
    from optimizer.dosing.pareto import pareto_front
    from optimizer.savings import day_savings, practice_costs
    from optimizer.schedule import read_schedule

    cfg = config_or_exit(config)
    try:
        sched = read_schedule(schedule, cfg)
    except DataFileError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    if not sched.report.empty:
        console.print(f"[yellow]{len(sched.report)} schedule problems (those heats are skipped):[/]")
        for r in sched.report.itertuples(index=False):
            console.print(f"  row {r.row} heat {r.heat_id!r}: {r.field}: {r.reason}", highlight=False)
    _warn(sched, schedule, cfg, history)
    if not sched.heats:
        fail(f"{schedule}: no valid heats to optimize", EXIT_BAD_INPUT)
    try:
        sur = load_surrogates(cfg, surrogates, tracking_uri)
    except (LookupError, ValueError) as exc:
        fail(str(exc), EXIT_FAILED)
    with progress_bar(len(sched.heats)) as tell:
        result = optimize_heats(cfg, sched.heats, sur, workers=workers, progress=tell)
    rec = to_recommendation(cfg, sched.heats, result, getattr(sur, "versions", {}))
    try:
        paths = write_recommendation(rec, cfg, out_dir)
    except ValueError as exc:
        fail(str(exc), EXIT_FAILED)
    _print_heats(cfg, rec, result, explain)
    out.print(f"recommendation {rec.recommendation_id} written to {paths[0]} and {paths[1]}")
    if pareto:
        with progress_bar(len(sched.heats)) as tell:
            front = pareto_front(cfg, sched.heats, sur, workers=workers, progress=tell)
        _print_pareto(front, cfg.plant.currency)
    _print_totals(cfg, rec, day_savings(cfg, rec, practice_costs(cfg, sched.heats)))
    if any(not h.feasible for h in rec.heats):
        raise typer.Exit(EXIT_INFEASIBLE)


def _warn(sched: Schedule, schedule: Path, cfg, history: Path | None) -> None:  # noqa: ANN001
    """Print the schedule's warnings: planned before now, heat already in ``history`` (those heats are planned)."""
    import pandas as pd

    from connectors.files import load_heats
    from optimizer.schema import KEY
    from optimizer.validation import schedule_warnings

    ids: list[str] = []
    if history is not None:
        try:
            ids = load_heats(history, cfg).heats.get(KEY, pd.Series(dtype=str)).astype(str).tolist()
        except DataFileError as exc:
            fail(f"--history: {exc}", EXIT_BAD_INPUT)
    warn = schedule_warnings(sched.heats, pd.Timestamp.now(tz="UTC"), ids, str(schedule), sched.lines)
    if not warn.empty:
        console.print(f"[yellow]{len(warn)} schedule warnings (those heats are still planned):[/]")
        for r in warn.head(10).itertuples(index=False):
            console.print(f"  row {r.row} heat {r.heat_id!r}: {r.field}: {r.reason}", highlight=False)
        if len(warn) > 10:
            console.print(f"  ... and {len(warn) - 10} more", highlight=False)


def _print_heats(cfg: PlantConfig, rec: Recommendation, result: DosingResult, explain: bool) -> None:
    """One row per heat: setpoints, money (material + energy + sampling) and CO2, and whether it has a plan;
    ``explain`` adds the limits each plan sits on, by their internal names."""
    from rich.table import Table

    from optimizer.costs import CostCoefficients, plan_cost

    cols = ["heat", "grade", "additions kg", "arc kWh", "samples", f"money {rec.currency}", "CO2 kg", "plan"]
    table = Table(*cols, *(["binding limits (internal names)"] if explain else []),
                  title=f"Recommendation {rec.recommendation_id} ({result.status}, max gap {result.max_gap:.2%})")
    coef = CostCoefficients.from_config(cfg)
    for h, r in zip(rec.heats, result.heats, strict=True):
        adds = ", ".join(f"{m} {kg:.0f}" for m, kg in h.additions_kg.items() if kg > 0)
        c = plan_cost(coef, h.additions_kg, h.arc_energy_kWh, h.n_samples)
        plan = (h.diagnosis or "planned") if h.feasible else f"INFEASIBLE: {h.diagnosis}"
        cells = [h.heat_id, h.grade, adds, f"{h.arc_energy_kWh:.0f}", str(h.n_samples),
                 f"{c.money:,.0f}" if h.feasible else "", f"{1000 * c.co2_t:,.0f}" if h.feasible else "", plan]
        table.add_row(*cells, *(["; ".join(r.binding)] if explain else []))
    out.print(table)


def _print_totals(cfg: PlantConfig, rec: Recommendation, saved: Savings) -> None:
    """The day against today's practice (optimizer.savings: the report's figures), then the one-line summary."""
    from rich.table import Table

    from optimizer.savings import day_line, totals_rows

    table = Table("", "today's practice", "recommended", "saved", "saved %",
                  title=f"Totals against today's practice over the {saved.heats} planned heats (heats without a plan "
                        "run today's practice and save nothing); money is what the plant pays, CO2 is shown on its "
                        "own, the internal CO2 charge is not money paid")
    for row in totals_rows(saved, cfg.plant.currency):
        table.add_row(*row)
    out.print(table)
    out.print(day_line(rec, saved, cfg.plant.currency), highlight=False, soft_wrap=True)


def _print_pareto(front, currency: str) -> None:  # noqa: ANN001
    from rich.table import Table

    table = Table("CO2 price per t", f"cost {currency}", "CO2 t", "infeasible heats", "dominated",
                  title="Cost versus CO2 (money cost without the CO2 charge)")
    for p in front:
        table.add_row(f"{p.co2_price_per_t:g}", f"{p.cost:,.0f}", f"{p.co2_kg / 1000:,.2f}", str(p.infeasible_heats),
                      "yes" if p.dominated else "")
    out.print(table)
