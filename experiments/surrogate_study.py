"""Surrogate study: every candidate structure against today's fixed-yield calculation, time-ordered.

    .venv/bin/python experiments/surrogate_study.py [--heats 2000] [--seed 1] [--no-residual]

Simulator history is sorted by start time; the first 70 % train, the next 15 % calibrate the intervals, the
latest 15 % are the held-out test. Prints, per outcome: the chosen structure, the held-out MAE/RMSE of the
fixed-yield calculation (a), of each decision-linear structure (b) and of each residual structure (c), the
time-ordered CV MAE that chose, and the interval coverage of the chosen structure at 90 % and 95 % on the test
heats, overall and by number of samples.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from optimizer.config import load_config
from optimizer.simulator import simulate_history
from optimizer.surrogates import train_surrogates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heats", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-residual", action="store_true", help="skip the non-linear residual structures (c)")
    args = ap.parse_args()
    cfg = load_config()
    heats, _ = simulate_history(cfg, args.heats, args.seed)
    t0 = time.perf_counter()
    sset, rep = train_surrogates(cfg, heats, residual=not args.no_residual)
    print(f"history {args.heats} heats (seed {args.seed}); train {rep.n_train}, calibrate {rep.n_calibration}, "
          f"test on the latest {rep.n_test}; training took {time.perf_counter() - t0:.1f} s")
    print("\n== held-out (latest heats) MAE / RMSE per structure; * = chosen; CV MAE in brackets ==")
    for o, cands in rep.candidate_test.items():
        fixed = cands["fixed_yield"]["mae"]
        print(f"{o}")
        for name, s in cands.items():
            mark = "*" if name == rep.chosen[o] else " "
            gain = 1 - s["mae"] / fixed if fixed else 0.0
            print(f"  {mark} {name:26s} MAE {s['mae']:9.4g}  RMSE {s['rmse']:9.4g}  vs fixed {gain:+7.1%}  "
                  f"[CV {rep.cv_mae[o][name]:.4g}]")
    print("\n== chosen structures: interval coverage on the latest heats ==")
    print(f"{'outcome':24s} {'chosen':26s} {'cov90':>6s} {'cov95':>6s}  cov90 by n_samples (heats)   "
          "halfwidth90 by n_samples")
    for o, t in rep.test.items():
        sur = sset.outcomes[o]
        pred = rep.test_predictions[o]
        test = heats.sort_values("start_time", kind="stable").tail(rep.n_test)
        n = test["n_samples"].to_numpy(int)
        hw = np.array([sur.halfwidth(int(k), 0.9, g) for k, g in zip(n, test["grade"], strict=True)])
        inside = np.abs(pred["actual"].to_numpy() - pred["predicted"].to_numpy()) <= hw
        by_n = ", ".join(f"{k}: {inside[n == k].mean():.2f} ({(n == k).sum()})" for k in np.unique(n))
        widths = ", ".join(f"{k}: {sur.halfwidth(int(k), 0.9):.3g}" for k in range(1, 6))
        print(f"{o:24s} {rep.chosen[o]:26s} {t['coverage_90']:6.2f} {t['coverage_95']:6.2f}  {by_n}   {widths}")
        if "closed_loop_coverage_90" in t:
            print(f"{'':24s} {'closed loop (around aim)':26s} {t['closed_loop_coverage_90']:6.2f} "
                  f"{t['closed_loop_coverage_95']:6.2f}  (the temperature width is the operator's closed-loop "
                  "spread around the grade's aim, see docs/surrogates.md)")


if __name__ == "__main__":
    main()
