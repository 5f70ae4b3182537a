"""Benchmark: decision latency of the heat-by-heat advisor (on arrival and after each sample).

The advisor is learned from simulator history made by today's practice; fresh heats then run in the simulated
plant, and every call of ``on_arrival`` / ``on_sample`` is timed (wall clock, this process). Prints p50, p95 and
p99 in ms per kind of decision and overall. With ``--residual`` the same heats are run twice, by the physics stage
models alone and with the learned 200-tree residuals (``optimizer/stages/residual.py``), and both are printed.
The OPC UA round trip is measured in the plant-side benchmark.

    .venv/bin/python experiments/bench_advisor.py [--history 2000] [--heats 100] [--seed 11] [--residual]
        [--physics standard|slag|carryover|stirred]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from optimizer.advisor import Advisor, advisor_from_history
from optimizer.config import load_config
from optimizer.simulator import simulate_history
from optimizer.simulator.heats import EVALUATION_STREAM, draw_heats, heat_rng
from optimizer.simulator.plant import run_controlled_heat
from optimizer.stages.state import HeatState, StageDecision


class TimedAdvisor:
    """Times each call of the advisor it wraps."""

    def __init__(self, advisor: Advisor) -> None:
        self.advisor = advisor
        self.seconds: dict[str, list[float]] = {"arrival": [], "sample": []}

    def on_arrival(self, state: HeatState) -> StageDecision:
        t0 = time.perf_counter()
        d = self.advisor.on_arrival(state)
        self.seconds["arrival"].append(time.perf_counter() - t0)
        return d

    def on_sample(self, state: HeatState) -> StageDecision:
        t0 = time.perf_counter()
        d = self.advisor.on_sample(state)
        self.seconds["sample"].append(time.perf_counter() - t0)
        return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--history", type=int, default=2000)
    ap.add_argument("--heats", type=int, default=100)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--residual", action="store_true", help="also time the advisor with the 200-tree residuals")
    ap.add_argument("--physics", default="standard", help="plant physics of history and fresh heats")
    args = ap.parse_args()
    cfg = load_config()
    heats, samples = simulate_history(cfg, args.history, 0, physics=args.physics)
    for residual in (False, True) if args.residual else (False,):
        t0 = time.perf_counter()
        advisor = advisor_from_history(cfg, heats, samples, residual=residual)
        chosen = [n for n, m in advisor.models.outcomes.items() if m.residual is not None]
        print(f"\nadvisor {'with residuals' if residual else 'physics only'} learned from {args.history} history "
              f"heats in {time.perf_counter() - t0:.1f} s ({advisor.models.n_stages} stages"
              + (f"; 200-tree residuals chosen for {', '.join(chosen) or 'no outcome'}" if residual else "") + ")")
        _time(cfg, advisor, args.heats, args.seed, args.physics)
    print("target: p95 under 1000 ms on 2 cores (issue 23)")


def _time(cfg, advisor: Advisor, n_heats: int, seed: int, physics: str) -> None:  # noqa: ANN001 (a PlantConfig)
    timed = TimedAdvisor(advisor)
    tree_s: list[float] = []
    for m in advisor.models.outcomes.values():  # time every evaluation of the residual trees
        if m.residual is not None:
            m.residual.predict = _timed(m.residual.predict, tree_s)  # type: ignore[method-assign]
    for k, heat in enumerate(draw_heats(cfg, n_heats, seed, EVALUATION_STREAM, physics=physics)):
        run_controlled_heat(cfg, heat, timed, heat_rng(seed, EVALUATION_STREAM + 100, k))
    every = timed.seconds["arrival"] + timed.seconds["sample"]
    print(f"{'decision':10s} {'n':>5s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}")
    for name, vals in [*timed.seconds.items(), ("all", every)]:
        ms = 1000.0 * np.array(vals)
        print(f"{name:10s} {len(ms):5d} {np.percentile(ms, 50):8.1f} {np.percentile(ms, 95):8.1f} "
              f"{np.percentile(ms, 99):8.1f} {ms.max():8.1f}")
    if tree_s:
        print(f"residual trees: {len(tree_s)} evaluations ({len(tree_s) / len(every):.1f} per decision, the rest "
              f"cached), {1000.0 * np.median(tree_s):.2f} ms each (median), {100.0 * sum(tree_s) / sum(every):.1f} % "
              "of all decision time")


def _timed(fn, sink: list[float]):  # noqa: ANN001, ANN202
    def run(x):  # noqa: ANN001, ANN202
        t0 = time.perf_counter()
        out = fn(x)
        sink.append(time.perf_counter() - t0)
        return out
    return run

if __name__ == "__main__":
    main()
