"""Baseline study: is the simulated "today's practice" plausible, and does the harness separate policies?

Prints, on fresh evaluation heats: the baseline's figures with 95 % CIs against the DOMAIN.md ranges, per grade,
why heats go off-spec, over-alloying against a perfect-knowledge policy (knows every hidden parameter), the
better/worse hand-written policies against the baseline (paired), and the time to simulate 2,000 history heats.

    .venv/bin/python experiments/baseline_study.py [--heats 1000] [--seed 5] [--physics NAME]
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np

from optimizer.config import load_config
from optimizer.simulator import (
    EVALUATION_STREAM,
    compare,
    draw_heats,
    evaluate,
    get_physics,
    make_policy,
    physics_names,
    simulate_history,
)
from optimizer.simulator._oracle import PerfectKnowledgePolicy

FIGURES = {  # figure: DOMAIN.md / brief plausibility range
    "ferroalloy_kg_per_t": (8, 20), "energy_kWh_per_t": (30, 50), "off_spec_rate": (0.03, 0.10),
    "samples_per_heat": (3, 3), "treatment_min_per_heat": (35, 60), "material_cost_per_t": None,
    "co2_kg_per_t": None,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heats", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--physics", default="standard", choices=physics_names())
    args = ap.parse_args()
    cfg = load_config()
    n, seed, phys = args.heats, args.seed, args.physics
    t0 = time.perf_counter()
    simulate_history(cfg, 2000, 0, physics=phys)
    print(f"simulate_history: 2000 heats of the {phys} plant in {time.perf_counter() - t0:.1f} s\n")

    runs = {p: evaluate(cfg, make_policy(p, cfg), n, seed, physics=phys) for p in ("baseline", "better", "worse")}
    heats = draw_heats(cfg, n, seed, EVALUATION_STREAM, physics=phys)
    for label, guard in (("perfect knowledge (at grade aim)", None), ("perfect knowledge (min + 10 %)", 0.10)):
        runs[label] = evaluate(cfg, PerfectKnowledgePolicy.for_heats(cfg, heats, guard), n, seed, physics=phys)
    base = runs["baseline"].summary()
    print(f"today's practice on {n} fresh heats (seed {seed}, {phys} physics), mean [95 % CI] vs plausible range")
    figures = dict(FIGURES)
    if get_physics(phys).practice.finish_margin is not None:  # operators who finish once in window sample less
        figures["samples_per_heat"] = (1.5, 3)
    for k, rng in figures.items():
        e = base[k]
        ok = "" if rng is None else ("  ok" if rng[0] <= e.value <= rng[1] else "  OUT OF RANGE") + f" {rng}"
        print(f"  {k:24s} {e.value:9.3f} [{e.low:8.3f}, {e.high:8.3f}]{ok}")

    print("\nper grade (baseline): heats, ferroalloy kg/t, energy kWh/t, off-spec rate")
    grades = np.array([h.context.grade for h in heats])
    b = runs["baseline"]
    for g in cfg.grade_names:
        m = grades == g
        print(f"  {g:8s} {m.sum():5d} {b.per_heat['ferroalloy_kg_per_t'][m].mean():7.2f} "
              f"{b.per_heat['energy_kWh_per_t'][m].mean():7.1f} {b.off_spec[m].mean():7.3f}")
    why = collections.Counter(f"{r.split()[0]} {r.split()[2]}" for rs in b.off_spec_reasons for r in rs)
    print(f"off-spec reasons (baseline): {dict(why)}")

    print("\nover-alloying of today's practice against perfect knowledge (same heats):")
    for label in ("perfect knowledge (at grade aim)", "perfect knowledge (min + 10 %)"):
        s = runs[label].summary()
        fa = base["ferroalloy_kg_per_t"].value / s["ferroalloy_kg_per_t"].value - 1
        cost = base["material_cost_per_t"].value / s["material_cost_per_t"].value - 1
        print(f"  vs {label:34s} ferroalloy {fa:+.1%}, material cost {cost:+.1%}, "
              f"its off-spec {s['off_spec_rate'].value:.3f}, energy {s['energy_kWh_per_t'].value:.1f} kWh/t")

    print("\nhand-written policies against today's practice (paired, same heats):")
    for p in ("better", "worse"):
        c = compare(runs[p], runs["baseline"])
        s = runs[p].summary()
        d = c["diff_material_cost_per_t"]
        print(f"  {p:7s} material cost {c['pct_material_cost']:+6.1f} % (diff {d.value:+.2f} [{d.low:+.2f}, "
              f"{d.high:+.2f}] per t), off-spec {s['off_spec_rate'].value:.3f} [{s['off_spec_rate'].low:.3f}, "
              f"{s['off_spec_rate'].high:.3f}] ({c['pct_off_spec']:+.0f} %), energy {c['pct_energy']:+.1f} %, "
              f"productivity {c['pct_productivity']:+.1f} %")


if __name__ == "__main__":
    main()
