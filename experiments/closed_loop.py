"""Closed-loop study: the optimizer against today's practice on fresh simulated heats.

The optimizer's surrogates are trained only on history that the simulator generated under today's practice
(2,000 heats, history stream); it then plans fresh heats day by day (evaluation stream) and the simulator
executes the plans. Prints the programme's yardstick with 95 % confidence intervals.

    .venv/bin/python experiments/closed_loop.py [--heats 500] [--seed 11]
"""

from __future__ import annotations

import argparse
import time

from optimizer.config import load_config
from optimizer.simulator import compare, evaluate, make_policy
from optimizer.simulator.optimizer_policy import optimizer_from_simulated_history

LABELS = ["material_cost_per_t", "ferroalloy_kg_per_t", "energy_kWh_per_t", "co2_kg_per_t", "off_spec_rate",
          "samples_per_heat", "treatment_min_per_heat"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heats", type=int, default=500)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--history", type=int, default=2000)
    args = ap.parse_args()
    cfg = load_config()
    t0 = time.perf_counter()
    opt = optimizer_from_simulated_history(cfg, args.history, history_seed=0)
    t1 = time.perf_counter()
    res = {"baseline": evaluate(cfg, make_policy("baseline", cfg), args.heats, args.seed),
           "optimizer": evaluate(cfg, opt, args.heats, args.seed)}
    t2 = time.perf_counter()
    print(f"fresh heats: {args.heats} (seed {args.seed}); history: {args.history} heats under today's practice")
    print(f"{'figure':24s} {'baseline':>26s} {'optimizer':>26s}")
    for k in LABELS:
        cells = [f"{e.value:8.3f} [{e.low:7.3f},{e.high:7.3f}]" for e in (res[p].summary()[k] for p in res)]
        print(f"{k:24s} {cells[0]:>26s} {cells[1]:>26s}")
    c = compare(res["optimizer"], res["baseline"])
    print("yardstick (optimizer vs baseline; programme target in brackets):")
    print(f"  material cost   {c['pct_material_cost']:+6.1f} %   [-20 %]")
    d = c["diff_off_spec_rate"]
    print(f"  off-spec heats  {c['pct_off_spec']:+6.1f} %   [-50 %]   paired diff {d.value:+.3f} "
          f"[{d.low:+.3f}, {d.high:+.3f}]")
    print(f"  energy          {c['pct_energy']:+6.1f} %   [-10 %]")
    print(f"  productivity    {c['pct_productivity']:+6.1f} %   [+30 %]  (heats per hour of ladle treatment only)")
    print(f"heats the program found infeasible, run with today's practice instead: {len(opt.fallbacks)} "
          f"of {args.heats}")
    print(f"time: training {t1 - t0:.1f} s, evaluation {t2 - t1:.1f} s")


if __name__ == "__main__":
    main()
