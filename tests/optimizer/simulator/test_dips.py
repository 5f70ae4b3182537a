"""A stage closed by a temperature dip alone: the plant measures the temperature only, the heat waits the dip's
half minute instead of the chemistry sample's minutes, and the record counts it as a dip, not a sample."""

from __future__ import annotations

import math

from optimizer.simulator import EVALUATION_STREAM, draw_heats
from optimizer.simulator.heats import heat_rng
from optimizer.simulator.plant import run_controlled_heat
from optimizer.stages.state import HeatState, StageDecision


class MainThenDip:
    """Arrival: a main stage; after it, heat once more and close with a dip (or a sample); then finish."""

    def __init__(self, closing: str) -> None:
        self.closing = closing
        self.seen: list[HeatState] = []

    def on_arrival(self, state: HeatState) -> StageDecision:
        return StageDecision(False, {"SiMn": 1500.0, "Lime": 500.0}, 3000.0, stir_min=5.0)

    def on_sample(self, state: HeatState) -> StageDecision:
        self.seen.append(state)
        if state.n_stages == 1:
            return StageDecision(False, {}, 800.0, closing=self.closing)  # type: ignore[arg-type]
        return StageDecision(True)


def test_a_dip_measures_the_temperature_only_and_costs_its_own_minutes(cfg):
    heat = draw_heats(cfg, 1, 3, EVALUATION_STREAM)[0]
    runs = {}
    for closing in ("dip", "sample"):
        ctl = MainThenDip(closing)
        runs[closing] = (run_controlled_heat(cfg, heat, ctl, heat_rng(3, EVALUATION_STREAM + 100, 0)), ctl)
    dip, dip_ctl = runs["dip"]
    sample, _ = runs["sample"]
    last = dip.samples[-1]
    assert last["kind"] == "temperature" and not any(k.endswith("_wt_pct") for k in last)
    assert dip_ctl.seen[-1].last.is_dip and dip_ctl.seen[-1].n_chemistry_samples == 1
    assert (dip.n_samples, dip.n_dips) == (1, 1) and (sample.n_samples, sample.n_dips) == (2, 0)
    s = cfg.sampling
    saved = s.minutes_per_sample - s.minutes_per_temperature_sample
    assert math.isclose(sample.treatment_time_min - dip.treatment_time_min, saved, abs_tol=0.02)
    # the final measured chemistry is the last chemistry sample's; the true state decides off-spec as always
    assert dip.final_measured_wt_pct == {el: dip.samples[1][f"{el}_wt_pct"] for el in cfg.elements}
