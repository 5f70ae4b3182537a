"""Surrogate study: every candidate structure against today's fixed-yield calculation, time-ordered.

    .venv/bin/python experiments/surrogate_study.py [--heats 2000] [--seed 1]
"""

from __future__ import annotations

import argparse

from optimizer.config import load_config
from optimizer.simulator import simulate_history
from optimizer.surrogates import train_surrogates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heats", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    cfg = load_config()
    heats, _ = simulate_history(cfg, args.heats, args.seed)
    _, rep = train_surrogates(cfg, heats)
    print(f"history {args.heats} heats (seed {args.seed}); train {rep.n_train}, calibrate {rep.n_calibration}, "
          f"test on the latest {rep.n_test}")
    print(f"{'outcome':24s} {'chosen':22s} {'test MAE':>10s} {'fixed MAE':>10s} {'gain':>7s} {'cov90':>6s} "
          f"{'cov95':>6s}  CV MAE per candidate")
    for o, t in rep.test.items():
        gain = 1 - t["mae"] / rep.baseline_test_mae[o] if rep.baseline_test_mae[o] else 0.0
        cv = ", ".join(f"{k} {v:.4g}" for k, v in rep.cv_mae[o].items())
        print(f"{o:24s} {rep.chosen[o]:22s} {t['mae']:10.4g} {rep.baseline_test_mae[o]:10.4g} {gain:7.1%} "
              f"{t['coverage_90']:6.2f} {t['coverage_95']:6.2f}  {cv}")


if __name__ == "__main__":
    main()
