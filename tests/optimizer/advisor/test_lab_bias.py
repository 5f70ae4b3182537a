"""The lab's systematic error (``sampling.lab_bias_sd_rel``): a bias the history cannot show, added to the
advisor's margins at each limit from the plant's own figure for its lab."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from optimizer.advisor import Advisor
from optimizer.config import PlantConfig
from optimizer.stages.state import HeatState, Sample, StageRecord

S355 = {"C": 0.17, "Mn": 1.45, "Si": 0.35, "Al": 0.035, "P": 0.015, "S": 0.01, "Cr": 0.04, "Ni": 0.03, "Cu": 0.08}
ARRIVAL = {**S355, "C": 0.08, "Mn": 0.10, "Si": 0.01, "Al": 0.002}


def _with_lab_bias(advisor: Advisor, rel: dict[str, float]) -> Advisor:
    s = advisor.cfg.sampling.model_copy(update={"lab_bias_sd_rel": rel})
    return Advisor(advisor.cfg.model_copy(update={"sampling": s}), advisor.models, advisor.support)


def _after_main(mn: float) -> HeatState:
    samples = (Sample(0, 0.0, 1590.0, ARRIVAL), Sample(1, 18.0, 1592.0, {**S355, "Mn": mn}))
    return HeatState("B1", "S355J2", 100.0, samples, (StageRecord({"SiMn": 2000.0, "Al_wire": 40.0}, 2500.0),),
                     oxygen_ppm=380.0)


def test_a_sample_near_a_limit_finishes_only_without_the_lab_bias(advisor: Advisor):
    state = _after_main(1.34)  # Mn window 1.30-1.60; the stage predicted about as much, the estimate ~1.344
    assert advisor.on_sample(state).finish
    biased = _with_lab_bias(advisor, {"Mn": 0.03})  # 3 % of 1.30 = 0.039 wt% at the minimum
    ok, why = biased._accepts(advisor.cfg.grade("S355J2"), state)
    # sd at 1.30 with the bias: sqrt(sd^2 + 0.039^2) ~ 0.041 wt%, so the estimate ~1.1 sd inside: chance ~0.86
    assert not ok and why.startswith("Mn_wt_pct inside its window with chance 0.8"), why
    d = biased.on_sample(state)
    assert not d.finish
    assert sum(d.additions_kg.get(m, 0.0) for m in ("SiMn", "HC_FeMn")) > 0  # a Mn trim aimed further in
    # an element without a figure keeps its margins: the same heat finishes with a bias given for Cu only
    assert _with_lab_bias(advisor, {"Cu": 0.03}).on_sample(state).finish


def test_the_lab_bias_names_known_elements_only(cfg: PlantConfig):
    raw = cfg.model_dump()
    raw["sampling"]["lab_bias_sd_rel"] = {"Xx": 0.02}
    with pytest.raises(ValidationError, match=r"sampling.lab_bias_sd_rel: elements \['Xx'\]"):
        PlantConfig.model_validate(raw)
    raw["sampling"]["lab_bias_sd_rel"] = {"Mn": 0.5}
    with pytest.raises(ValidationError, match="lab_bias_sd_rel"):
        PlantConfig.model_validate(raw)
