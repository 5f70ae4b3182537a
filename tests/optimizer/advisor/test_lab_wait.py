"""A lab result that takes longer than the sample's minutes: the sample reads the bath when it is taken, the heat
waits and cools until the result, and the advisor decides when the result is there (``HeatState``'s
``decision_minutes_from_start``). It judges the heat on what it leaves with after the wait, and counts the waited
minutes in the next stage."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from optimizer.advisor import Advisor
from optimizer.advisor.support import history_support, result_wait_min
from optimizer.config import PlantConfig
from optimizer.simulator import EVALUATION_STREAM, draw_heats, simulate_history
from optimizer.simulator.heats import heat_rng
from optimizer.simulator.plant import run_controlled_heat
from optimizer.stages.models import TEMPERATURE
from optimizer.stages.state import HeatState, Sample, StageDecision, StageRecord
from optimizer.stages.table import stage_table
from optimizer.stages.update import stage_context

S355 = {"C": 0.17, "Mn": 1.45, "Si": 0.35, "Al": 0.035, "P": 0.015, "S": 0.01, "Cr": 0.04, "Ni": 0.03, "Cu": 0.08}


def _heat(decided: float = math.nan, dip_degC: float = 1588.0) -> HeatState:
    """An S355J2 heat (window 1580-1605 degC) after its main stage, sampled at minute 25."""
    arrival = Sample(0, 0.0, 1560.0, {**S355, "Mn": 0.1, "Si": 0.01})
    return HeatState("W1", "S355J2", 100.0, (arrival, Sample(1, 25.0, dip_degC, S355)),
                     (StageRecord({"SiMn": 1900.0, "Al_wire": 40.0, "Lime": 400.0}, 2500.0),), oxygen_ppm=380.0,
                     decision_minutes_from_start=decided)


def test_a_heat_that_waited_for_its_result_is_judged_on_what_it_leaves_with(advisor: Advisor):
    """In window when the result comes with the sample; 10 minutes later the heat has cooled below what the
    grade's minimum allows, so the advisor heats on, the waited minutes part of the stage it plans."""
    at_sample = advisor.on_sample(_heat())
    assert at_sample.finish, at_sample.reason
    assert advisor.on_sample(_heat(25.0)) == at_sample  # a result with the sample: no wait, the same decision
    late = _heat(35.0)
    assert late.waited_min == pytest.approx(10.0)
    v, _ = advisor.closing_estimate(late, TEMPERATURE)
    leaves, _ = advisor.settled_estimate(late, TEMPERATURE)
    per_min = advisor.models.linear(TEMPERATURE, stage_context(late, advisor.cfg)).per_min
    assert per_min < 0 and leaves == pytest.approx(v + 10.0 * per_min)  # the learned holding loss, 10 minutes
    d = advisor.on_sample(late)
    assert not d.finish and d.arc_energy_kWh > 0, d
    assert 1580.0 <= d.predicted[TEMPERATURE][0] <= 1605.0, d.predicted[TEMPERATURE]
    # the same stage planned at the sample's time would need less energy: the waited minutes cooled the heat
    early = advisor.on_sample(_heat(25.0, dip_degC=1583.0))
    assert not early.finish and early.arc_energy_kWh < advisor.on_sample(_heat(35.0, dip_degC=1583.0)).arc_energy_kWh


def test_the_decision_time_is_checked_and_travels_in_json():
    with pytest.raises(ValueError, match="decision_minutes_from_start 20.0 is before the last sample"):
        _heat(20.0)
    state = _heat(31.5)
    assert HeatState.from_dict(state.to_dict()) == state
    assert math.isnan(HeatState.from_dict({**_heat().to_dict(), "decision_minutes_from_start": None})
                      .decision_minutes_from_start)
    with pytest.raises(ValueError, match="decision_minutes_from_start"):
        HeatState.from_dict({**state.to_dict(), "decision_minutes_from_start": "soon"})


@dataclasses.dataclass
class _Recorder:
    """Two stages of a little heating, then finish; keeps every state it was asked with."""

    states: list[HeatState] = dataclasses.field(default_factory=list)

    def on_arrival(self, state: HeatState) -> StageDecision:
        self.states.append(state)
        return StageDecision(False, arc_energy_kWh=500.0)

    def on_sample(self, state: HeatState) -> StageDecision:
        self.states.append(state)
        return StageDecision(state.n_stages >= 2, arc_energy_kWh=0.0 if state.n_stages >= 2 else 500.0)


