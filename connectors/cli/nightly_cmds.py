"""``dosing nightly``: the whole night in one dependable command."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from connectors.cli.app import ConfigOption, app, config_or_exit, console, fail, out


@app.command("nightly")
def nightly(
    history: Path = typer.Option(..., "--history", help="Historical heats: a file or a directory of daily files."),
    schedule: Path = typer.Option(..., "--schedule", help="Tomorrow's planned heats (CSV/Parquet)."),
    config: Path = ConfigOption,
    workdir: Path = typer.Option(Path(".dosing"), help="Recommendations, reports, lock and night records."),
    state_dir: Path = typer.Option(None, help="State directory of the running `dosing serve` to publish to "
                                   "(omit to skip publishing)."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow tracking URI."),
    pareto: bool = typer.Option(True, help="Include the cost-vs-CO2 front in the report."),
    day_draws: int = typer.Option(20, "--day-draws", min=0, help="Arrival states drawn per heat for the day's "
                                  "ranges of materials, energy and stock use (0: the point plan only)."),
) -> None:
    """Ingest history, validate, train and promote models, optimize tomorrow's schedule, write the HTML report,
    publish to the setpoint server and log the night to MLflow. Re-running the same night does nothing twice."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from connectors.nightly import NightlyError, run_nightly

    logging.basicConfig(level=logging.WARNING)
    cfg = config_or_exit(config)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("step {task.completed}/6"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("nightly", total=6)

        def progress(message: str) -> None:
            console.print(message, highlight=False)
            if message[:1].isdigit() and "/6 " in message[:5]:
                bar.update(task, completed=int(message[0]) - 1, description=message[4:])

        try:
            res = run_nightly(cfg, history, schedule, workdir, state_dir, tracking_uri, pareto, progress=progress,
                              day_draws=day_draws)
        except NightlyError as exc:
            fail(str(exc), exc.exit_code)
    out.print(f"night {res.night_id}: recommendation {res.recommendation_file}, report {res.report_file}, "
              f"published: {res.published}{' (already done earlier)' if res.skipped else ''}")
