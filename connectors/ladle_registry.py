"""The ladle-furnace final-temperature model in MLflow: log, register, load the latest version.

The registered object is a ``FinalModel`` (``optimizer.ladle.final``); its pyfunc takes a stage table
(``optimizer.ladle.stages.build_stages``) and returns the predicted final temperature per heat key, which serves
the kinds that need only stages (all decision-time kinds and ``stage_composed``).
"""

from __future__ import annotations

import contextlib
import io
import warnings

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from connectors.model_registry import PIP_REQUIREMENTS, data_fingerprint
from connectors.tracking import configure_mlflow
from optimizer.config import PlantConfig
from optimizer.ladle.final import FinalModel


class LadlePyfunc(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper carrying the fitted FinalModel (cloudpickle, deliberately: our own code)."""

    def __init__(self, model: FinalModel) -> None:
        self.ladle = model

    def predict(self, context: object, model_input: pd.DataFrame,  # noqa: ARG002
                params: dict[str, object] | None = None) -> np.ndarray:
        """The final temperature (degC) for every heat row of ``model_input``."""
        heats = pd.DataFrame({"heat_id": pd.unique(model_input["key"]).astype(str)})
        return self.ladle.predict(heats, model_input)


def model_name(cfg: PlantConfig) -> str:
    return f"{cfg.mlflow.model_prefix}_lf_final_temperature"


def log_ladle_model(cfg: PlantConfig, model: FinalModel, evaluated: FinalModel, heats: pd.DataFrame,
                    stages: pd.DataFrame, tracking_uri: str | None = None) -> str:
    """Log params, rolling-origin and time-ordered test metrics and the model; register a new version."""
    configure_mlflow(cfg, tracking_uri)
    example = stages[stages["key"] == stages["key"].iloc[0]]
    with mlflow.start_run(run_name="ladle-final-temperature"):
        mlflow.log_params({"kind": model.kind, "decided_at": model.predictor.decided_at, "n_heats": len(heats),
                           "n_stages": len(stages), "data_fingerprint": data_fingerprint(stages)})
        mlflow.log_metrics({**{f"test_{k}": v for k, v in evaluated.metrics.items()},
                            **{f"train_{k}": v for k, v in evaluated.selection.items()},
                            "halfwidth_90_degC": model.halfwidth(0.9)})
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            info = mlflow.pyfunc.log_model(name="model", python_model=LadlePyfunc(model),
                                           input_example=example,
                                           pip_requirements=PIP_REQUIREMENTS, registered_model_name=model_name(cfg))
    return str(info.registered_model_version)


def load_latest(cfg: PlantConfig, tracking_uri: str | None = None, model_uri: str | None = None) -> FinalModel:
    """The given model URI, or the latest registered version of the ladle model."""
    configure_mlflow(cfg, tracking_uri)
    if model_uri is None:
        versions = MlflowClient().search_model_versions(f"name='{model_name(cfg)}'")
        if not versions:
            raise LookupError(f"no model {model_name(cfg)!r} yet: run `dosing lf train --data DIR` first")
        model_uri = f"models:/{model_name(cfg)}/{max(int(v.version) for v in versions)}"
    return mlflow.pyfunc.load_model(model_uri).unwrap_python_model().ladle