@pytest.mark.parametrize(("physics", "waits"), [("standard", False), ("lots", True)])
def test_the_simulated_plant_asks_when_the_result_is_there(cfg: PlantConfig, physics: str, waits: bool):
    """``lots``' conventional lab takes longer than the sample's minutes; ``standard``'s result comes with it."""
    heat = draw_heats(cfg, 1, 3, EVALUATION_STREAM, physics=physics)[0]
    rec = _Recorder()
    run_controlled_heat(cfg, heat, rec, heat_rng(3, EVALUATION_STREAM, 0))
    waited = np.array([s.waited_min for s in rec.states])
    assert len(waited) == 3 and waited[0] == 0.0  # the arrival: no wait for a result in the simulated plant
    assert (waited[1:] > 0.1).all() if waits else (waited == 0.0).all(), waited


def test_the_history_gives_the_wait_for_a_result(cfg: PlantConfig):
    """A heat ends when its last result is in: the history's minutes from the last sample to the end are the
    wait (median); 0 without treatment times or samples."""
    heats = pd.DataFrame({"heat_id": ["A", "B", "C"], "treatment_time_min": [40.0, 52.0, 61.0]})
    samples = pd.DataFrame({"heat_id": ["A", "A", "B", "B", "C"], "minutes_from_start": [0.0, 37.0, 0.0, 48.0, 59.0]})
    assert result_wait_min(heats, samples) == pytest.approx(3.0)  # waits 3, 4, 2
    assert result_wait_min(heats.drop(columns="treatment_time_min"), samples) == 0.0
    assert result_wait_min(heats, None) == 0.0
    hist, smp = simulate_history(cfg, 60, 4, physics="lots")
    stages = stage_table(cfg, hist, smp)
    assert history_support(cfg, hist, stages, smp).result_wait_min > 1.0
    assert history_support(cfg, hist, stages).result_wait_min == 0.0


def test_the_minutes_waited_are_stirring_the_stage_no_longer_needs(advisor: Advisor):
    """In the history a wait for a result is inside the stage after the sample: a trim decided 3 minutes after its
    sample stirs the history's trim minutes less those 3, and never less than a minute."""
    hist_stir = advisor.support.stir_min[True]
    low_mn = dataclasses.replace(_heat(), samples=(_heat().samples[0], Sample(1, 25.0, 1590.0, {**S355, "Mn": 1.28})))
    at_once = advisor.on_sample(low_mn)
    later = advisor.on_sample(dataclasses.replace(low_mn, decision_minutes_from_start=28.0))
    much_later = advisor.on_sample(dataclasses.replace(low_mn, decision_minutes_from_start=25.0 + hist_stir + 5.0))
    assert not at_once.finish and at_once.stir_min == pytest.approx(hist_stir)
    assert later.stir_min == pytest.approx(max(hist_stir - 3.0, 1.0)) and much_later.stir_min == 1.0


def test_a_stage_whose_result_will_be_slow_is_heated_for_the_wait(advisor: Advisor):
    """The same trim (Mn below its minimum: the stage closes with a chemistry sample), for a plant whose results
    come 5 minutes after the sample: more energy, so that the heat is still in window when the closing sample's
    result is in (about 5 x the learned loss per minute warmer). A stage closed by a dip alone waits for no result."""
    slow = Advisor(advisor.cfg, advisor.models, dataclasses.replace(advisor.support, result_wait_min=5.0))
    low_mn = _heat(dip_degC=1583.0)
    low_mn = dataclasses.replace(low_mn, samples=(low_mn.samples[0], Sample(1, 25.0, 1583.0, {**S355, "Mn": 1.28})))
    quick, late = advisor.on_sample(low_mn), slow.on_sample(low_mn)
    assert quick.closing == late.closing == "sample" and quick.additions_kg and late.additions_kg
    assert late.arc_energy_kWh > quick.arc_energy_kWh, (quick, late)
    per_min = advisor.models.linear(TEMPERATURE, stage_context(low_mn, advisor.cfg)).per_min
    assert late.predicted[TEMPERATURE][0] - quick.predicted[TEMPERATURE][0] == pytest.approx(-5.0 * per_min, abs=1.0)
