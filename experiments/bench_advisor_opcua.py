"""Benchmark: the advisor's OPC UA round trip, from a sample posted on the DCS to setpoints readable there.

A simulated DCS (asyncua server on 127.0.0.1, Basic256Sha256 SignAndEncrypt with self-signed certificates) and
the advisor service (its client) run in this process; fresh heats run in the plant simulator, whose controller
posts every arrival and sample to the DCS and waits until the advice for it is readable (polling the decision
id every 5 ms). Prints p50/p95/p99 of that round trip, and beside it, from the decision log, the service's time
from reading the post to the written read-back and the advisor's own decision time for the same posts: the
differences are what the subscription, the checks and the OPC UA writes add.

    .venv/bin/python experiments/bench_advisor_opcua.py [--history 300] [--samples 50] [--seed 11] [--residual]

``--residual``: the stage models with their learned 200-tree residuals (docs/advisor.md; off in the product by
default), the issue's latency case.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from connectors.net import free_port
from connectors.opcua import Credentials, create_certificate
from connectors.opcua.advisor_service import AdvisorService
from connectors.opcua.dcs_sim import DcsController, SimulatedDcs
from optimizer.advisor import advisor_from_history
from optimizer.config import AutoApprove, PlantConfig, load_config
from optimizer.simulator.heats import EVALUATION_STREAM, draw_heats, heat_rng
from optimizer.simulator.history import simulate_history
from optimizer.simulator.plant import PlanFollower, run_controlled_heat
from optimizer.simulator.policies import Level2Policy


def auto_approved(cfg: PlantConfig) -> PlantConfig:
    bounds = AutoApprove.within_plant_limits(cfg)
    return cfg.model_copy(update={"advisor": cfg.advisor.model_copy(update={"auto_approve": bounds})})


def pct(vals: list[float]) -> str:
    ms = 1000.0 * np.array(vals)
    return (f"{len(ms):5d} {np.percentile(ms, 50):8.1f} {np.percentile(ms, 95):8.1f} {np.percentile(ms, 99):8.1f} "
            f"{ms.max():8.1f}")


async def run(cfg: PlantConfig, advisor, n_samples: int, seed: int, tmp: Path) -> tuple[list[float], Path]:
    server = await create_certificate(tmp / "dcs", "plant-dcs", "localhost")
    client = await create_certificate(tmp / "us", "dosing-advisor", "localhost", client=True)
    ep = f"opc.tcp://127.0.0.1:{free_port()}/plant/"
    log_file = tmp / "decisions.jsonl"
    async with SimulatedDcs(cfg, ep, *server) as dcs:
        service = AdvisorService(cfg, advisor, ep, Credentials(*client, server[0], name="dosing-advisor"), log_file,
                                 deadline_s=30.0)
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        loop = asyncio.get_running_loop()
        times: list[float] = []
        for k, heat in enumerate(draw_heats(cfg, 1000, seed, EVALUATION_STREAM)):
            practice = PlanFollower(cfg, Level2Policy(cfg).decide(heat.context))
            ctl = DcsController(dcs, loop, fallback=practice, timeout_s=60.0)
            await asyncio.to_thread(run_controlled_heat, cfg, heat, ctl, heat_rng(seed, EVALUATION_STREAM + 100, k))
            times += ctl.round_trip_s
            if len(times) >= n_samples:
                break
        stop.set()
        await task
    return times, log_file


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--history", type=int, default=300)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--residual", action="store_true", help="stage models with the 200-tree learned residuals")
    args = ap.parse_args()
    cfg = auto_approved(load_config())
    t0 = time.perf_counter()
    advisor = advisor_from_history(cfg, *simulate_history(cfg, args.history, 0), residual=args.residual)
    kept = [o for o, m in advisor.models.outcomes.items() if m.residual is not None]
    print(f"advisor learned from {args.history} history heats in {time.perf_counter() - t0:.1f} s"
          + (f"; residual trees kept for {kept or 'no outcome'}" if args.residual else ""))
    with tempfile.TemporaryDirectory() as d:
        times, log_file = asyncio.run(run(cfg, advisor, args.samples, args.seed, Path(d)))
        records = [json.loads(line) for line in log_file.read_text().splitlines()]
    answers = [r for r in records if r.get("decision_id")]
    statuses = {s: sum(r["status"] == s for r in answers) for s in sorted({r["status"] for r in answers})}
    print("channel: Basic256Sha256 SignAndEncrypt, 127.0.0.1; posts answered:", statuses)
    print(f"{'':34s} {'n':>5s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}")
    print(f"{'post -> advice readable on DCS':34s} {pct(times)}")
    print(f"{'  of it: service, read to write':34s} {pct([r['answer_ms'] / 1000 for r in answers])}")
    print(f"{'  of it: advisor decision':34s} {pct([r['decide_ms'] / 1000 for r in answers if 'decide_ms' in r])}")
    print("target: p95 under 1000 ms on 2 cores (issue 24)")


if __name__ == "__main__":
    main()
