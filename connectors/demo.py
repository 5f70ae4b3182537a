"""`make demo`: fresh machine to a published recommendation, on embedded defaults.

simulate history (built-in plant simulator) -> `dosing nightly` on embedded defaults (validate, train and
promote in the local MLflow store, optimize tomorrow's schedule, HTML report, hand over to the setpoint server)
-> a local OPC UA server secured with Basic256Sha256 publishes it -> a simulated DCS reads the setpoints over
OPC UA (SignAndEncrypt) and the simulator applies them -> compare with today's practice on the same heats -> the
heat-by-heat advisor decides a few fresh heats live: a simulated DCS posts each arrival and sample over OPC UA,
the advisor service answers, the plant follows.
Files land under ``.dosing/demo/``.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from connectors.files import load_heats
from connectors.net import free_port
from connectors.nightly import run_nightly
from connectors.opcua import Credentials, SetpointServer, add_user, connect, create_certificate, read_setpoints
from connectors.opcua.advisor_service import AdvisorService
from connectors.opcua.dcs_sim import DcsController, SimulatedDcs
from connectors.report.advice import read_decision_log, render_html, text_summary
from optimizer.advisor import advisor_from_history
from optimizer.config import AutoApprove, PlantConfig, load_config
from optimizer.costs import plan_cost
from optimizer.recommendation import Recommendation
from optimizer.savings import Savings, executed_cost, savings_text
from optimizer.schedule import HeatContext
from optimizer.simulator import compare, draw_heats, evaluate, make_policy, schedule_frame, simulate_history
from optimizer.simulator.heats import EVALUATION_STREAM, heat_rng
from optimizer.simulator.plant import PlanFollower, run_controlled_heat
from optimizer.simulator.policies import HeatPlan, Level2Policy

DEMO = Path(".dosing/demo")
HISTORY_HEATS, DAY_HEATS, SEED = 2000, 30, 2026
LIVE_HEATS = 5  # heats the advisor decides live over OPC UA in step 5


@dataclass
class DcsPolicy:
    """What the DCS does with the setpoints it read over OPC UA; heats without setpoints run today's practice."""

    cfg: PlantConfig
    setpoints: dict[str, dict[str, float]]
    name: str = "optimizer via OPC UA"

    def decide(self, context: HeatContext) -> HeatPlan:
        return self.decide_many([context])[0]

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


def main() -> int:
    t0 = time.perf_counter()
    cfg = load_config()
    if DEMO.exists():
        shutil.rmtree(DEMO)
    DEMO.mkdir(parents=True)
    step(f"1. simulate {HISTORY_HEATS} historical heats under today's practice (built-in plant simulator)")
    tomorrow = pd.Timestamp.now(tz="UTC").floor("D") + pd.Timedelta(hours=30)  # 06:00 UTC tomorrow
    # about 75 days of history (a heat every 45-60 min) ending before tomorrow
    heats, samples = simulate_history(cfg, HISTORY_HEATS, seed=1, start=tomorrow - pd.Timedelta(days=80))
    (DEMO / "history").mkdir()
    heats.to_parquet(DEMO / "history" / "heats.parquet", index=False)
    samples.to_csv(DEMO / "history" / "samples.csv", index=False)
    loaded = load_heats(DEMO / "history", cfg)
    print(f"validated: {len(loaded.heats)} good heats, {len(loaded.report)} problems")

    step(f"2. nightly run on embedded defaults: train + champion rule (local MLflow), optimize tomorrow's "
         f"{DAY_HEATS} heats, report, hand to the setpoint server")
    day = draw_heats(cfg, DAY_HEATS, SEED, EVALUATION_STREAM, start=tomorrow)
    schedule_frame(cfg, day).to_csv(DEMO / "schedule.csv", index=False)
    night = run_nightly(cfg, DEMO / "history", DEMO / "schedule.csv", DEMO, state_dir=DEMO / "opcua",
                        progress=lambda m: print(m, flush=True))
    rec = Recommendation.from_json(night.recommendation_file)
    print(night.summary)  # the line `dosing nightly` ends with: the report's savings (optimizer/savings.py)
    js = night.recommendation_file

    step("3. the local OPC UA server publishes it; a simulated DCS reads the setpoints (SignAndEncrypt)")
    setpoints, endpoint = asyncio.run(publish_and_read(cfg, rec))
    print(f"server {endpoint}: DCS read {len(setpoints)} heats x {len(cfg.material_names)} setpoints")

    step("4. the simulator executes the DCS setpoints; today's practice on the same heats for comparison")
    dcs = evaluate(cfg, DcsPolicy(cfg, setpoints), DAY_HEATS, SEED)
    base = evaluate(cfg, make_policy("baseline", cfg), DAY_HEATS, SEED)
    c = compare(dcs, base)
    sd, sb = dcs.summary(), base.summary()
    for k in ("material_cost_per_t", "ferroalloy_kg_per_t", "energy_kWh_per_t", "co2_kg_per_t", "off_spec_rate",
              "samples_per_heat", "treatment_min_per_heat"):
        print(f"  {k:24s} today {sb[k].value:9.3f}   recommended {sd[k].value:9.3f}")
    executed = Savings(executed_cost(cfg, dcs.records), executed_cost(cfg, base.records), DAY_HEATS,
                       cfg.objective.co2_price_per_t)
    print(f"  as executed by the simulator: {savings_text(executed, cfg.plant.currency, 'heats')} "
          f"[money = material + arc energy + sampling, as in the report]; material cost "
          f"{c['pct_material_cost']:+.1f} %, energy {c['pct_energy']:+.1f} %, off-spec heats "
          f"{int(dcs.off_spec.sum())} vs {int(base.off_spec.sum())} (one day: see experiments/closed_loop.py for "
          "a statistically meaningful comparison)")
    step(f"5. heats advised live: a simulated DCS posts each arrival and sample over OPC UA (SignAndEncrypt), the "
         f"advisor service answers, the plant follows ({LIVE_HEATS} heats)")
    live = asyncio.run(advise_live(cfg, heats, samples))
    for line in live:
        print(line)
    print(f"\ndone in {time.perf_counter() - t0:.0f} s.\nReport (open in a browser): {night.report_file.resolve()}\n"
          f"Recommendation: {js}\nPublished over OPC UA as recommendation {rec.recommendation_id}; server state "
          f"and audit log: {DEMO / 'opcua'}\nMLflow store: .dosing/mlflow.db (`dosing models` lists the versions)")
    return 0


