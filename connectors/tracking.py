"""Where MLflow tracking lives: the config's URI, a --tracking-uri override, or a local store.

The embedded default is a SQLite store ``.dosing/mlflow.db`` (artifacts in ``.dosing/mlartifacts``) under
the working directory, so no server is needed. Pass ``http://host:port`` to use a real ``mlflow server``.

Nothing here touches MLflow's process-wide ("fluent") state: :func:`open_store` returns a :class:`TrackingStore`
holding an explicit ``MlflowClient(tracking_uri=uri, registry_uri=uri)`` and the experiment id, and every run
is written through :class:`RunLog` with that client. Two stores used in one process never mix.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from optimizer.config import PlantConfig

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

LOCAL_DIR = ".dosing"
DEFAULT_EXPERIMENT = "steel-dosing"


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


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class TrackingStore:
    """One MLflow store: its URI, a client bound to it (tracking and registry) and the experiment's id."""

    uri: str
    client: MlflowClient
    experiment_id: str

    @contextmanager
    def run(self, name: str, parent: RunLog | None = None, tags: Mapping[str, str] | None = None) -> Iterator[RunLog]:
        """A run in this store's experiment (nested under ``parent``), FINISHED on exit or FAILED on an error."""
        all_tags = {**(tags or {}), **({"mlflow.parentRunId": parent.run_id} if parent is not None else {})}
        run = self.client.create_run(self.experiment_id, run_name=name, tags=all_tags)
        log = RunLog(self.client, run.info.run_id)
        try:
            yield log
        except BaseException:
            self.client.set_terminated(log.run_id, "FAILED")
            raise
        self.client.set_terminated(log.run_id, "FINISHED")


@dataclass(frozen=True)
class RunLog:
    """Params, metrics, tags and artifacts of one run, written with the store's client."""

    client: MlflowClient
    run_id: str

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.client.log_batch(self.run_id, params=[Param(k, str(v)) for k, v in params.items()])

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_dict(self, data: dict[str, Any], artifact_file: str) -> None:
        self.client.log_dict(self.run_id, data, artifact_file)

    def log_artifact(self, path: Path) -> None:
        self.client.log_artifact(self.run_id, str(path))


def open_store(cfg: PlantConfig | None, where: TrackingStore | str | None = None,
               workdir: Path | None = None) -> TrackingStore:
    """The store at ``where`` (a store is returned as it is; a URI or None is resolved by
    :func:`resolve_tracking_uri`), with the config's experiment created if it is missing."""
    if isinstance(where, TrackingStore):
        return where
    uri = resolve_tracking_uri(cfg, where, workdir)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = cfg.mlflow.experiment if cfg is not None else DEFAULT_EXPERIMENT
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return TrackingStore(uri, client, exp.experiment_id)
    location = None
    if uri.startswith("sqlite:///"):  # artifacts beside the database (or in workdir's .dosing), never shared
        beside = Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts"
        location = local_artifact_root(workdir) if workdir is not None else _mkdir(beside).resolve().as_uri()
    return TrackingStore(uri, client, client.create_experiment(name, artifact_location=location))


def log_pyfunc(store: TrackingStore, run: RunLog, python_model: Any, input_example: Any,
               pip_requirements: list[str], registered_name: str, tags: Mapping[str, str] | None = None) -> str:
    """Save ``python_model`` as a pyfunc, log it as the run's model and register it as a new version of
    ``registered_name`` (with ``tags``, in one call: a kill cannot leave an untagged version); returns the version."""
    client = store.client
    logged = client.create_logged_model(store.experiment_id, name="model", source_run_id=run.run_id)
    with tempfile.TemporaryDirectory() as d, warnings.catch_warnings(), \
            contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")  # cloudpickle is deliberate (our own code); quiet registry
        path = Path(d) / "model"
        mlflow.pyfunc.save_model(path, python_model=python_model, input_example=input_example,
                                 pip_requirements=pip_requirements)
        client.log_model_artifacts(logged.model_id, str(path))
    client.finalize_logged_model(logged.model_id, "READY")
    try:
        client.create_registered_model(registered_name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    version = client.create_model_version(registered_name, source=logged.artifact_location, run_id=run.run_id,
                                          tags=dict(tags) if tags else None, model_id=logged.model_id)
    return str(version.version)


def load_pyfunc(store: TrackingStore, name: str, version: str) -> Any:
    """The Python model of version ``version`` of ``name``, downloaded from this store (never the global one)."""
    return load_pyfunc_at(store, store.client.get_model_version_download_uri(name, version))


def load_pyfunc_at(store: TrackingStore, source: str) -> Any:
    """The Python model at an artifact URI (``runs:/...``, ``file://...``, ``mlflow-artifacts:/...``) of this
    store; ``models:/<name>/<version>`` and ``models:/<name>@<alias>`` are resolved in this store's registry."""
    if source.startswith("models:/"):
        source = _registry_source(store.client, source)
    with tempfile.TemporaryDirectory() as d:
        local = mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=d, tracking_uri=store.uri)
        return mlflow.pyfunc.load_model(local).unwrap_python_model()


def _registry_source(client: MlflowClient, uri: str) -> str:
    ref = uri.removeprefix("models:/")
    name, _, alias = ref.partition("@")
    if alias:
        return client.get_model_version_download_uri(name, client.get_model_version_by_alias(name, alias).version)
    name, _, version = ref.rpartition("/")
    if not name or not version.isdigit():
        raise ValueError(f"model URI {uri!r} is neither models:/<name>/<version> nor models:/<name>@<alias>")
    return client.get_model_version_download_uri(name, version)
