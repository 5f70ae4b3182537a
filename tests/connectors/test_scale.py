"""Scale-out on a real Dask cluster (scheduler + 2 worker processes on 127.0.0.1): scenario sweep equal to the
inline run with models pinned by MLflow URI, a failing unit named without losing the others, a worker killed
mid-run, and a multi-furnace nightly through the CLI."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client

from connectors.model_registry import log_and_register
from connectors.scale import (
    INLINE,
    Scenario,
    SweepFurnace,
    apply_scenario,
    co2_scenarios,
    load_fleet,
    load_scenarios,
    run_scenario,
    run_units,
    sweep_units,
)
from optimizer.config import parse_config
from optimizer.errors import ConfigError
from optimizer.simulator import draw_heats, schedule_frame, simulate_history
from optimizer.simulator.heats import EVALUATION_STREAM
from optimizer.surrogates import train_surrogates
from tests.connectors.dask_cluster import dask_cluster, extra_worker
from tests.optimizer.surrogates.conftest import mn_only

pytestmark = pytest.mark.slow  # Dask clusters and an MLflow server


def _variant(cfg, prefix: str, price_factor: float = 1.0):  # noqa: ANN001, ANN202
    raw = cfg.model_dump(mode="python")
    raw["mlflow"]["model_prefix"] = prefix
    for m in raw["materials"]:
        m["price_per_kg"] *= price_factor
    return parse_config(raw)


@pytest.fixture(scope="module")
def furnaces(cfg, mlflow_server, tmp_path_factory):
    """Two furnaces whose champion models live on the real MLflow server, each with a 10-heat schedule."""
    d = tmp_path_factory.mktemp("sweep")
    lf1, lf2 = _variant(cfg, "scale"), _variant(cfg, "scale", price_factor=1.25)
    heats, _ = simulate_history(cfg, 400, seed=21)
    sset, report = train_surrogates(lf1, heats)
    log_and_register(lf1, sset, report, heats, mlflow_server)
    out = []
    for name, c, seed in (("LF1", lf1, 5), ("LF2", lf2, 6)):
        path = d / f"{name}.csv"
        schedule_frame(c, draw_heats(c, 10, seed, EVALUATION_STREAM)).to_csv(path, index=False)
        out.append(SweepFurnace(name, c, path, mlflow_server))
    return out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with dask_cluster(2, tmp_path_factory.mktemp("dask")) as c:
        yield c


SCENARIOS = [*co2_scenarios([0.0, 400.0]), Scenario(name="base"),
             Scenario(name="simn-up", material_price_factor={"SiMn": 1.5})]


def _values(summary) -> dict[str, dict]:  # noqa: ANN001
    return {o.key: o.value for o in summary.outcomes}


def _assert_same(got: dict[str, dict], want: dict[str, dict]) -> None:
    """Every unit's row equal: text exactly, figures to 1e-9 relative (NaN gap equals NaN gap)."""
    for key, row in want.items():
        assert got[key].keys() == row.keys(), key
        for col, v in row.items():
            if isinstance(v, str | bool):
                assert got[key][col] == v, (key, col)
            else:
                assert got[key][col] == pytest.approx(v, rel=1e-9, nan_ok=True), (key, col)


@pytest.fixture(scope="module")
def inline(furnaces):
    """The sweep's units and their inline run, the reference both cluster tests compare with (solved once)."""
    units = sweep_units(furnaces, SCENARIOS, "champion")
    return units, run_units(run_scenario, units, INLINE)


