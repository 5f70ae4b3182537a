"""Surrogates in MLflow: log every training run, register each outcome, promote by the champion rule, load.

* One parent run per training (params, data fingerprint, per-outcome child runs with metrics, plots and the
  model). Each outcome is a registered model ``<prefix>_<outcome>``; a new version is a challenger.
* A challenger takes the alias ``champion`` only when its MAE on the most recent heats (the training's test
  slice, the latest in time) beats the current champion's on the same heats; the comparison is logged. A
  champion of another structure (a deliberate code change) or one that no longer loads is replaced.
* A version registered by the nightly run carries the model-version tag ``night_id``; a rerun of the same night
  (after a kill or a failed later step) reuses the versions its earlier attempt registered instead of
  registering them again.
* ``load_champions`` rebuilds the exact ``OutcomeSurrogate`` objects and refuses models whose features do not
  match the current plant config.

Every function takes ``store``: a :class:`~connectors.tracking.TrackingStore` (its explicit client), a tracking
URI or None (the config's, else the local store). MLflow's process-wide state is never set.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModel

from connectors.tracking import RunLog, TrackingStore, load_pyfunc, log_pyfunc, open_store
from optimizer.config import PlantConfig
from optimizer.surrogates import OutcomeSurrogate, SurrogateSet, TrainingReport, constrained_outcomes
from optimizer.surrogates.domain import ApplicabilityDomain
from optimizer.surrogates.features import context_features, decision_features, holdout_split, time_order

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
logging.getLogger("mlflow").setLevel(logging.ERROR)
log = logging.getLogger(__name__)
CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous_champion"
NIGHT_TAG = "night_id"
PIP_REQUIREMENTS = ["steel-dosing", "scikit-learn", "pandas", "numpy"]


class SurrogateModel(PythonModel):
    """pyfunc wrapper: ``predict`` gives the outcome; the surrogate object itself travels with it."""

    def __init__(self, surrogate: OutcomeSurrogate, domain: ApplicabilityDomain) -> None:
        self.surrogate = surrogate
        self.domain = domain

    def predict(self, context: object, model_input: pd.DataFrame,  # noqa: ARG002
                params: dict[str, object] | None = None) -> np.ndarray:
        """The outcome for every row of ``model_input`` (the surrogate's context and decision columns)."""
        return self.surrogate.predict(model_input)


@dataclass
class Promotion:
    """Outcome of the champion/challenger comparison for one outcome."""

    outcome: str
    version: str
    promoted: bool
    challenger_mae: float
    champion_mae: float | None


def registered_name(cfg: PlantConfig, outcome: str) -> str:
    """Registered-model name of an outcome."""
    return f"{cfg.mlflow.model_prefix}_{outcome}"


def data_fingerprint(heats: pd.DataFrame) -> str:
    """SHA-256 of the canonical table's content (row order and values)."""
    return hashlib.sha256(pd.util.hash_pandas_object(heats, index=False).to_numpy().tobytes()).hexdigest()


def recent_window(heats: pd.DataFrame) -> pd.DataFrame:
    """The most recent heats the champion rule compares on: the latest 15 % of the table by start time (the
    training's test slice, never seen by the challenger's fit or calibration)."""
    return time_order(heats).iloc[holdout_split(len(heats))[2]]


def night_versions(cfg: PlantConfig, night_id: str, store: TrackingStore | str | None = None) -> dict[str, str]:
    """Outcome -> model version already registered by the night ``night_id`` (tag ``night_id``)."""
    client = open_store(cfg, store).client
    found = {}
    for outcome in constrained_outcomes(cfg):
        name = registered_name(cfg, outcome)
        tagged = [v for v in client.search_model_versions(f"name='{name}'") if v.tags.get(NIGHT_TAG) == night_id]
        if tagged:
            found[outcome] = str(min(int(v.version) for v in tagged))
    return found


def log_and_register(cfg: PlantConfig, sset: SurrogateSet, report: TrainingReport, heats: pd.DataFrame,
                     store: TrackingStore | str | None = None, night_id: str | None = None) -> list[Promotion]:
    """Log a training run, register one version per outcome and apply the champion rule. With ``night_id``,
    each new version is tagged with it, and an outcome that night already registered reuses that version."""
    st = open_store(cfg, store)
    recent = recent_window(heats)
    reuse = night_versions(cfg, night_id, st) if night_id else {}
    promotions = []
    with st.run("train-surrogates") as parent:
        parent.log_params({"n_heats": len(heats), "n_train": report.n_train, "n_calibration": report.n_calibration,
                           "n_test": report.n_test, "data_fingerprint": data_fingerprint(heats),
                           "recent_window_first_heat": str(recent["heat_id"].iloc[0]),
                           "recent_window_heats": len(recent)})
        for outcome, sur in sset.outcomes.items():
            with st.run(outcome, parent=parent) as run:
                if outcome in reuse:
                    version = reuse[outcome]
                    run.set_tags({"reused_version": f"v{version}, registered by an earlier attempt of night "
                                  f"{night_id}"})
                else:
                    version = _log_outcome(cfg, st, run, sur, sset.domain, report, recent, night_id)
                promotions.append(_champion_rule(cfg, st, run, outcome, version, sur, recent))
        parent.set_tags({"parent_run": parent.run_id})
    return promotions


def _log_outcome(cfg: PlantConfig, store: TrackingStore, run: RunLog, sur: OutcomeSurrogate,
                 domain: ApplicabilityDomain, report: TrainingReport, recent: pd.DataFrame,
                 night_id: str | None = None) -> str:
    outcome = sur.outcome
    run.log_params({"outcome": outcome, "structure": sur.structure_name})
    run.log_metrics({f"test_{k}": v for k, v in sur.metrics.items() if np.isfinite(v)})
    run.log_metrics({f"cv_mae_{_metric_key(k)}": v for k, v in report.cv_mae[outcome].items()})
    run.log_metrics({"fixed_yield_test_mae": report.baseline_test_mae[outcome]})
    for name, scores in report.candidate_test.get(outcome, {}).items():
        key = _metric_key(name)
        run.log_metrics({f"candidate_test_mae_{key}": scores["mae"], f"candidate_test_rmse_{key}": scores["rmse"]})
    run.log_dict(describe(sur, domain), "surrogate.json")
    run.log_metrics({f"test_mae_grade_{g}": v for g, v in report.test_by_grade[outcome].items()})
    _log_plots(run, outcome, report.test_predictions[outcome])
    example = recent[sur.context_features + sur.decision_features].head(3).astype({"n_samples": float})
    return log_pyfunc(store, run, SurrogateModel(sur, domain), example, PIP_REQUIREMENTS,
                      registered_name(cfg, outcome), {NIGHT_TAG: night_id} if night_id else None)


def _metric_key(name: str) -> str:
    """Candidate name as an MLflow metric key (``context_recovery+gbm`` -> ``context_recovery__gbm``)."""
    return re.sub(r"[^A-Za-z0-9_.\-/ ]", "__", name)


def describe(sur: OutcomeSurrogate, domain: ApplicabilityDomain) -> dict:
    """Human-readable description logged next to the model: structure, features known when, interval tables
    by number of samples, grade factors, domain. The exact object travels in the pyfunc (cloudpickle)."""
    w = sur.widths
    return json.loads(json.dumps({
        "outcome": sur.outcome, "structure": sur.structure_name, "decision_linear": sur.decision_linear,
        "context_features": sur.context_features, "decision_features": sur.decision_features,
        "residual_features": sur.residual_features,
        "residual_model": type(sur.residual_model[-1]).__name__ if sur.residual_model is not None else None,
        "halfwidth_by_n_samples": {str(n): {str(c): q for c, q in t.items()} for n, t in w.by_n.items()},
        "calibration_heats_by_n_samples": {str(n): k for n, k in getattr(w, "counts", {}).items()},
        "grade_factor": w.grade_factor, "open_loop_halfwidth_90": w.open_loop,
        "domain_ranges": {g: {f: list(r) for f, r in fr.items()} for g, fr in domain.ranges.items()},
        "domain_total_addition_kg_per_t": {g: list(r) for g, r in getattr(domain, "totals", {}).items()},
        "test_metrics": sur.metrics,
    }, default=float))


def _log_plots(run: RunLog, outcome: str, pred: pd.DataFrame) -> None:
    """Test-heat diagnostics as a PNG artifact. A bare ``Figure`` (no pyplot): nothing global changes in the
    caller's process (backend, open figures), so training inside a notebook leaves its plots alone."""
    fig = Figure(figsize=(10, 4))
    a, b = fig.subplots(1, 2)
    a.scatter(pred["actual"], pred["predicted"], s=6)
    lo, hi = float(pred[["actual", "predicted"]].min().min()), float(pred[["actual", "predicted"]].max().max())
    a.plot([lo, hi], [lo, hi], "k--", lw=1)
    a.set(xlabel="actual", ylabel="predicted", title=f"{outcome}: test heats")
    b.plot(pd.to_datetime(pred["start_time"]), pred["actual"] - pred["predicted"], ".", ms=3)
    b.axhline(0, color="k", lw=1)
    b.set(xlabel="heat start", ylabel="residual", title="residuals over time")
    fig.autofmt_xdate()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"diagnostics_{outcome}.png"
        fig.savefig(path, dpi=80)
        run.log_artifact(path)


def _champion_rule(cfg: PlantConfig, store: TrackingStore, run: RunLog, outcome: str, version: str,
                   sur: OutcomeSurrogate, recent: pd.DataFrame) -> Promotion:
    client = store.client
    name = registered_name(cfg, outcome)
    y = recent[outcome].to_numpy(float)
    mae_new = float(np.mean(np.abs(y - sur.predict(recent))))
    client.set_registered_model_alias(name, CHALLENGER, version)
    champ = _alias_version(client, name, CHAMPION)
    if champ is not None and str(champ.version) == str(version):  # a reused version promoted by its first attempt
        run.set_tags({"champion_rule": f"v{version} is already champion (promoted by an earlier attempt)"})
        return Promotion(outcome, version, True, mae_new, None)
    mae_old = None
    if champ is not None:
        try:
            old = _load_surrogate(store, name, champ.version)
            if old.surrogate.structure_name != sur.structure_name:
                raise TypeError(f"structure changed from {old.surrogate.structure_name} to {sur.structure_name}")
            mae_old = float(np.mean(np.abs(y - old.surrogate.predict(recent))))
            old.surrogate.halfwidth(int(recent["n_samples"].iloc[0]), 0.9)  # still usable by the optimizer?
            first = recent[old.surrogate.context_features].iloc[0]
            old.surrogate.linear_terms({str(k): v for k, v in first.items()})
        except Exception as exc:  # a champion saved by older code that no longer loads or predicts
            log.warning("champion %s v%s cannot be evaluated (%s): the challenger replaces it", name,
                        champ.version, exc)
            run.set_tags({"champion_incompatible": f"v{champ.version}: {type(exc).__name__}"})
    promoted = mae_old is None or mae_new < mae_old
    run.log_metrics({"recent_mae_challenger": mae_new, "promoted": float(promoted)})
    run.set_tags({"champion_rule": f"challenger v{version} MAE {mae_new:.6g} vs champion "
                     + (f"v{champ.version} MAE {mae_old:.6g}" if champ is not None and mae_old is not None
                        else "none")
                     + f" on {len(recent)} recent heats: " + ("promoted" if promoted else "kept champion")})
    if mae_old is not None:
        run.log_metrics({"recent_mae_champion": mae_old})
    if promoted:
        if champ is not None:
            client.set_registered_model_alias(name, PREVIOUS, champ.version)
        client.set_registered_model_alias(name, CHAMPION, version)
    return Promotion(outcome, version, promoted, mae_new, mae_old)


def _alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _load_surrogate(store: TrackingStore, name: str, version: str) -> SurrogateModel:
    model = load_pyfunc(store, name, str(version))
    if not isinstance(model, SurrogateModel):
        raise TypeError(f"model {name} version {version} is a {type(model).__name__}, not a surrogate")
    return model


def champion_uris(cfg: PlantConfig, store: TrackingStore | str | None = None) -> dict[str, str]:
    """``models:/<name>/<version>`` of every constrained outcome's champion: what travels to remote workers."""
    st = open_store(cfg, store)
    uris = {}
    for outcome in constrained_outcomes(cfg):
        name = registered_name(cfg, outcome)
        champ = _alias_version(st.client, name, CHAMPION)
        if champ is None:
            raise LookupError(f"no champion model {name!r} in {st.uri}; run `dosing train` first")
        uris[outcome] = f"models:/{name}/{champ.version}"
    return uris


def load_by_uris(cfg: PlantConfig, uris: dict[str, str], store: TrackingStore | str | None = None) -> SurrogateSet:
    """Rebuild the surrogates from pinned ``models:/<name>/<version>`` URIs (signature-checked), read from
    ``store``'s registry."""
    st = open_store(cfg, store)
    outcomes, versions, domain = {}, {}, None
    for outcome, uri in uris.items():
        name, _, version = uri.removeprefix("models:/").rpartition("/")
        if not name or not version.isdigit():
            raise ValueError(f"model URI {uri!r} for {outcome} is not models:/<name>/<version>")
        wrapped = _load_surrogate(st, name, version)
        _check_signature(cfg, name, version, wrapped.surrogate)
        outcomes[outcome] = wrapped.surrogate
        versions[outcome] = f"{name}/{version}"
        domain = domain or wrapped.domain
    if domain is None:
        raise ValueError("no model URIs to load: every constrained outcome needs one (see champion_uris)")
    return SurrogateSet(outcomes, domain, versions)


def load_champions(cfg: PlantConfig, store: TrackingStore | str | None = None) -> SurrogateSet:
    """The champion surrogates of every outcome the config's grades limit (see module doc)."""
    st = open_store(cfg, store)
    return load_by_uris(cfg, champion_uris(cfg, st), st)


def _check_signature(cfg: PlantConfig, name: str, version: str, sur: OutcomeSurrogate) -> None:
    want = {"context": context_features(cfg), "decision": decision_features(cfg)}
    have = sur.signature()
    problems = []
    for kind in ("context", "decision"):
        missing = sorted(set(want[kind]) - set(have[kind]))
        extra = sorted(set(have[kind]) - set(want[kind]))
        if missing:
            problems.append(f"{kind} features missing from the model: {missing}")
        if extra:
            problems.append(f"{kind} features the config no longer has: {extra}")
    if problems:
        raise ValueError(f"model {name} version {version} does not match the plant config ("
                         + "; ".join(problems) + "); retrain with `dosing train`")


def promote(cfg: PlantConfig, outcome: str, version: str, store: TrackingStore | str | None = None) -> None:
    """Manually make ``version`` the champion (the old champion becomes ``previous_champion``)."""
    client = open_store(cfg, store).client
    name = registered_name(cfg, outcome)
    client.get_model_version(name, version)  # raises if it does not exist
    champ = _alias_version(client, name, CHAMPION)
    if champ is not None and champ.version != version:
        client.set_registered_model_alias(name, PREVIOUS, champ.version)
    client.set_registered_model_alias(name, CHAMPION, version)


def rollback(cfg: PlantConfig, outcome: str, store: TrackingStore | str | None = None) -> str:
    """Give the champion alias back to the previous champion; returns that version."""
    client = open_store(cfg, store).client
    name = registered_name(cfg, outcome)
    prev = _alias_version(client, name, PREVIOUS)
    if prev is None:
        raise LookupError(f"{name} has no previous champion to roll back to")
    champ = _alias_version(client, name, CHAMPION)
    client.set_registered_model_alias(name, CHAMPION, prev.version)
    if champ is not None:
        client.set_registered_model_alias(name, PREVIOUS, champ.version)
    return str(prev.version)


def list_models(cfg: PlantConfig, store: TrackingStore | str | None = None) -> pd.DataFrame:
    """Every version of every outcome model with its aliases and key test metrics."""
    client = open_store(cfg, store).client
    rows = []
    for outcome in constrained_outcomes(cfg):
        name = registered_name(cfg, outcome)
        for found in client.search_model_versions(f"name='{name}'"):
            v = client.get_model_version(name, found.version)  # search results omit aliases on some stores
            run = client.get_run(v.run_id) if v.run_id else None  # a version registered from outside a run
            m = run.data.metrics if run else {}
            structure = run.data.params.get("structure", "") if run else ""
            rows.append({"model": name, "version": int(v.version), "aliases": ",".join(v.aliases),
                         "structure": structure, "test_mae": m.get("test_mae"),
                         "coverage_90": m.get("test_coverage_90"), "fixed_yield_mae": m.get("fixed_yield_test_mae"),
                         "recent_mae": m.get("recent_mae_challenger")})
    return pd.DataFrame(rows).sort_values(["model", "version"]) if rows else pd.DataFrame(rows)
