"""The advisor after it has run a while: retrained on today's history plus the heats it advised itself.

A plant that runs the advisor retrains it on its log, which then holds the advisor's own heats (its main stages,
its trims, its sample counts), not only today's practice's. This study does that on the simulator:

1. history of ``--history`` heats under today's practice; the advisor learned from it (``advisor``);
2. ``--advised`` further heats (later in time, their own heats) run by that advisor and logged the same way;
3. the advisor relearned from both logs (``retrained``): the later heats that calibrate its intervals are now
   the advisor's own;
4. both, and today's practice, on the same ``--heats`` fresh heats.

    .venv/bin/python experiments/advisor_retrain_study.py [--physics NAME] [--history 2000] [--advised 1000]
        [--heats 500] [--seed 11]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from optimizer.advisor import advisor_from_history
from optimizer.config import PlantConfig, load_config
from optimizer.simulator import compare, evaluate, make_policy, simulate_history
from optimizer.simulator.advisor_policy import AdvisorPolicy

LABELS = ["material_cost_per_t", "energy_kWh_per_t", "off_spec_rate", "samples_per_heat", "dips_per_heat",
          "treatment_min_per_heat"]
ADVISED_SEED = 7  # the advised heats' own draws (history uses seed 0, fresh heats --seed)


def advised_log(cfg: PlantConfig, policy: AdvisorPolicy, n_heats: int, after: pd.Timestamp,
                physics: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n_heats`` heats run by ``policy``, starting an hour after ``after``, ids ``A000000``... (the history's
    are ``H...``)."""
    heats, samples = simulate_history(cfg, n_heats, ADVISED_SEED, policy=policy, physics=physics,
                                      start=after + pd.Timedelta(hours=1))
    rename = {h: "A" + h[1:] for h in heats["heat_id"].astype(str)}
    return heats.replace({"heat_id": rename}), samples.replace({"heat_id": rename})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heats", type=int, default=500)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--history", type=int, default=2000)
    ap.add_argument("--advised", type=int, default=1000)
    ap.add_argument("--physics", default="standard")
    args = ap.parse_args()
    cfg = load_config()
    t0 = time.perf_counter()
    heats, samples = simulate_history(cfg, args.history, 0, physics=args.physics)
    first = AdvisorPolicy(advisor_from_history(cfg, heats, samples))
    a_heats, a_samples = advised_log(cfg, first, args.advised, pd.Timestamp(heats["end_time"].max()), args.physics)
    print(f"history {args.history} heats, advised {args.advised} heats: {time.perf_counter() - t0:.0f} s")
    retrained = AdvisorPolicy(advisor_from_history(cfg, pd.concat([heats, a_heats], ignore_index=True),
                                                   pd.concat([samples, a_samples], ignore_index=True)),
                              name="retrained")
    res = {"baseline": evaluate(cfg, make_policy("baseline", cfg), args.heats, args.seed, physics=args.physics),
           "advisor": evaluate(cfg, first, args.heats, args.seed, physics=args.physics),
           "retrained": evaluate(cfg, retrained, args.heats, args.seed, physics=args.physics)}
    print(f"\nfresh heats: {args.heats} (seed {args.seed}, {args.physics} physics), {time.perf_counter() - t0:.0f} s")
    print(f"{'figure':24s}" + "".join(f"{n:>27s}" for n in res))
    for k in LABELS:
        cells = [f"{e.value:8.3f} [{e.low:7.3f},{e.high:7.3f}]" for e in (r.summary()[k] for r in res.values())]
        print(f"{k:24s}" + "".join(f"{c:>27s}" for c in cells))
    for name in ("advisor", "retrained"):
        c = compare(res[name], res["baseline"])
        d = c["diff_off_spec_rate"]
        print(f"  {name:10s} vs today: material {c['pct_material_cost']:+6.1f} %  off-spec {c['pct_off_spec']:+6.1f} % "
              f"(paired {d.value:+.3f} [{d.low:+.3f}, {d.high:+.3f}])  energy {c['pct_energy']:+6.1f} %  "
              f"productivity {c['pct_productivity']:+6.1f} %")
    c = compare(res["retrained"], res["advisor"])
    print("  retrained vs advisor (paired): " + "  ".join(
        f"{k} {c['diff_' + k].value:+.3f} [{c['diff_' + k].low:+.3f}, {c['diff_' + k].high:+.3f}]"
        for k in ("off_spec_rate", "samples_per_heat", "material_cost_per_t") if "diff_" + k in c))


if __name__ == "__main__":
    main()
