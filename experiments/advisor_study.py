"""Closed-loop study of the heat-by-heat advisor against today's practice, the night plan alone and the per-heat
plan, on the same fresh simulated heats.

All learned policies learn only from history the simulator made under today's practice (history stream):
* ``baseline``: today's level-2 practice;
* ``night plan``: the dosing program planned from the grade's expected arrival state (what the night can know),
  followed by today's operators (fixed-yield trims after intermediate samples);
* ``per-heat plan``: the dosing program planned from each heat's real arrival values (the first wave's shape,
  which needs values that exist only when the heat arrives), followed by today's operators;
* ``advisor``: decides each heat on arrival and after every sample.
Prints each figure with its 95 % CI and the yardstick of each policy against the baseline (paired).

    .venv/bin/python experiments/advisor_study.py [--heats 500] [--seed 11] [--history 2000] [--physics NAME]
        [--skip-plans] [--residual]
"""

from __future__ import annotations

import argparse
import time

from optimizer.advisor import advisor_from_history
from optimizer.config import load_config
from optimizer.simulator import compare, evaluate, make_policy, simulate_history
from optimizer.simulator.advisor_policy import AdvisorPolicy
from optimizer.simulator.night_policy import NightPlanPolicy
from optimizer.simulator.optimizer_policy import optimizer_from_simulated_history
from optimizer.stages.arrival import learn_expected_arrival

LABELS = ["material_cost_per_t", "energy_kWh_per_t", "co2_kg_per_t", "off_spec_rate", "samples_per_heat",
          "dips_per_heat", "treatment_min_per_heat"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heats", type=int, default=500)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--history", type=int, default=2000)
    ap.add_argument("--skip-plans", action="store_true", help="only baseline and advisor (fast)")
    ap.add_argument("--residual", action="store_true", help="also the advisor with the learned stage residuals "
                    "(boosted trees, optimizer/stages/residual.py) on the same heats")
    ap.add_argument("--physics", default="standard", help="plant physics of history and fresh heats "
                    "(`dosing evaluate --list-physics`)")
    args = ap.parse_args()
    cfg = load_config()
    t0 = time.perf_counter()
    heats, samples = simulate_history(cfg, args.history, 0, physics=args.physics)
    policies = {"baseline": make_policy("baseline", cfg)}
    if not args.skip_plans:
        per_heat = optimizer_from_simulated_history(cfg, args.history, history_seed=0, physics=args.physics)
        night_inner = optimizer_from_simulated_history(cfg, args.history, history_seed=0, physics=args.physics)
        policies["night plan"] = NightPlanPolicy(night_inner, learn_expected_arrival(cfg, heats))
        policies["per-heat plan"] = per_heat
    policies["advisor"] = AdvisorPolicy(advisor := advisor_from_history(cfg, heats, samples))
    for name, m in advisor.models.outcomes.items():
        if m.fade.kept:
            print(f"  fade {name:19s} kept: {m.fade.rate_per_min:.2e} per min ({m.fade.z:.1f} se), "
                  f"{m.fade.arc_rate_per_min:.2e} per arc min ({m.fade.arc_z:.1f} se), {m.fade.n_stages} stages "
                  "without an addition of it")
        if m.drift_kept:
            print(f"  drift {name:18s} kept: variance {m.drift_z:.1f} se above 0, later heats' updated forecasts "
                  f"+{m.drift_gain:.1f} nats, {m.drift_pairs} stage pairs apart")
        for side, r in (("below", m.gross.below), ("above", m.gross.above)):
            if r.kept:
                print(f"  gross {name:18s} kept: {r.share:.2f} of the readings far {side} their prediction taken "
                      f"back by the next sample (slope {r.slope_tail:+.2f}, core {r.slope_core:+.2f}, {r.z:.1f} se, "
                      f"{r.n_tail} pairs)")
        if m.unseen_kept:
            print(f"  unseen {name:17s} kept: {m.unseen:+.3f} of a stage's nominal input shows after its closing "
                  f"sample, held-out gain {m.unseen_z:.1f} se")
    if args.residual:
        with_res = advisor_from_history(cfg, heats, samples, residual=True)
        policies["advisor+residual"] = AdvisorPolicy(with_res, name="advisor+residual")
        for name, m in with_res.models.outcomes.items():
            c = m.residual_check
            if c is not None:
                print(f"  residual {name:18s} later-heat MSE physics {c.mse_physics:.4g} -> with trees "
                      f"{c.mse_with_residual:.4g} ({'chosen' if c.chosen else 'not chosen'})")
    print(f"learned from {args.history} history heats in {time.perf_counter() - t0:.0f} s")
    res = {}
    for name, pol in policies.items():
        t1 = time.perf_counter()
        res[name] = evaluate(cfg, pol, args.heats, args.seed, physics=args.physics)
        print(f"  evaluated {name} in {time.perf_counter() - t1:.0f} s")
    print(f"\nfresh heats: {args.heats} (seed {args.seed}, {args.physics} physics)")
    print(f"{'figure':24s}" + "".join(f"{n:>27s}" for n in res))
    for k in LABELS:
        cells = [f"{e.value:8.3f} [{e.low:7.3f},{e.high:7.3f}]" for e in (r.summary()[k] for r in res.values())]
        print(f"{k:24s}" + "".join(f"{c:>27s}" for c in cells))
    print("\nagainst today's practice (programme target):  material -20 %  off-spec -50 %  energy -10 %  "
          "productivity +30 %")
    for name, r in res.items():
        if name == "baseline":
            continue
        c = compare(r, res["baseline"])
        d = c["diff_off_spec_rate"]
        print(f"  {name:14s} material {c['pct_material_cost']:+6.1f} %  off-spec {c['pct_off_spec']:+6.1f} % "
              f"(paired diff {d.value:+.3f} [{d.low:+.3f}, {d.high:+.3f}])  energy {c['pct_energy']:+6.1f} %  "
              f"productivity {c['pct_productivity']:+6.1f} %")


if __name__ == "__main__":
    main()
