"""``dosing nightly``: the whole night in one dependable command."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from connectors.cli.app import ConfigOption, app, config_or_exit, console, fail, out, progress_bar


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
    publish to the setpoint server and log the night to MLflow. Re-running the same night does nothing twice.
    The last line sums the night up for a cron mail: heats planned and without a plan, published or not and
    where, and the saving against today's practice (money; CO2 separately)."""
    from connectors.nightly import NightlyError, run_nightly

    logging.basicConfig(level=logging.WARNING)
    cfg = config_or_exit(config)
    with progress_bar(6, "steps") as tell:

        def progress(message: str) -> None:
            console.print(message, highlight=False)
            if message[:1].isdigit() and "/6 " in message[:5]:
                tell(message[4:], int(message[0]) - 1, 6)

        try:
            res = run_nightly(cfg, history, schedule, workdir, state_dir, tracking_uri, pareto, progress=progress,
                              day_draws=day_draws)
        except NightlyError as exc:
            fail(str(exc), exc.exit_code)
    out.print(f"recommendation {res.recommendation_file}\nreport {res.report_file}"
              f"{' (night already done earlier)' if res.skipped else ''}", highlight=False, soft_wrap=True)
    out.print(res.summary, highlight=False, soft_wrap=True)  # last line: what a cron mail carries
