"""Where MLflow tracking lives: the config's URI, a --tracking-uri override, or a local store.

The embedded default is a SQLite store ``.dosing/mlflow.db`` (artifacts in ``.dosing/mlartifacts``) under
the working directory, so no server is needed. Pass ``http://host:port`` to use a real ``mlflow server``.
"""

from __future__ import annotations

import os
from pathlib import Path

from optimizer.config import PlantConfig

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

LOCAL_DIR = ".dosing"


def resolve_tracking_uri(cfg: PlantConfig | None, override: str | None = None, workdir: Path | None = None) -> str:
    """The tracking URI to use: ``override`` > config ``mlflow.tracking_uri`` > local SQLite store."""
    if override:
        return override
    if cfg is not None and cfg.mlflow.tracking_uri:
        return cfg.mlflow.tracking_uri
    base = (workdir or Path.cwd()) / LOCAL_DIR
    base.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(base / 'mlflow.db').resolve()}"


def local_artifact_root(workdir: Path | None = None) -> str:
    """Artifact location used with the local SQLite store (a ``file://`` URI)."""
    path = ((workdir or Path.cwd()) / LOCAL_DIR / "mlartifacts").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path.as_uri()


def configure_mlflow(cfg: PlantConfig | None, override: str | None = None, workdir: Path | None = None) -> str:
    """Point the mlflow client at the resolved URI and make sure the experiment exists; returns the URI."""
    import mlflow

    uri = resolve_tracking_uri(cfg, override, workdir)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    name = cfg.mlflow.experiment if cfg is not None else "steel-dosing"
    if mlflow.get_experiment_by_name(name) is None:
        kwargs = {"artifact_location": local_artifact_root(workdir)} if uri.startswith("sqlite") else {}
        mlflow.create_experiment(name, **kwargs)
    mlflow.set_experiment(name)
    return uri
