"""MLflow lifecycle through a real tracking server: train -> register -> champion rule -> load, plus refusals."""

from __future__ import annotations

import json
import tomllib
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from connectors.cli import app
from connectors.model_registry import list_models, load_champions, log_and_register, promote, rollback
from optimizer.config import default_config_path, parse_config
from optimizer.simulator import simulate_history
from optimizer.surrogates import train_surrogates
from tests.optimizer.surrogates.conftest import mn_only, synthetic_heats

pytestmark = pytest.mark.slow  # a real MLflow tracking server


@pytest.fixture(scope="module")
def history(cfg):
    heats, _ = simulate_history(cfg, 400, seed=12)
    return heats


@pytest.fixture(scope="module")
def mn_cfg(cfg):
    """The shipped config (prefix lf1) with grades limiting Mn only: its surrogates are Mn and the temperature, one
    of each kind of structure, and registering them takes 2 versions a time on the server instead of 9 (the fleet
    sweep in test_scale.py registers and loads all 9 on a real server)."""
    return mn_only(cfg)


@pytest.fixture(scope="module")
def trained(mn_cfg, history):
    """The surrogates and training report on ``history``, trained once for the tests that register them."""
    return train_surrogates(mn_cfg, history)


def _alias(uri: str, name: str, alias: str) -> str:
    url = f"{uri}/api/2.0/mlflow/registered-models/alias?name={name}&alias={alias}"
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)["model_version"]["version"]


def test_lifecycle_through_real_server(mn_cfg, history, trained, mlflow_server):
    cfg = mn_cfg
    sset, report = trained
    first = log_and_register(cfg, sset, report, history, mlflow_server)
    assert all(p.promoted and p.version == "1" for p in first)
    assert _alias(mlflow_server, "lf1_final_Mn_wt_pct", "champion") == "1"

    loaded = load_champions(cfg, mlflow_server)
    assert set(loaded.outcomes) == set(sset.outcomes)
    rows = history.tail(10)
    for o, sur in loaded.outcomes.items():
        np.testing.assert_allclose(sur.predict(rows), sset.outcomes[o].predict(rows))
    assert loaded.versions["final_Mn_wt_pct"] == "lf1_final_Mn_wt_pct/1"
    assert loaded.domain.bounds("S355J2", "add_SiMn_kg") == sset.domain.bounds("S355J2", "add_SiMn_kg")

    # a challenger trained on scrambled outcomes is worse on the (true) recent heats: registered, not promoted
    bad = history.copy()
    rng = np.random.default_rng(0)
    bad["final_Mn_wt_pct"] = rng.permutation(bad["final_Mn_wt_pct"].to_numpy())
    bset, breport = train_surrogates(cfg, bad)
    second = {p.outcome: p for p in log_and_register(cfg, bset, breport, history, mlflow_server)}
    assert second["final_Mn_wt_pct"].version == "2" and not second["final_Mn_wt_pct"].promoted
    assert second["final_Mn_wt_pct"].champion_mae < second["final_Mn_wt_pct"].challenger_mae
    assert _alias(mlflow_server, "lf1_final_Mn_wt_pct", "champion") == "1"
    assert _alias(mlflow_server, "lf1_final_Mn_wt_pct", "challenger") == "2"
    run = MlflowClient(mlflow_server).get_run(MlflowClient(mlflow_server).get_model_version(
        "lf1_final_Mn_wt_pct", "2").run_id)
    assert "kept champion" in run.data.tags["champion_rule"] and run.data.metrics["promoted"] == 0.0
    assert run.data.metrics["recent_mae_champion"] < run.data.metrics["recent_mae_challenger"]

    promote(cfg, "final_Mn_wt_pct", "2", mlflow_server)
    assert _alias(mlflow_server, "lf1_final_Mn_wt_pct", "champion") == "2"
    assert rollback(cfg, "final_Mn_wt_pct", mlflow_server) == "1"
    assert _alias(mlflow_server, "lf1_final_Mn_wt_pct", "champion") == "1"

    # the same through the CLI against the server
    run = CliRunner().invoke
    res = run(app, ["models", "promote", "--outcome", "final_Mn_wt_pct", "--version", "2", "--tracking-uri",
                    mlflow_server])
    assert res.exit_code == 0 and _alias(mlflow_server, "lf1_final_Mn_wt_pct", "champion") == "2", res.output
    res = run(app, ["models", "rollback", "--outcome", "final_Mn_wt_pct", "--tracking-uri", mlflow_server])
    assert res.exit_code == 0 and _alias(mlflow_server, "lf1_final_Mn_wt_pct", "champion") == "1", res.output
    res = run(app, ["models", "--tracking-uri", mlflow_server])
    assert res.exit_code == 0 and "lf1_final_temperature_degC" in res.output and "challenger" in res.output
    res = run(app, ["models", "promote", "--outcome", "final_Mn_wt_pct", "--version", "99", "--tracking-uri",
                    mlflow_server])
    assert res.exit_code != 0 and "cannot promote final_Mn_wt_pct version 99" in res.output

    table = list_models(cfg, mlflow_server)
    mn = table[table["model"] == "lf1_final_Mn_wt_pct"].set_index("version")
    assert "champion" in mn.loc[1, "aliases"] and mn.loc[1, "test_mae"] > 0


