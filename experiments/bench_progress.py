"""Benchmark: what the CLI's progress bar costs `dosing optimize` and `dosing evaluate`.

The same day planned (and the same heats evaluated) three ways, alternating, best of ``--repeat``:
no progress callback, the callback with stderr not a terminal (what cron and CliRunner see: no bar), and a
bar drawn on a forced terminal into memory. Prints each time and its ratio to the run without progress.

    .venv/bin/python experiments/bench_progress.py [--heats 30] [--eval-heats 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib
import io
import time
from collections.abc import Callable

from rich.console import Console

from connectors.cli.app import progress_bar
from optimizer.config import load_config
from optimizer.dosing import optimize_heats
from optimizer.simulator import EVALUATION_STREAM, draw_heats, evaluate, make_policy
from optimizer.surrogates import prior_surrogates

CLI_APP = importlib.import_module("connectors.cli.app")


def timed(run: Callable[[Callable | None], object], mode: str, total: int) -> float:
    """Seconds for ``run(progress)`` in ``mode``: none, pipe (not a terminal) or terminal (bar drawn)."""
    if mode != "none":
        CLI_APP.console = Console(file=io.StringIO(), force_terminal=mode == "terminal", width=120)
    t0 = time.perf_counter()
    if mode == "none":
        run(None)
    else:
        with progress_bar(total) as tell:
            run(tell)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--heats", type=int, default=30)
    ap.add_argument("--eval-heats", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    cfg = load_config()
    sur = prior_surrogates(cfg)
    day = [h.context for h in draw_heats(cfg, a.heats, 2026, EVALUATION_STREAM)]
    jobs = {
        f"optimize {a.heats} heats (1 process)": (lambda p: optimize_heats(cfg, day, sur, workers=1, progress=p),
                                                 a.heats),
        f"evaluate baseline on {a.eval_heats} heats": (
            lambda p: evaluate(cfg, make_policy("baseline", cfg), a.eval_heats, 0, progress=p), a.eval_heats),
    }
    for name, (run, total) in jobs.items():
        best = {m: float("inf") for m in ("none", "pipe", "terminal")}
        for _ in range(a.repeat):
            for m in best:
                best[m] = min(best[m], timed(run, m, total))
        print(f"{name}: " + ", ".join(f"{m} {t:.2f} s ({t / best['none']:.3f}x)" for m, t in best.items()))


if __name__ == "__main__":
    main()
