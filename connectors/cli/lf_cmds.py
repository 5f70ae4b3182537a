"""``dosing lf ...``: the real ladle-furnace export (7-file layout): quality, training, prediction."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from connectors.cli.app import EXIT_BAD_INPUT, EXIT_FAILED, ConfigOption, app, config_or_exit, fail, out
from optimizer.errors import DataFileError

if TYPE_CHECKING:
    import pandas as pd

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


def _load_stages(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Usable heats and their stage table."""
    from connectors.ladle_files import read_ladle_dir
    from optimizer.ladle.adapter import build_heats
    from optimizer.ladle.stages import build_stages

    try:
        tables = read_ladle_dir(data)
        heats, samples, _ = build_heats(tables)
        return heats, build_stages(tables, heats, samples)
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
          kind: str = typer.Option("auto", help="auto (rolling-origin choice among the decision-time kinds) or "
                                   "one kind by name (an unknown name lists them)."),
          n_test: int = typer.Option(None, help="Latest heats held out for the time-ordered test (default: 488, "
                                     "the public result's test size)."),
          tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow tracking URI.")) -> None:
    """Train the final-temperature model: chosen by rolling origin on the earlier heats, tested once on the
    latest ``--n-test``, refitted on all heats, logged and registered in MLflow."""
    from connectors.ladle_registry import log_ladle_model
    from optimizer.ladle.final import N_TEST_PUBLIC, fit_final, holdout_figures, split_later
    from optimizer.ladle.predictors import KINDS

    n_test = N_TEST_PUBLIC if n_test is None else n_test
    if kind != "auto" and kind not in KINDS:
        fail(f"The 'kind' parameter must be one of auto, {', '.join(KINDS)}. Got {kind!r} instead.", EXIT_BAD_INPUT)
    cfg = config_or_exit(config)
    heats, stages = _load_stages(data)
    chosen = None if kind == "auto" else kind
    try:
        train_h, test_h = split_later(heats, n_test)
        evaluated = fit_final(train_h, stages, chosen)
        evaluated.metrics = holdout_figures(evaluated, test_h, stages)
        model = fit_final(heats, stages, evaluated.kind)
    except ValueError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    version = log_ladle_model(cfg, model, evaluated, heats, stages, tracking_uri)
    x = evaluated.metrics
    out.print(f"{evaluated.kind} (decided at the {evaluated.predictor.decided_at} measurement): MAE {x['mae']:.2f} "
              f"degC on the latest {int(x['n'])} heats, {100 * x['share_above_10']:.1f} % above 10 degC, 90% "
              f"interval coverage {x['coverage_90']:.3f}; registered version {version}")


@lf.command("predict")
def predict(data: Path = DataOption, out_file: Path = typer.Option(..., "--out", help="CSV to write."),
            config: Path = ConfigOption, tracking_uri: str = typer.Option(None, "--tracking-uri"),
            model_uri: str = typer.Option(None, help="MLflow model URI (default: latest registered version)."),
            confidence: float = typer.Option(0.9, help="Interval confidence.")) -> None:
    """Predict each heat's final temperature with an interval: CSV with key,
    predicted_final_temperature_degC, low_<pct>, high_<pct> (low_90, high_90 by default)."""
    from connectors.ladle_registry import load_latest

    cfg = config_or_exit(config)
    heats, stages = _load_stages(data)
    try:
        model = load_latest(cfg, tracking_uri, model_uri)
        iv = model.interval(heats, stages, confidence)
    except LookupError as exc:
        fail(str(exc), EXIT_FAILED)
    except ValueError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    import pandas as pd

    pct = f"{100 * confidence:g}".replace(".", "_")
    table = pd.DataFrame({"key": iv.index, "predicted_final_temperature_degC": iv["predicted_degC"].to_numpy(),
                          f"low_{pct}": iv["low_degC"].to_numpy(), f"high_{pct}": iv["high_degC"].to_numpy()})
    table.to_csv(out_file, index=False)
    out.print(f"{len(table)} predictions ({model.kind}, decided at the {model.predictor.decided_at} measurement) "
              f"written to {out_file}")
