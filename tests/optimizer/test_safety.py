"""Safety check: each hard limit refuses the setpoint that breaks it, and only that one."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from optimizer.recommendation import HeatRecommendation, Recommendation
from optimizer.safety import check_recommendation


def rec(cfg, **heat_kw) -> Recommendation:
    base = {"heat_id": "H1", "grade": "S355J2", "steel_weight_t": 100.0,
            "additions_kg": {"SiMn": 2000.0, "Lime": 500.0}, "arc_energy_kWh": 4000.0, "n_samples": 2}
    base.update(heat_kw)
    return Recommendation.new(cfg.plant.name, [HeatRecommendation(**base)], 12.0)


def test_safe_recommendation_passes(cfg):
    assert check_recommendation(rec(cfg), cfg) == []


@pytest.mark.parametrize(
    ("kw", "field", "words"),
    [
        ({"additions_kg": {"SiMn": 3500.0, "Lime": 500.0}}, "additions_kg.SiMn", "min/max"),
        ({"additions_kg": {"SiMn": math.nan, "Lime": 500.0}}, "additions_kg.SiMn", "finite"),
        ({"additions_kg": {"SiMn": 100.0, "Lime": 100.0}}, "additions_kg.Lime", "min/max"),
        ({"additions_kg": {"Unobtainium": 1.0, "Lime": 500.0}}, "additions_kg.Unobtainium", "unknown material"),
        ({"arc_energy_kWh": 12000.0}, "arc_energy_kWh", "hard limit"),
        ({"arc_energy_kWh": -5.0}, "arc_energy_kWh", "hard limit"),
        ({"n_samples": 9}, "n_samples", "allowed range"),
        ({"feasible": False}, "feasible", "must not carry setpoints"),
    ],
)
def test_each_limit(cfg, kw, field, words):
    v = check_recommendation(rec(cfg, **kw), cfg)
    assert [x.field for x in v] == [field]
    assert words in v[0].reason


def test_expired_and_rejected(cfg):
    r = rec(cfg)
    later = datetime.now(UTC) + timedelta(hours=13)
    assert [v.field for v in check_recommendation(r, cfg, now=later)] == ["valid_until"]
    rejected = r.model_copy(update={"status": "rejected"})
    assert "status" in [v.field for v in check_recommendation(rejected, cfg)]


def test_max_change_from_previous(cfg):
    prev = rec(cfg, additions_kg={"SiMn": 100.0, "Lime": 500.0})
    v = check_recommendation(rec(cfg), cfg, previous=prev)
    assert [x.field for x in v] == ["additions_kg.SiMn"] and "max_setpoint_change_kg" in v[0].reason
    assert check_recommendation(rec(cfg), cfg, previous=rec(cfg, additions_kg={"SiMn": 1000.0, "Lime": 500.0})) == []
    assert check_recommendation(rec(cfg), cfg, previous=rec(cfg, additions_kg={"SiMn": 499.0, "Lime": 500.0}))
