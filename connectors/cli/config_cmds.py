"""``dosing check-config``, ``dosing schema`` and ``dosing validate``: the plant config and data hygiene."""

from __future__ import annotations

from pathlib import Path

import typer

from connectors.cli.app import EXIT_BAD_INPUT, ConfigOption, app, config_or_exit, console, fail, out
from optimizer.errors import DataFileError


@app.command("check-config")
def check_config(config: Path = ConfigOption) -> None:
    """Check a plant configuration file and summarise it (elements, materials, grades, limits)."""
    cfg = config_or_exit(config)
    out.print(f"[green]OK[/] {config or 'shipped example config'}: {cfg.plant.name}")
    out.print(f"  elements:  {', '.join(cfg.elements)}")
    out.print(f"  materials: {', '.join(cfg.material_names)}")
    out.print(f"  grades:    {', '.join(cfg.grade_names)}")
    out.print(f"  samples per heat {cfg.sampling.samples_per_heat_min}..{cfg.sampling.samples_per_heat_max}, "
              f"cost per sample {cfg.sampling.cost_per_sample:.1f} {cfg.plant.currency}")


@app.command("schema")
def schema(config: Path = ConfigOption) -> None:
    """Print the canonical heat-table columns (names, units, required, plausible range) for this plant."""
    from optimizer.schema import schema_markdown

    out.print(schema_markdown(config_or_exit(config)), highlight=False, markup=False)


@app.command("validate")
def validate(
    data: Path = typer.Argument(..., help="Heat data: a CSV/Parquet file or a directory of daily heats*.csv files."),
    config: Path = ConfigOption,
    report: Path = typer.Option(None, "--report", "-r", help="Write the rejected-row report to this CSV."),
    strict: bool = typer.Option(False, help="Exit 2 when any row is rejected (default: report and keep going)."),
) -> None:
    """Check historical heat data against the schema: bad rows are listed (heat id, field, reason), good rows kept."""
    from connectors.files import load_heats, write_report
    from optimizer.validation import rejected_rows

    cfg = config_or_exit(config)
    try:
        loaded = load_heats(data, cfg)
    except DataFileError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    n_bad = rejected_rows(loaded.report)
    out.print(f"{len(loaded.heats)} good heats, {n_bad} rejected rows, {len(loaded.samples)} samples "
              f"from {len(loaded.files)} file(s)")
    for note in loaded.notes:
        out.print(f"note: {note}", highlight=False)
    if not loaded.report.empty:
        _print_report(loaded.report)
    if report is not None:
        write_report(loaded.report, report)
        out.print(f"report written to {report}")
    if strict and n_bad:
        raise typer.Exit(EXIT_BAD_INPUT)


def _print_report(report, limit: int = 50) -> None:  # noqa: ANN001
    from rich.table import Table

    table = Table("file", "row", "heat id", "field", "reason", title="Rejected rows")
    for r in report.head(limit).itertuples(index=False):
        table.add_row(Path(str(r.source)).name, str(r.row), str(r.heat_id), str(r.field), str(r.reason))
    console.print(table)
    if len(report) > limit:
        console.print(f"... and {len(report) - limit} more (use --report FILE for all)")