async def advise_live(cfg: PlantConfig, heats: pd.DataFrame, samples: pd.DataFrame) -> list[str]:
    """The advisor decides LIVE_HEATS fresh heats stage by stage through a simulated DCS (see step 5)."""
    bounds = AutoApprove.within_plant_limits(cfg, max_hold_min=30.0, allow_flags=False)  # set by the engineers
    cfg = cfg.model_copy(update={"advisor": cfg.advisor.model_copy(update={"auto_approve": bounds})})
    advisor = advisor_from_history(cfg, heats, samples)
    pki = DEMO / "pki-live"
    server = await create_certificate(pki / "dcs", "plant-dcs", "localhost")
    client = await create_certificate(pki / "advisor", "dosing-advisor", "localhost", client=True)
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/plant/"
    log_file = DEMO / "advisor-decisions.jsonl"
    lines = []
    async with SimulatedDcs(cfg, endpoint, *server) as dcs:
        service = AdvisorService(cfg, advisor, endpoint, Credentials(*client, server[0], name="dosing-advisor"),
                                 log_file, deadline_s=30.0)
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        loop = asyncio.get_running_loop()
        for k, heat in enumerate(draw_heats(cfg, LIVE_HEATS, SEED + 1, EVALUATION_STREAM)):
            practice = PlanFollower(cfg, Level2Policy(cfg).decide(heat.context))
            ctl = DcsController(dcs, loop, fallback=practice, timeout_s=60.0)
            rng = heat_rng(SEED + 1, EVALUATION_STREAM + 100, k)
            rec = await asyncio.to_thread(run_controlled_heat, cfg, heat, ctl, rng)
            today = run_controlled_heat(cfg, heat, practice, heat_rng(SEED + 1, EVALUATION_STREAM + 100, k))
            statuses = ", ".join(str(a.get("status")) for a in ctl.answers)
            lines.append(f"  {heat.context.heat_id} {heat.context.grade:7s} advised: {rec.n_samples} samples, "
                         f"{rec.treatment_time_min:4.1f} min, {_money(cfg, rec):6.0f} {cfg.plant.currency}, "
                         f"{'in spec' if not rec.off_spec else 'OFF-SPEC'} | today's practice: {today.n_samples} "
                         f"samples, {today.treatment_time_min:4.1f} min, {_money(cfg, today):6.0f}, "
                         f"{'in spec' if not today.off_spec else 'OFF-SPEC'} | answers: {statuses}")
        stop.set()
        await task
    lines.append(f"  every decision with its inputs and model version: {log_file}")
    day = read_decision_log(log_file)
    page = DEMO / "advised-heats.html"
    page.write_text(render_html(day, cfg), encoding="utf-8")
    lines += [f"  {line}" for line in text_summary(day, cfg)[:2]]
    lines.append(f"  the advised heats, flags and refusals (`dosing advice-report {log_file}`): {page}")
    return lines


def _money(cfg: PlantConfig, rec) -> float:  # noqa: ANN001 (a simulator HeatRecord)
    """Money of one executed heat: material + arc energy + sampling (optimizer/costs.py, as in the report)."""
    return plan_cost(cfg, rec.additions_kg, rec.arc_energy_kWh, rec.n_samples).money


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
        for _ in range(100):  # the server's inbox watcher publishes what the nightly run handed over
            if srv.current is not None and srv.current.recommendation_id == rec.recommendation_id:
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("the setpoint server did not publish the nightly recommendation within 10 s")
        print(f"published recommendation {rec.recommendation_id} as generation {srv.generation} "
              f"(status {srv.current.status})")
        client = await connect(endpoint, Credentials(dcs_cert, dcs_key, server_cert, name="dcs"))
        try:
            setpoints = await read_setpoints(client, cfg.opcua.namespace_uri, cfg.material_names)
        finally:
            await client.disconnect()
    return setpoints, endpoint


if __name__ == "__main__":
    sys.exit(main())
