"""Real ladle-furnace data: final-temperature surrogates (time-ordered), intervals, and estimated savings.

    .venv/bin/python experiments/ladle_furnace.py [--data ../shared/data/ladle_furnace] [--heats 150]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd

from connectors.ladle_files import read_ladle_dir
from optimizer.config import load_config
from optimizer.ladle.adapter import build_heats
from optimizer.ladle.model import evaluate, fit, time_split
from optimizer.ladle.recommend import CAVEAT, default_window, recommend_heat, savings

DEFAULT_DATA = os.environ.get("DOSING_LF_DATA", str(Path(__file__).resolve().parents[1].parent / "shared" / "data"
                                                    / "ladle_furnace"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--heats", type=int, default=150, help="test heats to recommend for (latest first)")
    args = ap.parse_args()
    heats, _, quality = build_heats(read_ladle_dir(args.data))
    print(f"{len(heats)} usable heats; data-quality report: {len(quality)} rows")
    for (file, reason), n in quality.groupby(["file", "reason"]).size().sort_values(ascending=False).items():
        print(f"  {n:4d}  {file}: {reason[:90]}")
    print("final temperature, train on the earlier 80 %, test on the latest 20 % (time order):")
    models = {}
    for kind in ("heat_balance", "gbm"):
        m = evaluate(heats, kind)
        models[kind] = m
        x = m.metrics
        print(f"  {kind:13s} MAE {x['mae']:.2f} degC  RMSE {x['rmse']:.2f}  coverage 90% {x['coverage_90']:.3f} "
              f"95% {x['coverage_95']:.3f}  (predicting the mean: MAE {x['mae_predict_mean']:.2f}; pass mark 6.8, "
              f"target 6.0)")
    train, test = time_split(heats)
    best = min(models, key=lambda k: models[k].metrics["mae"])
    model = fit(train, best)
    window = default_window(train)
    cfg = load_config()
    recs = pd.DataFrame([recommend_heat(model, row, cfg, window) for _, row in test.tail(args.heats).iterrows()])
    s = savings(recs)
    print(f"recommendations with the {best} surrogate on the latest {len(recs)} test heats, window "
          f"{window.low:.0f}..{window.high:.0f} degC at 90 %: {int(recs['feasible'].sum())} feasible")
    print(f"  energy saved per heat: {s['energy_kWh'][0]:.1f} kWh [{s['energy_kWh'][1]:.1f}, {s['energy_kWh'][2]:.1f}]"
          f" = {s['energy_pct'][0]:.1f} % [{s['energy_pct'][1]:.1f}, {s['energy_pct'][2]:.1f}] of the arc energy used")
    print(f"  measurements saved per heat: {s['measurements'][0]:.2f} [{s['measurements'][1]:.2f}, "
          f"{s['measurements'][2]:.2f}]")
    print(f"  caveat: {CAVEAT}")


if __name__ == "__main__":
    main()
