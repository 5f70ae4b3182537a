"""The grade's confidence is the chance that the heat lands inside its whole window: a heat with two outcomes
each just inside at that confidence does not finish, one with a single such outcome does."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from optimizer.advisor import Advisor
from optimizer.stages.state import HeatState, Sample, StageRecord
from tests.optimizer.advisor.test_advisor import ARRIVAL, S355

Z_EACH = 1.8  # sd inside the limit: each outcome alone is inside with chance 0.964 > 0.95, two together 0.929


class _FixedEstimateAdvisor(Advisor):
    """An advisor whose estimate of each outcome is its last measurement with a fixed sd (the stage models'
    fusion taken out, so the finish rule alone is tested)."""

    SD = {"temperature_degC": 2.0, "Mn_wt_pct": 0.02}

    def closing_estimate(self, state: HeatState, name: str) -> tuple[float, float]:
        if name == "temperature_degC":
            return state.last.temperature_degC, self.SD[name]
        return state.last.wt_pct[name.removesuffix("_wt_pct")], self.SD.get(name, 1e-6)


def _after_main(temperature_degC: float, mn_wt_pct: float) -> HeatState:
    samples = (Sample(0, 0.0, 1590.0, ARRIVAL), Sample(1, 18.0, temperature_degC, {**S355, "Mn": mn_wt_pct}))
    return HeatState("J1", "S355J2", 100.0, samples, (StageRecord({"SiMn": 1900.0, "Al_wire": 40.0}, 2500.0),),
                     oxygen_ppm=380.0)


def test_two_outcomes_each_just_inside_do_not_finish_the_heat_one_does(advisor: Advisor):
    fixed = _FixedEstimateAdvisor(advisor.cfg, advisor.models, advisor.support)
    grade = advisor.cfg.grade("S355J2")  # T 1580-1605 degC, Mn 1.30-1.60 wt%, confidence 0.95
    assert grade.confidence == 0.95
    each = float(stats.norm.cdf(Z_EACH))
    assert each > grade.confidence > each * each
    t_edge = grade.temperature_degC.min + Z_EACH * fixed.SD["temperature_degC"]
    mn_edge = grade.chemistry_wt_pct["Mn"].min + Z_EACH * fixed.SD["Mn_wt_pct"]
    mid_t = (grade.temperature_degC.min + grade.temperature_degC.max) / 2

    ok, why = fixed._accepts(grade, _after_main(t_edge, mn_edge))
    assert not ok and "jointly 0.92" in why and "below the grade's confidence 0.95" in why, why
    assert not fixed.on_sample(_after_main(t_edge, mn_edge)).finish
    chances = fixed.finish_chances(_after_main(t_edge, mn_edge))  # what the rule multiplies
    assert chances["Mn_wt_pct"] == pytest.approx(each, abs=1e-6)
    assert chances["temperature_degC"] == pytest.approx(each, abs=1e-6)
    assert math.prod(chances.values()) == pytest.approx(each * each, abs=1e-6)

    for temperature, mn in ((mid_t, mn_edge), (t_edge, 1.45)):  # one outcome near its limit: as alone
        ok, why = fixed._accepts(grade, _after_main(temperature, mn))
        assert ok, why


def test_a_single_outcome_needs_the_grade_confidence(advisor: Advisor):
    """Alone near its limit an outcome needs the grade's confidence: just below it the heat does not finish."""
    fixed = _FixedEstimateAdvisor(advisor.cfg, advisor.models, advisor.support)
    grade = advisor.cfg.grade("S355J2")
    z = float(stats.norm.ppf(grade.confidence))
    mid_t = (grade.temperature_degC.min + grade.temperature_degC.max) / 2
    lo = grade.chemistry_wt_pct["Mn"].min
    sd = fixed.SD["Mn_wt_pct"]
    assert fixed._accepts(grade, _after_main(mid_t, lo + (z + 0.05) * sd))[0]
    ok, why = fixed._accepts(grade, _after_main(mid_t, lo + (z - 0.05) * sd))
    assert not ok and why.startswith("Mn_wt_pct inside its window with chance 0.94"), why
    assert math.isclose(z, 1.6449, abs_tol=1e-4)
