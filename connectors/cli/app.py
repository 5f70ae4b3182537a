"""The ``dosing`` Typer application object and shared CLI helpers (config option, error exit, data notes)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

from optimizer.errors import ConfigError

if TYPE_CHECKING:
    from optimizer.config import PlantConfig

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

HELP = """Raw-material dosing optimizer for a ladle furnace.

Learns element recoveries, temperatures and energy from your plant's historical heats and recommends,
for every planned heat, how much of each alloy and flux to add, how much arc energy to use and how many
samples to take, so the heat lands in spec at the lowest cost, energy and CO2.

Every command reads the plant configuration (--config; default: the shipped example 100 t furnace).

Exit codes: 0 ok; 1 failed step (message says which); 2 bad input (config, data file, arguments);
3 infeasible heats (no setpoints for them); 4 publish to the DCS failed (recommendations kept).
"""

app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False, rich_markup_mode=None)
console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
out = Console(width=None if sys.stdout.isatty() else 160)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_PUBLISH = 0, 1, 2, 3, 4

ConfigOption = typer.Option(
    None, "--config", "-c", help="Plant configuration TOML (default: shipped example 100 t ladle furnace).",
    exists=False, dir_okay=False,
)


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """Print a clear error (no traceback) and exit with ``code``."""
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def config_or_exit(path: Path | None) -> PlantConfig:
    """Load the plant config, or exit 2 listing every invalid key."""
    from optimizer.config import load_config  # pydantic models: built when a command runs, not for --help

    try:
        return load_config(path)
    except ConfigError as exc:
        fail(str(exc), EXIT_BAD_INPUT)


def print_data_problems(report, notes: list[str], hint: str = "see `dosing validate`") -> None:  # noqa: ANN001
    """How files were read, every file that could not be used (by name, with the reason), and the count of
    rejected rows."""
    from optimizer.validation import FILE_FIELD, rejected_rows  # pandas: only when there is data to report

    for note in notes:
        console.print(f"note: {note}", highlight=False)
    if report.empty:
        return
    files = report[report["field"] == FILE_FIELD]
    for r in files.itertuples(index=False):
        console.print(f"[yellow]file error:[/] {r.reason}", highlight=False)
    rows = rejected_rows(report[report["field"] != FILE_FIELD])
    if rows:
        console.print(f"[yellow]{rows} rejected rows are left out ({hint})[/]", highlight=False)


@contextmanager
def progress_bar(total: int, what: str = "heats") -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on stderr, yielding ``tell(stage, done, total)``. Drawn only on a terminal and removed when
    done (``transient``); piped or captured output (cron, CliRunner) gets nothing from it, not even rich's
    closing newline."""
    if not console.is_terminal:
        yield _no_bar
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn(what), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=total)

        def tell(stage: str, done: int, of: int) -> None:
            bar.update(task, description=stage, completed=done, total=of)

        yield tell


def _no_bar(stage: str, done: int, total: int) -> None:
    """``tell`` when stderr is not a terminal."""


def stop_on_signals(stop: asyncio.Event) -> None:
    """Ctrl-C (SIGINT) and a service manager's SIGTERM set ``stop`` on the running loop, so a service finishes
    what it is doing, closes its sessions and exits 0. Installed explicitly: a process started with SIGINT
    ignored (a background job of a non-interactive shell) would otherwise never see Ctrl-C."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
