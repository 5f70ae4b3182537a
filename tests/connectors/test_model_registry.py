"""MLflow lifecycle through a real tracking server: train -> register -> champion rule -> load, plus refusals."""

from __future__ import annotations

import json
import tomllib
import urllib.request

import numpy as np
import pytest

from connectors.model_registry import list_models, load_champions, log_and_register, promote, rollback
from optimizer.config import default_config_path, parse_config
from optimizer.simulator import simulate_history
from optimizer.surrogates import train_surrogates


@pytest.fixture(scope="module")
def history(cfg):
    heats, _ = simulate_history(cfg, 400, seed=12)
    return heats


def _alias(uri: str, name: str, alias: str) -> str:
    url = f"{uri}/api/2.0/mlflow/registered-models/alias?name={name}&alias={alias}"
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)["model_version"]["version"]


def test_lifecycle_through_real_server(cfg, history, mlflow_server):
    sset, report = train_surrogates(cfg, history)
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
    for col in ("final_Mn_wt_pct", "final_Si_wt_pct"):
        bad[col] = rng.permutation(bad[col].to_numpy())
    bset, breport = train_surrogates(cfg, bad)
    second = {p.outcome: p for p in log_and_register(cfg, bset, breport, history, mlflow_server)}
    assert second["final_Mn_wt_pct"].version == "2" and not second["final_Mn_wt_pct"].promoted
    assert second["final_Mn_wt_pct"].champion_mae < second["final_Mn_wt_pct"].challenger_mae
    assert _alias(mlflow_server, "lf1_final_Mn_wt_pct", "champion") == "1"
    assert _alias(mlflow_server, "lf1_final_Mn_wt_pct", "challenger") == "2"

    promote(cfg, "final_Mn_wt_pct", "2", mlflow_server)
    assert _alias(mlflow_server, "lf1_final_Mn_wt_pct", "champion") == "2"
    assert rollback(cfg, "final_Mn_wt_pct", mlflow_server) == "1"
    assert _alias(mlflow_server, "lf1_final_Mn_wt_pct", "champion") == "1"

    table = list_models(cfg, mlflow_server)
    mn = table[table["model"] == "lf1_final_Mn_wt_pct"].set_index("version")
    assert "champion" in mn.loc[1, "aliases"] and mn.loc[1, "test_mae"] > 0


def test_mismatched_config_refused(cfg, history, mlflow_server):
    raw = tomllib.loads(default_config_path().read_text())
    raw["mlflow"]["model_prefix"] = "lf1"
    raw["materials"].append({"name": "FeTi70", "kind": "ferroalloy", "composition_wt_pct": {"C": 0.1, "Cr": 5.0},
                             "prior_recovery": {"C": 0.8, "Cr": 0.9}, "price_per_kg": 4.0, "co2_kg_per_kg": 5.0,
                             "max_kg_per_heat": 100.0})
    other = parse_config(raw)
    sset, report = train_surrogates(cfg, history)
    log_and_register(cfg, sset, report, history, mlflow_server)
    with pytest.raises(ValueError, match=r"decision features missing from the model: \['add_FeTi70_kg'\]"):
        load_champions(other, mlflow_server)


def test_no_champion_yet(cfg, mlflow_server):
    raw = tomllib.loads(default_config_path().read_text())
    raw["mlflow"]["model_prefix"] = "never_trained"
    with pytest.raises(LookupError, match="run `dosing train` first"):
        load_champions(parse_config(raw), mlflow_server)