def test_mismatched_config_refused(history, trained, mlflow_server):
    # its own model prefix: registering as lf1 here would make the lifecycle test's first version a 2 whenever this
    # test ran first on the shared server (another order, or the same pytest-xdist worker)
    cfg = mn_only(_prefixed("mismatch"))
    raw = tomllib.loads(default_config_path().read_text())
    raw["mlflow"]["model_prefix"] = "mismatch"
    raw["materials"].append({"name": "FeTi70", "kind": "ferroalloy", "composition_wt_pct": {"C": 0.1, "Cr": 5.0},
                             "prior_recovery": {"C": 0.8, "Cr": 0.9}, "price_per_kg": 4.0, "co2_kg_per_kg": 5.0,
                             "max_kg_per_heat": 100.0})
    other = mn_only(parse_config(raw))
    log_and_register(cfg, *trained, history, mlflow_server)  # the lf1 surrogates, registered under this prefix
    with pytest.raises(ValueError, match=r"decision features missing from the model: \['add_FeTi70_kg'\]"):
        load_champions(other, mlflow_server)


def test_no_champion_yet(cfg, mlflow_server):
    raw = tomllib.loads(default_config_path().read_text())
    raw["mlflow"]["model_prefix"] = "never_trained"
    with pytest.raises(LookupError, match="run `dosing train` first"):
        load_champions(parse_config(raw), mlflow_server)


def _prefixed(prefix: str):
    raw = tomllib.loads(default_config_path().read_text())
    raw["mlflow"]["model_prefix"] = prefix
    return parse_config(raw)


def test_residual_surrogate_round_trip(mlflow_server, tmp_path):
    """A non-linear residual structure comes back from the server exactly, with its description artifact. Only Mn
    is asserted on: grades limiting Mn alone train (and register) Mn and the temperature, not 9 residual outcomes;
    the Mn fit is the same as with every grade limit (same features, same data)."""
    cfg = mn_only(_prefixed("resid"))
    heats = synthetic_heats(cfg, 700, seed=5, nonlinear=0.6)
    sset, report = train_surrogates(cfg, heats, residual=True)
    mn = sset.outcomes["final_Mn_wt_pct"]
    assert not mn.decision_linear
    log_and_register(cfg, sset, report, heats, mlflow_server)
    loaded = load_champions(cfg, mlflow_server).outcomes["final_Mn_wt_pct"]
    rows = heats.head(15)
    assert loaded.structure_name == mn.structure_name and loaded.residual_features == mn.residual_features
    np.testing.assert_allclose(loaded.predict(rows), mn.predict(rows))
    np.testing.assert_allclose(loaded.residual_model.predict(rows[loaded.residual_features]),
                               mn.residual_model.predict(rows[mn.residual_features]))
    grade = str(rows["grade"].iloc[0])
    assert loaded.halfwidth(2, 0.9, grade) == mn.halfwidth(2, 0.9, grade)
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)  # the product sets no globals
    run_id = client.get_model_version("resid_final_Mn_wt_pct", "1").run_id
    desc = json.loads(Path(client.download_artifacts(run_id, "surrogate.json", str(tmp_path))).read_text())
    assert desc["structure"] == mn.structure_name and desc["decision_linear"] is False
    assert set(desc["halfwidth_by_n_samples"]) == {str(n) for n in mn.widths.by_n}
