"""Benchmark: time to plan a day of heats, split into model build, solve and extraction.

Surrogates are the trained champions' structures (linear in the decisions given each heat's context), trained
on 2,000 simulated heats; schedules are fresh simulated heats with the daily inventory coupling on and binding
(the most used material stocked at 97 % of its unconstrained use, so all heats are solved jointly). Times are
summed over heats (CPU time in the worker processes) and the wall time of the whole run.

    .venv/bin/python experiments/bench_optimize.py [--sizes 50 200 800] [--workers 2]

    .venv/bin/python experiments/bench_optimize.py --sizes 50 200 --gbm 200 5 --gbm-on context

``--gbm TREES DEPTH`` adds gradient-boosting residuals to Mn, Si and Al, over the context only (linear program per
heat after pruning) or over context and decisions (``--gbm-on all``: a hard MILP per heat); ``--additive`` makes
them additive in the decisions given the context (each tree one step function of one decision after pruning).
"""

from __future__ import annotations

import argparse
import time

from optimizer.config import PlantConfig, load_config
from optimizer.dosing import DosingOptions, optimize_heats
from optimizer.simulator import draw_heats, simulate_history
from optimizer.surrogates import train_surrogates

GBM_OUTCOMES = ("final_Mn_wt_pct", "final_Si_wt_pct", "final_Al_wt_pct")
CONTEXT_FEATURES = ["initial_oxygen_ppm", "initial_temperature_degC", "steel_weight_t"]
GBM_FEATURES = {"context": CONTEXT_FEATURES,
                "all": [*CONTEXT_FEATURES, "add_SiMn_kg", "add_HC_FeMn_kg", "add_FeSi75_kg", "add_Al_wire_kg",
                        "arc_energy_kWh"]}


def gbm(trees: int, depth: int, feats: list[str], additive: bool):  # noqa: ANN201
    """GradientBoostingRegressor, or (``additive``) HistGradientBoosting constrained to one decision per tree path,
    the structure the product's residual surrogates use (optimizer/surrogates/residual.py)."""
    from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor

    if not additive:
        return GradientBoostingRegressor(n_estimators=trees, max_depth=depth, learning_rate=0.05, random_state=0)
    ctx = [i for i, f in enumerate(feats) if f in CONTEXT_FEATURES]
    groups = [[*ctx, i] for i, f in enumerate(feats) if f not in CONTEXT_FEATURES]
    return HistGradientBoostingRegressor(max_iter=trees, max_depth=depth, learning_rate=0.05, random_state=0,
                                         interaction_cst=groups or None)


def add_gbm_residuals(sset, heats, trees: int, depth: int, on: str = "all", additive: bool = False) -> None:
    """Give three outcomes a gradient-boosting residual. Over context and decisions (``on="all"``) every heat
    becomes a hard MILP; over the context only (``on="context"``, known before the decision) every tree is
    pruned to one leaf at build time, so the program stays linear in the decisions."""
    feats = GBM_FEATURES[on]
    for o in GBM_OUTCOMES:
        sur = sset.outcomes[o]
        resid = heats[o].to_numpy() - sur.structure.predict(heats)
        sur.residual_model = gbm(trees, depth, feats, additive).fit(heats[feats], resid)
        sur.residual_features = feats


def binding_inventory(cfg: PlantConfig, day: list, sset, workers: int) -> PlantConfig:
    """The config with the most used material's daily stock at 97 % of what the heats would use
    unconstrained, so the joint (inventory-coupled) solve is exercised and stays feasible."""
    free = optimize_heats(cfg, day, sset, DosingOptions(inventory=False), workers=workers, explain=False)
    use = {m.name: sum(h.additions_kg.get(m.name, 0.0) for h in free.heats) for m in cfg.materials}
    top = sorted(use, key=use.get, reverse=True)[:1]
    mats = [m.model_copy(update={"daily_inventory_kg": 0.97 * use[m.name]}) if m.name in top
            else m.model_copy(update={"daily_inventory_kg": float("inf")}) for m in cfg.materials]
    return cfg.model_copy(update={"materials": mats})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 800])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--gbm", type=int, nargs=2, metavar=("TREES", "DEPTH"), default=None,
                    help="add gradient-boosting residuals (e.g. 200 5) to Mn, Si and Al")
    ap.add_argument("--gbm-on", choices=["all", "context"], default="all",
                    help="the residuals' inputs: context and decisions (hard MILP) or context only (stays linear)")
    ap.add_argument("--additive", action="store_true",
                    help="HistGradientBoosting additive in the decisions given the context (interaction_cst)")
    args = ap.parse_args()
    cfg = load_config()
    heats, _ = simulate_history(cfg, 2000, 0)
    sset, _ = train_surrogates(cfg, heats)
    if args.gbm:
        add_gbm_residuals(sset, heats, *args.gbm, on=args.gbm_on, additive=args.additive)
        kind = "additive HistGradientBoosting" if args.additive else "GradientBoosting"
        print(f"surrogates: linear structures + {kind} residuals {args.gbm[0]} trees x depth {args.gbm[1]} on "
              f"{', '.join(GBM_OUTCOMES)}, inputs: {' '.join(GBM_FEATURES[args.gbm_on])}")
    else:
        print("surrogates: linear structures (context recovery, energy balance)")
    print("times in s; build/solve/extract/diagnose are CPU seconds summed over all solves (also discarded trial "
          "solves), in worker processes too; build = Pyomo model incl. embedded trees; solve = the whole solve call "
          "(Pyomo writing the model into HiGHS, HiGHS, reading back, explanation LPs); HiGHS = HiGHS's own run "
          "time inside it")
    print(f"{'heats':>6s} {'wall':>8s} {'build':>8s} {'solve':>8s} {'HiGHS':>8s} {'extract':>8s} {'diagnose':>8s} "
          f"{'HiGHS share':>11s} {'joint':>6s} {'infeasible':>10s} {'s/heat':>7s} {'max gap':>8s}")
    for n in args.sizes:
        day = [h.context for h in draw_heats(cfg, n, 7, stream=1)]
        tight = binding_inventory(cfg, day, sset, args.workers)
        t0 = time.perf_counter()
        res = optimize_heats(tight, day, sset, workers=args.workers)
        wall = time.perf_counter() - t0
        t = res.timings
        cpu = t.build + t.solve + t.extract + t.diagnose
        print(f"{n:6d} {wall:8.2f} {t.build:8.2f} {t.solve:8.2f} {t.highs:8.2f} {t.extract:8.2f} {t.diagnose:8.2f} "
              f"{t.highs / max(cpu, 1e-9):11.0%} {str(res.joint):>6s} "
              f"{sum(not h.feasible for h in res.heats):10d} {wall / n:7.3f} {res.max_gap:8.2%}")
        if res.coordination:
            c = res.coordination
            print(f"{'':6s} inventory by price coordination: shadow prices "
                  f"{ {m: round(p, 3) for m, p in c['prices_per_kg'].items() if p > 0} } per kg, "
                  f"{c['evaluations']} rounds re-solving {c['resolved_heats']} heats, duality gap "
                  f"{c['duality_gap']:.2%}")


if __name__ == "__main__":
    main()
