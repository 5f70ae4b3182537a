"""Model health in words: for each outcome, the calibration figure that matters, whether it is fine, and whether
the promoted model is worse than today's fixed-yield calculation.

The figure that matters is the 90 % interval coverage on the latest (test) heats. For the final temperature it is
the *closed-loop* coverage (``closed_loop_coverage_90``): the operator steers the temperature after every sample,
so the open-loop ``coverage_90`` of the heat-balance model is not what the plan relies on (docs/surrogates.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from optimizer.schema import TEMPERATURE, element_of

NOMINAL = 0.90
TOO_NARROW = 0.85  # below: intervals hold less often than claimed -> more off-spec than planned
TOO_WIDE = 0.97  # above: intervals wider than needed -> the plan pays for margin it does not need


@dataclass(frozen=True)
class Health:
    """One outcome's verdict: level is 'ok', 'warn' or 'bad'; ``text`` says it in words."""

    outcome: str
    figure: str
    coverage: float
    level: str
    text: str


def outcome_label(outcome: str) -> str:
    """final_Mn_wt_pct -> 'final Mn, wt%'; final_temperature_degC -> 'final temperature, degC'."""
    if outcome == TEMPERATURE:
        return "final temperature, degC"
    el = element_of(outcome)
    return f"final {el}, wt%" if el is not None else outcome


def assess(outcome: str, metrics: dict[str, float], baseline_mae: float | None = None,
           chosen: str | None = None) -> Health:
    """Verdict for one outcome from its test metrics (see module doc)."""
    figure = "closed_loop_coverage_90" if outcome == TEMPERATURE and "closed_loop_coverage_90" in metrics \
        else "coverage_90"
    cov = float(metrics.get(figure, float("nan")))
    name = outcome_label(outcome)
    what = "closed-loop 90 % coverage" if figure.startswith("closed") else "90 % interval coverage"
    if cov != cov:
        level, words = "warn", f"{name}: no {what} measured"
    elif cov < TOO_NARROW:
        level, words = "bad", (f"{name}: MISCALIBRATED, {what} {cov:.2f} (nominal {NOMINAL:.2f}): the intervals "
                               "hold less often than claimed, so heats land off-spec more often than planned")
    elif cov > TOO_WIDE:
        level, words = "warn", (f"{name}: {what} {cov:.2f} (nominal {NOMINAL:.2f}): intervals wider than "
                                "needed, the plan pays for margin it does not need")
    else:
        level, words = "ok", f"{name}: fine, {what} {cov:.2f} (nominal {NOMINAL:.2f})"
    if figure.startswith("closed") and "coverage_90" in metrics:
        words += (f"; the open-loop coverage {metrics['coverage_90']:.2f} is not the figure that matters here "
                  "(the operator steers the temperature after each sample)")
    mae = metrics.get("mae")
    if baseline_mae and mae is not None and mae > baseline_mae * 1.001:
        worse = 100 * (mae / baseline_mae - 1)
        model = f"the promoted model ({chosen})" if chosen else "the promoted model"
        words += (f". Note: {model} has a higher error than today's fixed-yield calculation on the latest heats "
                  f"(MAE {mae:.4g} vs {baseline_mae:.4g}, +{worse:.0f} %)")
        if outcome == TEMPERATURE:
            words += "; it is chosen for causal validity in the arc energy, not for its error (docs/surrogates.md)"
        elif level == "ok":
            level = "warn"
    return Health(outcome, figure, cov, level, words)