def test_sweep_on_cluster_equals_inline_and_names_the_failed_unit(inline, cluster):
    units, reference = inline
    assert {u.model_uris["final_Mn_wt_pct"] for u in units.values()} == {"models:/scale_final_Mn_wt_pct/1"}
    assert not reference.failed
    broken = dataclasses.replace(units["LF1/co2-0"], furnace="LF3",
                                 model_uris={**units["LF1/co2-0"].model_uris, "final_Mn_wt_pct": "models:/nope/7"})
    on_dask = run_units(run_scenario, {**units, "LF3/co2-0": broken}, cluster.address, retries=1)
    assert on_dask.workers == 2 and on_dask.engine == cluster.address
    assert [o.key for o in on_dask.failed] == ["LF3/co2-0"]
    assert "nope" in on_dask.failed[0].error
    _assert_same(_values(on_dask), _values(reference))
    # the scenarios did something: a CO2 price lowers CO2; dearer SiMn costs more and is used less;
    # LF2 pays 25 % more for every material
    ref = _values(reference)
    assert ref["LF1/co2-400"]["co2_kg"] <= ref["LF1/co2-0"]["co2_kg"]
    assert ref["LF1/simn-up"]["money_cost"] > ref["LF1/base"]["money_cost"]
    assert ref["LF1/simn-up"]["SiMn_kg"] <= ref["LF1/base"]["SiMn_kg"] + 1e-6
    assert ref["LF2/base"]["material_cost"] > ref["LF1/base"]["material_cost"]
    assert ref["LF1/co2-0"]["infeasible_heats"] < 10


def test_killed_worker_its_tasks_run_elsewhere(inline, cluster, tmp_path):
    """A third worker joins the module's cluster and is killed as soon as it holds a task (the cluster's own two
    go on; a cluster of its own cost a scheduler's and a worker's start-up, ~15 s of CPU)."""
    units, reference = inline  # 8 units of 10 heats, as many as the 3 workers can be busy with when one is killed
    with extra_worker(cluster, "w_killed", tmp_path) as proc:
        result = {}
        runner = threading.Thread(target=lambda: result.update(s=run_units(run_scenario, units, cluster.address)))
        runner.start()
        killed = _kill_when_busy(cluster.address, "w_killed", proc, deadline_s=120)
        runner.join(timeout=300)
    assert killed, "worker w_killed never got a task"
    summary = result["s"]
    assert not summary.failed, summary.failed
    _assert_same(_values(summary), _values(reference))


def _kill_when_busy(address: str, name: str, proc: subprocess.Popen, deadline_s: float) -> bool:
    """SIGKILL worker ``name`` (process ``proc``) as soon as the scheduler shows it processing a task."""
    with Client(address, timeout="30s") as client:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            info = client.scheduler_info(n_workers=-1)["workers"]
            addr = next((a for a, w in info.items() if w.get("name") == name), None)
            if addr and client.processing().get(addr):
                proc.kill()
                proc.wait(timeout=10)
                return True
            time.sleep(0.05)
    return False


def test_scenario_file_errors_name_the_file_and_scenario(cfg, tmp_path):
    f = tmp_path / "sc.toml"
    f.write_text('[[scenario]]\nname = "a"\nmaterial_price_factor = { Unobtainium = 2 }\n'
                 '[[scenario]]\nname = "a"\nenergy_price_factor = -1\n')
    with pytest.raises(ConfigError) as info:
        load_scenarios(f, cfg)
    assert str(f) in str(info.value) and "energy_price_factor" in str(info.value)
    f.write_text('[[scenario]]\nname = "a"\nmaterial_price_factor = { Unobtainium = 2 }\n'
                 '[[scenario]]\nname = "a"\n')
    with pytest.raises(ConfigError, match=r"(?s)name used twice.*Unobtainium|Unobtainium.*name used twice"):
        load_scenarios(f, cfg)
    with pytest.raises(ValueError, match="unknown materials"):
        apply_scenario(cfg, Scenario(name="x", material_price_factor={"FeMn_HC": 2.0}))


