"""`make demo`: fresh machine to a published recommendation, on embedded defaults.

simulate history (built-in plant simulator) -> validate -> train surrogates (local MLflow store) -> optimize
tomorrow's schedule -> write recommendations -> publish on a local, secured OPC UA server -> a simulated DCS
reads the setpoints over OPC UA (Basic256Sha256, SignAndEncrypt) and the simulator applies them -> compare
with today's practice on the same heats. Everything lands under ``.dosing/demo/``.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from connectors.files import load_heats
from connectors.model_registry import load_champions, log_and_register
from connectors.opcua import Credentials, SetpointServer, add_user, connect, create_certificate, read_setpoints
from connectors.recommendations import write_recommendation
from optimizer.config import PlantConfig, load_config
from optimizer.dosing import optimize_heats, read_schedule, to_recommendation
from optimizer.dosing.schedule import HeatContext
from optimizer.simulator import compare, draw_heats, evaluate, make_policy, schedule_frame, simulate_history
from optimizer.simulator.heats import EVALUATION_STREAM
from optimizer.simulator.policies import HeatPlan, Level2Policy
from optimizer.surrogates import train_surrogates

DEMO = Path(".dosing/demo")
HISTORY_HEATS, DAY_HEATS, SEED = 2000, 30, 2026


@dataclass
class DcsPolicy:
    """What the DCS does with the setpoints it read over OPC UA; heats without setpoints run today's practice."""

    cfg: PlantConfig
    setpoints: dict[str, dict[str, float]]
    name: str = "optimizer via OPC UA"

    def decide_many(self, contexts: Sequence[HeatContext]) -> list[HeatPlan]:
        base = Level2Policy(self.cfg)
        plans = []
        for c in contexts:
            sp = self.setpoints.get(c.heat_id)
            if not sp or not sp.get("Feasible"):
                plans.append(base.decide(c))
                continue
            adds = {m: sp[m] for m in self.cfg.material_names}
            plans.append(HeatPlan(adds, sp["ArcEnergy"], int(sp["Samples"]), source="dcs"))
        return plans


def step(msg: str) -> None:
    print(f"\n== {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    t0 = time.perf_counter()
    cfg = load_config()
    if DEMO.exists():
        shutil.rmtree(DEMO)
    DEMO.mkdir(parents=True)
    step(f"1. simulate {HISTORY_HEATS} historical heats under today's practice (built-in plant simulator)")
    heats, samples = simulate_history(cfg, HISTORY_HEATS, seed=1)
    (DEMO / "history").mkdir()
    heats.to_parquet(DEMO / "history" / "heats.parquet", index=False)
    samples.to_csv(DEMO / "history" / "samples.csv", index=False)
    loaded = load_heats(DEMO / "history", cfg)
    print(f"validated: {len(loaded.heats)} good heats, {len(loaded.report)} problems")

    step("2. train surrogates and register them in MLflow (local store)")
    sset, report = train_surrogates(cfg, loaded.heats)
    from connectors.tracking import configure_mlflow

    uri = configure_mlflow(cfg, None, workdir=DEMO)
    promotions = log_and_register(cfg, sset, report, loaded.heats, uri)
    for p in promotions:
        t = report.test[p.outcome]
        print(f"  {p.outcome:24s} {report.chosen[p.outcome]:18s} MAE {t['mae']:.4g} (fixed yields "
              f"{report.baseline_test_mae[p.outcome]:.4g}), 90% coverage {t['coverage_90']:.2f}, v{p.version} "
              f"{'champion' if p.promoted else 'challenger'}")

    step(f"3. optimize tomorrow's schedule of {DAY_HEATS} heats with the champion models")
    day = draw_heats(cfg, DAY_HEATS, SEED, EVALUATION_STREAM)
    schedule_frame(cfg, day).to_csv(DEMO / "schedule.csv", index=False)
    schedule = read_schedule(DEMO / "schedule.csv", cfg)
    champions = load_champions(cfg, uri)
    result = optimize_heats(cfg, schedule.heats, champions)
    rec = to_recommendation(cfg, schedule.heats, result, champions.versions)
    js, pq = write_recommendation(rec, cfg, DEMO / "recommendations")
    n_ok = sum(h.feasible for h in rec.heats)
    print(f"{n_ok} of {DAY_HEATS} heats planned, {DAY_HEATS - n_ok} infeasible (diagnosed, no setpoints); "
          f"max MIP gap {result.max_gap:.3%}; written {js} and {pq}")

    step("4. publish on the local OPC UA server; the simulated DCS reads the setpoints (SignAndEncrypt)")
    setpoints, endpoint = asyncio.run(publish_and_read(cfg, rec))
    print(f"server {endpoint}: DCS read {len(setpoints)} heats x {len(cfg.material_names)} setpoints")

    step("5. the simulator executes the DCS setpoints; today's practice on the same heats for comparison")
    dcs = evaluate(cfg, DcsPolicy(cfg, setpoints), DAY_HEATS, SEED)
    base = evaluate(cfg, make_policy("baseline", cfg), DAY_HEATS, SEED)
    c = compare(dcs, base)
    sd, sb = dcs.summary(), base.summary()
    for k in ("material_cost_per_t", "ferroalloy_kg_per_t", "energy_kWh_per_t", "co2_kg_per_t", "off_spec_rate",
              "samples_per_heat", "treatment_min_per_heat"):
        print(f"  {k:24s} today {sb[k].value:9.3f}   recommended {sd[k].value:9.3f}")
    print(f"  material cost {c['pct_material_cost']:+.1f} %, energy {c['pct_energy']:+.1f} %, off-spec heats "
          f"{int(dcs.off_spec.sum())} vs {int(base.off_spec.sum())} (one day: see experiments/closed_loop.py for "
          "a statistically meaningful comparison)")
    print(f"\ndone in {time.perf_counter() - t0:.0f} s. Recommendation: {js}\nMLflow store: {uri}\n"
          f"OPC UA state (last published recommendation, audit log): {DEMO / 'opcua'}")
    return 0


async def publish_and_read(cfg: PlantConfig, rec) -> tuple[dict, str]:  # noqa: ANN001
    pki = DEMO / "pki"
    server_cert, server_key = await create_certificate(pki / "server", "dosing-server", "localhost")
    dcs_cert, dcs_key = await create_certificate(pki / "dcs", "dcs", "localhost", client=True)
    (pki / "trusted").mkdir(parents=True, exist_ok=True)
    shutil.copy(dcs_cert, pki / "trusted")
    add_user(pki / "users.json", "engineer", "demo-only-password", "engineer")
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/dosing/"
    import json

    srv = SetpointServer(cfg, endpoint, DEMO / "opcua", users=json.loads((pki / "users.json").read_text()),
                         certificate=server_cert, private_key=server_key, trusted_dir=pki / "trusted")
    async with srv:
        gen = await srv.publish(rec)
        print(f"published recommendation {rec.recommendation_id} as generation {gen} (status {rec.status})")
        client = await connect(endpoint, Credentials(dcs_cert, dcs_key, server_cert, name="dcs"))
        try:
            setpoints = await read_setpoints(client, cfg.opcua.namespace_uri, cfg.material_names)
        finally:
            await client.disconnect()
    return setpoints, endpoint


if __name__ == "__main__":
    sys.exit(main())
