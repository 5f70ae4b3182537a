"""The ladle-furnace final-temperature model in MLflow: log, register, load the latest version.

The registered object is a ``FinalModel`` (``optimizer.ladle.final``); its pyfunc takes a stage table
(``optimizer.ladle.stages.build_stages``) and returns the predicted final temperature per heat key, which serves
the kinds that need only stages (all decision-time kinds and ``stage_composed``).
"""

from __future__ import annotations

import pandas as pd
from mlflow.pyfunc import PythonModel

from connectors.model_registry import PIP_REQUIREMENTS, data_fingerprint
from connectors.tracking import TrackingStore, load_pyfunc_at, log_pyfunc, open_store
from optimizer.config import PlantConfig
from optimizer.ladle.final import FinalModel


class LadlePyfunc(PythonModel):
    """pyfunc wrapper carrying the fitted FinalModel (cloudpickle, deliberately: our own code)."""

    def __init__(self, model: FinalModel) -> None:
        self.ladle = model

    def predict(self, context: object, model_input: pd.DataFrame,  # noqa: ARG002
                params: dict[str, object] | None = None) -> pd.Series:
        """The final temperature (degC) for every heat of ``model_input``, indexed by heat key."""
        heats = pd.DataFrame({"heat_id": pd.unique(model_input["key"]).astype(str)})
        return self.ladle.predict(heats, model_input)


def model_name(cfg: PlantConfig) -> str:
    return f"{cfg.mlflow.model_prefix}_lf_final_temperature"


def log_ladle_model(cfg: PlantConfig, model: FinalModel, evaluated: FinalModel, heats: pd.DataFrame,
                    stages: pd.DataFrame, store: TrackingStore | str | None = None) -> str:
    """Log params, rolling-origin and time-ordered test metrics and the model; register a new version."""
    st = open_store(cfg, store)
    example = stages[stages["key"] == stages["key"].iloc[0]]
    with st.run("ladle-final-temperature") as run:
        run.log_params({"kind": model.kind, "decided_at": model.predictor.decided_at, "n_heats": len(heats),
                           "n_stages": len(stages), "data_fingerprint": data_fingerprint(stages)})
        run.log_metrics({**{f"test_{k}": v for k, v in evaluated.metrics.items()},
                            **{f"train_{k}": v for k, v in evaluated.selection.items()},
                            "halfwidth_90_degC": model.halfwidth(0.9)})
        return log_pyfunc(st, run, LadlePyfunc(model), example, PIP_REQUIREMENTS, model_name(cfg))


def load_latest(cfg: PlantConfig, store: TrackingStore | str | None = None, model_uri: str | None = None) -> FinalModel:
    """The model at ``model_uri`` (``models:/<name>/<version>``), or the latest registered version of the ladle
    model, from ``store``."""
    st = open_store(cfg, store)
    if model_uri is None:
        name = model_name(cfg)
        versions = st.client.search_model_versions(f"name='{name}'")
        if not versions:
            raise LookupError(f"no model {name!r} yet: run `dosing lf train --data DIR` first")
        model_uri = f"models:/{name}/{max(int(v.version) for v in versions)}"
    model = load_pyfunc_at(st, model_uri)
    if not isinstance(model, LadlePyfunc):
        raise TypeError(f"model {model_uri} is a {type(model).__name__}, not the ladle model")
    return model.ladle
