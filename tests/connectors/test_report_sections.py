"""Report sections that only appear when there is something for the engineers to check."""

from __future__ import annotations

from connectors.report.html import _lowered
from optimizer.recommendation import HeatRecommendation, Recommendation


def test_heats_planned_below_grade_confidence_are_listed_for_approval():
    low = HeatRecommendation(heat_id="H<1>", grade="S45C", steel_weight_t=100.0, additions_kg={"Carburizer": 30.0},
                             confidence=0.943, diagnosis="planned at 94.3% confidence per limit: grade S45C asks 95%")
    normal = HeatRecommendation(heat_id="H2", grade="S355J2", steel_weight_t=100.0, confidence=0.95)
    refused = HeatRecommendation(heat_id="H3", grade="C45", steel_weight_t=100.0, feasible=False, diagnosis="C min")
    page = _lowered(Recommendation.new("LF1", [low, normal, refused], 12.0))
    assert "H&lt;1&gt;" in page and "94.3%" in page and "1 heat(s)" in page
    assert "H2" not in page and "H3" not in page
    assert _lowered(Recommendation.new("LF1", [normal, refused], 12.0)) == ""