def test_fleet_night_on_cluster_through_the_cli(cfg, cluster, tmp_path):
    """Two furnaces run their nights on the cluster; a third with no history fails alone, named, exit 1. Their
    grades limit Mn only (``mn_only``): each night trains Mn and the temperature, not all 9 outcomes (12 s of a
    night's 17 s of CPU; the fleet on the cluster is what is checked, whole nights of the full config are
    test_nightly.py's)."""
    heats, _ = simulate_history(cfg, 300, seed=33)
    lines = []
    for name, prefix in (("LF1", "fleet1"), ("LF2", "fleet2"), ("LF3", "fleet3")):
        d = tmp_path / name
        (d / "history").mkdir(parents=True)
        if name != "LF3":
            heats.to_csv(d / "history" / "heats.csv", index=False)
        schedule_frame(cfg, draw_heats(cfg, 4, 9, EVALUATION_STREAM)).to_csv(d / "schedule.csv", index=False)
        (d / "plant.toml").write_text(_mn_only_toml(prefix))
        lines.append(f'[[furnace]]\nname = "{name}"\nconfig = "{name}/plant.toml"\nhistory = "{name}/history"\n'
                     f'schedule = "{name}/schedule.csv"\nworkdir = "{name}/work"\n')
    fleet = tmp_path / "fleet.toml"
    fleet.write_text("\n".join(lines))
    furnaces = load_fleet(fleet)
    assert furnaces[0].tracking_uri.startswith("sqlite:///")
    assert [f.cfg.grades for f in furnaces] == [mn_only(cfg).grades] * 3  # the TOML says what mn_only says
    proc = subprocess.run([str(Path(sys.executable).parent / "dosing"), "fleet", "--fleet", str(fleet),
                           "--dask-scheduler", cluster.address], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "2/3 units done" in proc.stdout
    assert "LF3" in proc.stderr and "ingest" in proc.stderr
    for name in ("LF1", "LF2"):
        recs = list((tmp_path / name / "work" / "recommendations").glob("*.parquet"))
        assert len(recs) == 1 and len(pd.read_parquet(recs[0])) > 0


def _mn_only_toml(prefix: str) -> str:
    """The shipped config's TOML with ``prefix`` for its models and only the Mn row of each grade's chemistry."""
    from optimizer.config import default_config_path

    text = default_config_path().read_text()
    assert 'model_prefix = "lf1"' in text
    lines, in_chemistry = [], False
    for line in text.replace('model_prefix = "lf1"', f'model_prefix = "{prefix}"').splitlines():
        if line.startswith("["):
            in_chemistry = line.strip() == "[grades.chemistry_wt_pct]"
        elif in_chemistry and "=" in line and not line.startswith("Mn "):
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_fleet_sharing_a_tracking_server_needs_distinct_prefixes(tmp_path):
    from optimizer.config import default_config_path

    fleet = tmp_path / "fleet.toml"
    entry = (f'config = "{default_config_path()}"\nhistory = "h"\nschedule = "s.csv"\n')
    fleet.write_text('tracking_uri = "http://127.0.0.1:1"\n'
                     f'[[furnace]]\nname = "A"\n{entry}workdir = "a"\n[[furnace]]\nname = "B"\n{entry}workdir = "b"\n')
    with pytest.raises(ConfigError, match="model_prefix 'lf1' is also used by A"):
        load_fleet(fleet)


def test_sweep_command_on_its_own_local_cluster(cfg, tmp_path):
    """`dosing sweep` with no scheduler starts (and stops) a local cluster; bad prices are refused (exit 2)."""
    sched = tmp_path / "schedule.csv"
    schedule_frame(cfg, draw_heats(cfg, 3, 4, EVALUATION_STREAM)).to_csv(sched, index=False)
    dosing = str(Path(sys.executable).parent / "dosing")
    out = tmp_path / "sweep.csv"
    proc = subprocess.run([dosing, "sweep", "--schedule", str(sched), "--co2-prices", "0,400", "--surrogates",
                           "prior", "--workers", "1", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    frame = pd.read_csv(out)
    assert list(frame["scenario"]) == ["co2-0", "co2-400"] and (frame["heats"] == 3).all()
    assert "2/2 units done on tcp://127.0.0.1:" in proc.stdout
    bad = subprocess.run([dosing, "sweep", "--schedule", str(sched), "--co2-prices", "cheap"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "--co2-prices" in bad.stderr
