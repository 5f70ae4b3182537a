"""``dosing train`` and ``dosing models``: surrogate training and the MLflow model registry."""

from __future__ import annotations

from pathlib import Path

import typer

from connectors.cli.app import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    ConfigOption,
    app,
    config_or_exit,
    fail,
    out,
    print_data_problems,
    progress_bar,
)
from optimizer.errors import DataFileError

TrackingOption = typer.Option(None, "--tracking-uri", help="MLflow tracking URI, e.g. http://127.0.0.1:5000 "
                              "(default: the config's, else the local store .dosing/mlflow.db).")
models_app = typer.Typer(help="List, promote and roll back surrogate model versions in MLflow.",
                         invoke_without_command=True)
app.add_typer(models_app, name="models")


@app.command("train")
def train(
    data: Path = typer.Option(..., "--data", "-d", help="Historical heats: a CSV/Parquet file or a directory."),
    config: Path = ConfigOption,
    tracking_uri: str = TrackingOption,
    residual: bool = typer.Option(False, "--residual", help="Also compare non-linear residual structures "
                                  "(GBM/forest/MLP over context+decisions); chosen only when >5 % better in CV."),
) -> None:
    """Learn final chemistry and temperature from historical heats, log the run to MLflow, register a new
    version of every outcome model and promote it to champion only if it beats the current one on the most
    recent heats."""
    from rich.table import Table

    from connectors.files import load_heats
    from connectors.model_registry import log_and_register
    from optimizer.surrogates import constrained_outcomes, train_surrogates
    from optimizer.validation import FILE_FIELD

    cfg = config_or_exit(config)
    try:
        loaded = load_heats(data, cfg)
    except DataFileError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    print_data_problems(loaded.report, loaded.notes)
    outcomes = constrained_outcomes(cfg)
    with progress_bar(len(outcomes), "outcomes") as tell:
        done = iter(range(1, len(outcomes) + 1))
        try:
            sset, report = train_surrogates(cfg, loaded.heats, residual=residual,
                                             progress=lambda o: tell(f"trained {o}", next(done), len(outcomes)))
        except ValueError as exc:
            unusable = loaded.report[loaded.report["field"] == FILE_FIELD]["source"].map(lambda s: Path(s).name)
            why = f" ({len(unusable)} file(s) could not be used: {', '.join(unusable)})" if len(unusable) else ""
            fail(f"{exc}{why}", EXIT_BAD_INPUT)
    promotions = log_and_register(cfg, sset, report, loaded.heats, tracking_uri)
    table = Table("outcome", "structure", "test MAE", "fixed-yield MAE", "coverage 90%", "version", "champion?",
                  title=f"Trained on {report.n_train} heats, calibrated on {report.n_calibration}, "
                        f"tested on the latest {report.n_test}")
    for p in promotions:
        t = report.test[p.outcome]
        verdict = "promoted" if p.promoted else f"kept (champion MAE {p.champion_mae:.4g} on recent heats)"
        fixed = report.baseline_test_mae[p.outcome]
        cov = t.get("closed_loop_coverage_90", t["coverage_90"])  # temperature: around the aim, closed loop
        table.add_row(p.outcome, report.chosen[p.outcome], f"{t['mae']:.4g}", f"{fixed:.4g}",
                      f"{cov:.2f}", p.version, verdict)
    out.print(table)


@models_app.callback()
def models(ctx: typer.Context, config: Path = ConfigOption, tracking_uri: str = TrackingOption) -> None:
    """Without a subcommand: every version of every outcome model, its aliases and key metrics."""
    from rich.table import Table

    from connectors.model_registry import list_models

    if ctx.invoked_subcommand is not None:
        return
    frame = list_models(config_or_exit(config), tracking_uri)
    if frame.empty:
        out.print("no models registered yet: run `dosing train --data DIR`")
        return
    table = Table(*frame.columns, title="Surrogate models")
    for row in frame.itertuples(index=False):
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    out.print(table)


@models_app.command("promote")
def promote_cmd(outcome: str = typer.Option(..., help="Outcome, e.g. final_Mn_wt_pct."),
                version: str = typer.Option(..., help="Model version to make champion."),
                config: Path = ConfigOption, tracking_uri: str = TrackingOption) -> None:
    """Make a model version the champion by hand (the old champion is kept as previous_champion)."""
    from connectors.model_registry import promote

    try:
        promote(config_or_exit(config), outcome, version, tracking_uri)
    except Exception as exc:  # mlflow raises MlflowException for unknown models/versions
        fail(f"cannot promote {outcome} version {version}: {exc}", EXIT_FAILED)
    out.print(f"{outcome} version {version} is now champion")


@models_app.command("rollback")
def rollback_cmd(outcome: str = typer.Option(..., help="Outcome, e.g. final_Mn_wt_pct."),
                 config: Path = ConfigOption, tracking_uri: str = TrackingOption) -> None:
    """Give the champion alias back to the previous champion."""
    from connectors.model_registry import rollback

    try:
        v = rollback(config_or_exit(config), outcome, tracking_uri)
    except LookupError as exc:
        fail(str(exc), EXIT_FAILED)
    out.print(f"{outcome}: champion rolled back to version {v}")
