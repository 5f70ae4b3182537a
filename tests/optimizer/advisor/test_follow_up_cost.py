"""A failed closing sample costs as many stages as its follow-ups take: deeper aims pay when follow-ups can fail."""

from __future__ import annotations

import pytest

from optimizer.advisor import Advisor
from optimizer.advisor.advisor import _Solution, _stages_after_failure
from optimizer.stages.state import HeatState, Sample

REDO = 200.0  # cost of one more stage


def _candidate(cost: float, p_pass: float) -> _Solution:
    return _Solution({}, 0.0, 0.0, cost, p_pass, {}, ())


def test_stages_a_failure_costs_are_a_truncated_geometric():
    assert _stages_after_failure(1.0, 3) == pytest.approx(1.0)  # the follow-up always finishes: one stage
    assert _stages_after_failure(0.0, 3) == pytest.approx(3.0)  # never: every stage the history supports
    assert _stages_after_failure(0.5, 2) == pytest.approx(1.5)  # 1 + 0.5
    assert _stages_after_failure(0.5, 0) == 0.0  # the last supported stage: no follow-up


def test_deeper_aim_when_follow_ups_can_fail_again(advisor: Advisor):
    lean, deep = (0.0, False, _candidate(0.0, 0.75)), (1.5, False, _candidate(52.0, 0.98))
    # two follow-ups supported, each a trim aimed the same way: the lean one's failure costs 1.25 stages
    best = advisor._choose([lean, deep], REDO, left=2, follow=None)  # noqa: SLF001
    assert best is not None and best[1] == 1.5, best
    # one follow-up left: it is the last supported stage, aimed at the confidence, so a failure costs one stage
    # and the lean aim is cheaper (0.25 x 200 = 50 < 52 + 0.02 x 200)
    best = advisor._choose([lean, deep], REDO, left=1, follow=None)  # noqa: SLF001
    assert best is not None and best[1] == 0.0, best


def test_main_stage_looks_ahead_to_the_trim_after_it(advisor: Advisor):
    arrival = {"C": 0.08, "Mn": 0.10, "Si": 0.01, "Al": 0.002, "P": 0.012, "S": 0.011, "Cr": 0.04, "Ni": 0.03,
               "Cu": 0.08}
    state = HeatState("T1", "S355J2", 100.0, (Sample(0, 0.0, 1590.0, arrival),), oxygen_ppm=380.0)
    candidates = advisor._candidates(state, False, False)  # noqa: SLF001
    q = advisor._follow_up_chance(state, candidates)  # noqa: SLF001
    assert 0.0 < q <= 1.0
    # a follow-up that always finishes is the old rule; a less likely one never favours a leaner main stage
    sure = advisor._choose(candidates, REDO, advisor._stages_left(state), 1.0)  # noqa: SLF001
    unsure = advisor._choose(candidates, REDO, advisor._stages_left(state), q)  # noqa: SLF001
    assert sure is not None and unsure is not None and unsure[2].p_pass >= sure[2].p_pass
