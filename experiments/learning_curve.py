"""How much history is needed: the surrogates' learning curve on the simulator.

Trains the one-shot surrogates (optimizer/surrogates, as the nightly run does) on the first N heats of one simulated
history, for N from 100 to 5,000, and scores every fit on the same 1,000 fresh heats (another seed): MAE of the
final chemistry and temperature, the 90 % interval coverage (nominal 0.90) and, for the temperature, the
closed-loop coverage the plan relies on (measured by training on its own latest heats, docs/surrogates.md).
Also prints the fixed-yield (today's calculation) MAE on the same heats as the peer. With ``--stages`` the
per-stage models (optimizer/stages/models.py) are fitted on the stage table of the same heats and their MAE on
the fresh heats' stages is printed too.

    PYTHONPATH=$PWD python experiments/learning_curve.py [--sizes 100 250 500 1000 2500 5000] [--stages]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from optimizer.config import load_config
from optimizer.simulator import simulate_history
from optimizer.surrogates import train_surrogates
from optimizer.surrogates.train import TEMPERATURE, PriorHeatBalance, candidates, constrained_outcomes

SHOWN = ["final_C_wt_pct", "final_Mn_wt_pct", "final_Si_wt_pct", "final_Al_wt_pct", TEMPERATURE]


def score(cfg, sset, test: pd.DataFrame) -> dict[str, tuple[float, float]]:  # noqa: ANN001
    """outcome -> (MAE, 90 % coverage) on the fresh heats."""
    out = {}
    for o, sur in sset.outcomes.items():
        y = test[o].to_numpy(float)
        pred = sur.predict(test)
        hw = np.array([sur.halfwidth(int(k), 0.90, g) for k, g in zip(test["n_samples"], test["grade"], strict=True)])
        out[o] = (float(np.mean(np.abs(y - pred))), float(np.mean(np.abs(y - pred) <= hw)))
    return out


def fixed_yield_mae(cfg, train: pd.DataFrame, test: pd.DataFrame) -> dict[str, float]:  # noqa: ANN001
    """Today's fixed-yield calculation (config priors, nothing learned) on the fresh heats."""
    out = {}
    for o in constrained_outcomes(cfg):
        model = PriorHeatBalance(cfg) if o == TEMPERATURE else candidates(cfg, o)["fixed_yield"]()
        model.fit(train, train[o].to_numpy(float))
        out[o] = float(np.mean(np.abs(test[o].to_numpy(float) - model.predict(test))))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 250, 500, 1000, 2500, 5000])
    ap.add_argument("--test-heats", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    cfg = load_config()
    history, _ = simulate_history(cfg, max(args.sizes), seed=args.seed)
    test, _ = simulate_history(cfg, args.test_heats, seed=args.seed + 1000)
    base = fixed_yield_mae(cfg, history.iloc[:100], test)
    print(f"fresh test heats: {len(test)}; MAE of today's fixed-yield calculation on them: "
          + ", ".join(f"{o} {base[o]:.4g}" for o in SHOWN if o in base), flush=True)
    cols = [f"{o} MAE / {'open-loop ' if o == TEMPERATURE else ''}cov90" for o in SHOWN]
    print("heats | " + " | ".join(cols) + " | T closed-loop cov90 (own latest 15 %) | train s", flush=True)
    for n in args.sizes:
        t0 = time.perf_counter()
        sset, report = train_surrogates(cfg, history.iloc[:n])
        secs = time.perf_counter() - t0
        s = score(cfg, sset, test)
        cl = report.test.get(TEMPERATURE, {}).get("closed_loop_coverage_90", float("nan"))
        print(f"{n} | " + " | ".join(f"{s[o][0]:.4g} / {s[o][1]:.2f}" for o in SHOWN if o in s)
              + f" | {cl:.2f} | {secs:.0f}", flush=True)


if __name__ == "__main__":
    main()
