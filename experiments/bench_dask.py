"""Benchmark: the same scenario sweep inline (one process, the peer) and on local Dask clusters of 1, 2 and 4 workers.

Champion models are trained on simulated history into a temporary MLflow store and travel to the workers by
``models:/`` URI, as in production. Prints wall time, speed-up against the inline run and against 1 worker,
and checks that every cluster returns the inline figures.

    .venv/bin/python experiments/bench_dask.py [--heats 20] [--furnaces 2] [--prices 0,50,100,200,400,800]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import pandas as pd

from connectors.model_registry import log_and_register
from connectors.scale import INLINE, SweepFurnace, co2_scenarios, run_scenario, run_units, sweep_units
from optimizer.config import load_config, parse_config
from optimizer.simulator import draw_heats, schedule_frame, simulate_history
from optimizer.simulator.heats import EVALUATION_STREAM
from optimizer.surrogates import train_surrogates


def setup(d: Path, n_heats: int, n_furnaces: int) -> list[SweepFurnace]:
    cfg = load_config()
    uri = f"sqlite:///{d / 'mlflow.db'}"
    os.chdir(d)  # the local store keeps its artifacts under ./.dosing
    history, _ = simulate_history(cfg, 400, seed=3)
    sset, report = train_surrogates(cfg, history)
    log_and_register(cfg, sset, report, history, uri)
    furnaces = []
    for i in range(n_furnaces):
        raw = cfg.model_dump(mode="python")
        for m in raw["materials"]:
            m["price_per_kg"] *= 1.0 + 0.1 * i
        c = parse_config(raw)
        path = d / f"LF{i + 1}.csv"
        schedule_frame(c, draw_heats(c, n_heats, 100 + i, EVALUATION_STREAM)).to_csv(path, index=False)
        furnaces.append(SweepFurnace(f"LF{i + 1}", c, path, uri))
    return furnaces


def same(a, b) -> bool:  # noqa: ANN001
    fa = pd.DataFrame([o.value for o in a.outcomes]).select_dtypes("number").fillna(-1)
    fb = pd.DataFrame([o.value for o in b.outcomes]).select_dtypes("number").fillna(-1)
    return fa.shape == fb.shape and bool(((fa - fb).abs() <= 1e-9 * (1 + fa.abs())).all().all())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heats", type=int, default=20)
    ap.add_argument("--furnaces", type=int, default=2)
    ap.add_argument("--prices", default="0,50,100,200,400,800")
    ap.add_argument("--workers", default="1,2,4")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        furnaces = setup(Path(tmp), args.heats, args.furnaces)
        units = sweep_units(furnaces, co2_scenarios([float(p) for p in args.prices.split(",")]), "champion")
        print(f"sweep: {len(units)} units ({args.furnaces} furnaces x {len(units) // args.furnaces} CO2 prices), "
              f"{args.heats} heats each; {os.cpu_count()} CPUs")
        ref = run_units(run_scenario, units, INLINE)
        print(f"  inline (peer, one process, models loaded once): {ref.wall_s:6.1f} s")
        one = None
        for n in (int(w) for w in args.workers.split(",")):
            s = run_units(run_scenario, units, None, workers=n)
            one = one or s.wall_s
            print(f"  Dask local cluster, {n} worker(s): {s.wall_s:6.1f} s (start {s.startup_s:4.1f} s)  "
                  f"speed-up vs inline "
                  f"{ref.wall_s / s.wall_s:4.2f}x, vs 1 worker {one / s.wall_s:4.2f}x; "
                  f"failed {len(s.failed)}; same figures as inline: {same(ref, s)}")
        print("  (cluster times include starting the workers and each worker loading the models once)")


if __name__ == "__main__":
    main()
