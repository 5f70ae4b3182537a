"""``dosing lf ...``: the real ladle-furnace export (7-file layout): quality, training, prediction."""

from __future__ import annotations

from pathlib import Path

import typer

from connectors.cli.app import EXIT_BAD_INPUT, EXIT_FAILED, ConfigOption, app, config_or_exit, fail, out
from optimizer.errors import DataFileError

lf = typer.Typer(help="Ladle-furnace exports in the 7-file layout (data_arc.csv, data_temp.csv, ...).")
app.add_typer(lf, name="lf")
DataOption = typer.Option(..., "--data", "-d", help="Directory with data_arc.csv, data_bulk.csv, ... "
                          "(or the *_new.csv names).")


def _load(data: Path):  # noqa: ANN202
    from connectors.ladle_files import read_ladle_dir
    from optimizer.ladle.adapter import build_heats

    try:
        return build_heats(read_ladle_dir(data))
    except DataFileError as exc:
        fail(str(exc), EXIT_BAD_INPUT)


@lf.command("quality")
def quality(data: Path = DataOption, report: Path = typer.Option(None, help="Write every report row to CSV.")) -> None:
    """Data-quality report of an export: problems are listed (file, heat key, field, reason), not fatal."""
    from rich.table import Table

    heats, samples, rep = _load(data)
    out.print(f"{len(heats)} usable heats, {len(samples)} temperature measurements, {len(rep)} report rows")
    table = Table("file", "reason", "heats", title="Data quality")
    for (file, reason), n in rep.groupby(["file", "reason"]).size().sort_values(ascending=False).items():
        table.add_row(file, reason, str(n))
    out.print(table)
    if report is not None:
        rep.to_csv(report, index=False)


@lf.command("train")
def train(data: Path = DataOption, config: Path = ConfigOption,
          kind: str = typer.Option("gbm", help="gbm (gradient boosting) or heat_balance (ridge)."),
          tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow tracking URI.")) -> None:
    """Train the final-temperature model (time-ordered test on the latest 20 %), log and register it in MLflow."""
    from connectors.ladle_registry import log_ladle_model
    from optimizer.ladle.model import evaluate, fit

    cfg = config_or_exit(config)
    heats, _, _ = _load(data)
    try:
        evaluated = evaluate(heats, kind)
    except ValueError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    model = fit(heats, kind)
    version = log_ladle_model(cfg, model, evaluated, heats, tracking_uri)
    x = evaluated.metrics
    out.print(f"{kind}: MAE {x['mae']:.2f} degC on the latest {int(x['n_test'])} heats (RMSE {x['rmse']:.2f}, "
              f"90% interval coverage {x['coverage_90']:.3f}); registered version {version}")


@lf.command("predict")
def predict(data: Path = DataOption, out_file: Path = typer.Option(..., "--out", help="CSV to write."),
            config: Path = ConfigOption, tracking_uri: str = typer.Option(None, "--tracking-uri"),
            model_uri: str = typer.Option(None, help="MLflow model URI (default: latest registered version)."),
            confidence: float = typer.Option(0.9, help="Interval confidence.")) -> None:
    """Predict each heat's final temperature with an interval: CSV with key, predicted, low, high."""
    from connectors.ladle_registry import load_latest

    cfg = config_or_exit(config)
    heats, _, _ = _load(data)
    try:
        model = load_latest(cfg, tracking_uri, model_uri)
    except LookupError as exc:
        fail(str(exc), EXIT_FAILED)
    p, lo, hi = model.interval(heats, confidence)
    import pandas as pd

    pd.DataFrame({"key": heats["heat_id"], "predicted_final_temperature_degC": p, "low_degC": lo,
                  "high_degC": hi}).to_csv(out_file, index=False)
    out.print(f"{len(heats)} predictions written to {out_file}")
