"""Calibration of the advisor's finish rule in the closed loop: at every heat it finishes, the chance it gave the
heat to be inside its whole window, against what the heat really did in the simulated plant.

A rule whose chances are honest misses, over many heats, the sum of ``1 - chance`` of the heats it finished.
Prints the expected and actual off-spec share by band of the chance, and per outcome the expected misses (the
sum of each outcome's ``1 - chance`` at the finish) against the heats that ended off in that outcome. Heats
finished after the grade's most samples (flagged, off-window) are counted apart.

    PYTHONPATH=. .venv/bin/python experiments/advisor_calibration.py [--physics cycle] [--heats 500] [--seed 11]
        [--history 2000]
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass

import numpy as np

from optimizer.advisor import Advisor, advisor_from_history
from optimizer.config import load_config
from optimizer.simulator import EVALUATION_STREAM, draw_heats, evaluate, get_physics, simulate_history
from optimizer.simulator.advisor_policy import AdvisorPolicy
from optimizer.stages.models import TEMPERATURE
from optimizer.stages.state import HeatState, StageDecision

BANDS = ((0.0, 0.95), (0.95, 0.97), (0.97, 0.99), (0.99, 0.999), (0.999, 1.01))


@dataclass(frozen=True)
class FinishChance:
    """What the rule said when it finished a heat."""

    joint: float  # chance that the heat is inside its whole window
    per_outcome: dict[str, float]
    flagged: bool  # finished after the grade's most samples, off-window


class RecordingAdvisor(Advisor):
    """The advisor, keeping the finish rule's chances of every heat it finishes (by heat id)."""

    chances: dict[str, FinishChance]

    def on_sample(self, state: HeatState) -> StageDecision:
        decision = super().on_sample(state)
        if decision.finish:
            per = self.finish_chances(state)
            self.chances[state.heat_id] = FinishChance(float(np.prod(list(per.values()))), per, bool(decision.flags))
        return decision


def _outcome(reason: str) -> str:
    """The outcome an off-spec reason (``plant.off_spec_reasons``) names."""
    head = reason.split()[0]
    return TEMPERATURE if head == "T" else f"{head}_wt_pct"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--physics", default="standard")
    ap.add_argument("--heats", type=int, default=500)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--history", type=int, default=2000)
    args = ap.parse_args()
    cfg = load_config()
    heats, samples = simulate_history(cfg, args.history, 0, physics=args.physics)
    learned = advisor_from_history(cfg, heats, samples)
    adv = RecordingAdvisor(learned.cfg, learned.models, learned.support)
    adv.chances = {}
    res = evaluate(cfg, AdvisorPolicy(adv), args.heats, args.seed, physics=args.physics)
    ids = [h.context.heat_id for h in draw_heats(cfg, args.heats, args.seed, EVALUATION_STREAM,
                                                  physics=get_physics(args.physics))]
    said = [adv.chances.get(i) for i in ids]
    off = res.off_spec
    by_rule = np.array([c is not None and not c.flagged for c in said])
    joint = np.array([c.joint if c is not None else np.nan for c in said])
    print(f"{args.physics}: {args.heats} heats, {int(by_rule.sum())} finished by the rule, "
          f"{sum(c is not None and c.flagged for c in said)} after the grade's most samples (flagged)")
    print(f"off-spec of the heats finished by the rule: actual {off[by_rule].mean():.3f}, expected from the rule's "
          f"chances {np.mean(1 - joint[by_rule]):.3f}")
    for lo, hi in BANDS:
        band = by_rule & (joint >= lo) & (joint < hi)
        if band.any():
            print(f"  chance in [{lo}, {hi}): {int(band.sum()):4d} heats, expected off {np.mean(1 - joint[band]):.3f}, "
                  f"actual {off[band].mean():.3f}")
    expected, actual = Counter[str](), Counter[str]()
    for c, record, ok in zip(said, res.records, by_rule, strict=True):
        if not ok or c is None:
            continue
        expected.update({name: 1.0 - p for name, p in c.per_outcome.items()})
        actual.update({_outcome(r) for r in record.off_spec})
    for name in sorted(set(expected) | set(actual)):
        if expected[name] >= 0.05 or actual[name]:
            print(f"  {name:18s} expected misses {expected[name]:6.1f}, actual {actual[name]}")


if __name__ == "__main__":
    main()
