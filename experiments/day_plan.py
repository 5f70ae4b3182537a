"""The demo day as the night plans it: expected materials and energy with ranges, inventory risk, shadow prices.

The demo's history (2000 simulated heats, seed 1) and day (30 heats, seed 2026), the schedule cut to what the
night knows (heat id, planned time, grade, weight), run through ``dosing nightly`` three times: with the shipped
stock; with one material's stock cut to ``--short`` of what the first night's plan uses (a scarce material: its
shadow price, and what the ranges say); and with ``--risk``'s stock halfway between the first night's plan and
the high end of its range (the point plan fits, the arrival spread may not: the inventory-risk flag). Prints the
figures; files under ``--out``.

    python experiments/day_plan.py [--draws 20] [--short 0.9] [--material HC_FeMn] [--risk Carburizer]
        [--out .dosing/day_plan]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import pandas as pd

from connectors.nightly import run_nightly
from optimizer.config import PlantConfig, load_config
from optimizer.recommendation import Recommendation
from optimizer.simulator import draw_heats, schedule_frame, simulate_history
from optimizer.simulator.heats import EVALUATION_STREAM

HISTORY_HEATS, DAY_HEATS, SEED = 2000, 30, 2026  # as connectors/demo.py


def with_stock(cfg: PlantConfig, material: str, kg: float) -> PlantConfig:
    return cfg.model_copy(update={"materials": [m.model_copy(update={"daily_inventory_kg": kg})
                                                if m.name == material else m for m in cfg.materials]})


def show(title: str, rec: Recommendation, seconds: float) -> None:
    day = rec.day_use
    assert day is not None
    lo, hi = day.quantiles
    ok = sum(h.feasible for h in rec.heats)
    print(f"\n== {title}: {ok} of {len(rec.heats)} heats planned, night {seconds:.0f} s; ranges {lo:.0%}-{hi:.0%} "
          f"over {day.draws_per_heat} arrival states per heat ({day.no_plan_draws} draws without plan)")
    print(f"  {'':12s} {'plan':>9s} {'expected':>9s} {'low':>9s} {'high':>9s} {'stock':>9s}  P(need>stock)")
    for m, u in day.materials_kg.items():
        stock = "-" if u.stock is None else f"{u.stock:9,.0f}"
        print(f"  {m:12s} {u.plan:9,.0f} {u.expected:9,.0f} {u.low:9,.0f} {u.high:9,.0f} {stock:>9s}  "
              f"{u.p_over_stock:5.0%}{'  AT RISK' if u.at_risk else ''}")
    if day.energy_kWh is not None:
        e = day.energy_kWh
        print(f"  {'energy kWh':12s} {e.plan:9,.0f} {e.expected:9,.0f} {e.low:9,.0f} {e.high:9,.0f}")
    print(f"  shadow prices: {rec.shadow_price_per_kg or 'none'}; risks: {day.risks or 'none'}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--short", type=float, default=0.9, help="the scarce material's stock, share of its plan use")
    ap.add_argument("--material", default="HC_FeMn")
    ap.add_argument("--risk", default="Carburizer", help="material whose stock is set inside its day range")
    ap.add_argument("--out", type=Path, default=Path(".dosing/day_plan"))
    args = ap.parse_args()
    cfg = load_config()
    if args.out.exists():
        shutil.rmtree(args.out)
    (args.out / "history").mkdir(parents=True)
    tomorrow = pd.Timestamp.now(tz="UTC").floor("D") + pd.Timedelta(hours=30)
    heats, samples = simulate_history(cfg, HISTORY_HEATS, seed=1, start=tomorrow - pd.Timedelta(days=80))
    heats.to_parquet(args.out / "history" / "heats.parquet", index=False)
    samples.to_csv(args.out / "history" / "samples.csv", index=False)
    day = schedule_frame(cfg, draw_heats(cfg, DAY_HEATS, SEED, EVALUATION_STREAM, start=tomorrow))
    day[["heat_id", "planned_time", "grade", "steel_weight_t"]].to_csv(args.out / "schedule.csv", index=False)
    uri = f"sqlite:///{(args.out / 'mlflow.db').resolve()}"
    t0 = time.perf_counter()
    first = run_nightly(cfg, args.out / "history", args.out / "schedule.csv", args.out / "night", None, uri,
                        pareto=False, progress=lambda m: None, day_draws=args.draws)
    rec = Recommendation.from_json(first.recommendation_file)
    show("shipped stock", rec, time.perf_counter() - t0)
    assert rec.day_use is not None
    plan_kg = rec.day_use.materials_kg[args.material].plan
    short = with_stock(cfg, args.material, args.short * plan_kg)
    t0 = time.perf_counter()
    second = run_nightly(short, args.out / "history", args.out / "schedule.csv", args.out / "night_short", None,
                         uri, pareto=False, progress=lambda m: None, day_draws=args.draws)
    show(f"{args.material} stock {args.short:.0%} of its plan use ({args.short * plan_kg:,.0f} kg)",
         Recommendation.from_json(second.recommendation_file), time.perf_counter() - t0)
    use = rec.day_use.materials_kg[args.risk]
    risky = with_stock(cfg, args.risk, (use.plan + use.high) / 2)
    t0 = time.perf_counter()
    third = run_nightly(risky, args.out / "history", args.out / "schedule.csv", args.out / "night_risk", None,
                        uri, pareto=False, progress=lambda m: None, day_draws=args.draws)
    show(f"{args.risk} stock halfway between its plan and the high end ({(use.plan + use.high) / 2:,.0f} kg)",
         Recommendation.from_json(third.recommendation_file), time.perf_counter() - t0)
    print(f"\nreports: {first.report_file}, {second.report_file}, {third.report_file}")


if __name__ == "__main__":
    main()
