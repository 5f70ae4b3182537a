"""CLI plumbing: progress bars draw on a terminal only, `dosing --help` stays light, registry plots leave
matplotlib's global state alone."""

from __future__ import annotations

import importlib
import io
import json
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from rich.console import Console

from connectors.cli.app import progress_bar
from connectors.model_registry import _log_plots
from connectors.tracking import open_store

ROOT = Path(__file__).resolve().parents[2]
CLI_APP = importlib.import_module("connectors.cli.app")  # the module (``connectors.cli.app`` is the Typer app)
HEAVY = ("pandas", "numpy", "mlflow", "pyomo", "sklearn", "matplotlib", "asyncua", "scipy", "pydantic")


def test_progress_bar_draws_on_a_terminal_and_nothing_elsewhere(monkeypatch):
    for terminal, drawn in ((True, True), (False, False)):
        buf = io.StringIO()
        monkeypatch.setattr(CLI_APP, "console", Console(file=buf, force_terminal=terminal, width=100))
        with progress_bar(3) as tell:
            for k in (1, 2, 3):
                tell("solve each heat", k, 3)
        assert ("solve each heat" in buf.getvalue()) == drawn and (buf.getvalue() == "") != drawn, buf.getvalue()


def test_importing_the_cli_loads_no_heavy_library():
    """`dosing --help` imports connectors.cli only: the data and solver libraries load inside the commands."""
    code = ("import sys, json, connectors.cli; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert json.loads(out.stdout) == []


def test_registry_plots_keep_the_callers_backend_and_figures(tmp_path, monkeypatch):
    """Logging a model's diagnostics must not switch a notebook's backend or leave pyplot figures open."""
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # a backend the caller chose (a notebook's would be inline)
    try:
        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # a file store: no database to create (SQLite
        store = open_store(None, (tmp_path / "mlruns").as_uri())  # migrations take ~20 s on a loaded machine)
        pred = pd.DataFrame({"actual": np.arange(6.0), "predicted": np.arange(6.0) + 0.1,
                             "start_time": pd.date_range("2026-01-05", periods=6, freq="h")})
        opened = plt.get_fignums()
        with store.run("registry-plots") as run:
            _log_plots(run, "final_C_wt_pct", pred)
        assert matplotlib.get_backend() == "svg" and plt.get_fignums() == opened
        files = [a.path for a in store.client.list_artifacts(run.run_id)]
        assert files == ["diagnostics_final_C_wt_pct.png"]
    finally:
        matplotlib.use(before)
