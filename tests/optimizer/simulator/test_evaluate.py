"""Closed-loop evaluation: today's practice is plausible, the harness ranks policies, paired comparison."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.simulator import EVALUATION_STREAM, compare, draw_heats, evaluate, make_policy
from optimizer.simulator._oracle import PerfectKnowledgePolicy
from optimizer.simulator.history import run_heats


@pytest.fixture(scope="module")
def runs(cfg):
    return {p: evaluate(cfg, make_policy(p, cfg), 300, seed=6) for p in ("better", "baseline", "worse")}


def test_baseline_plausible_against_domain(cfg, runs):
    s = runs["baseline"].summary()
    assert 8 <= s["ferroalloy_kg_per_t"].value <= 20
    assert 30 <= s["energy_kWh_per_t"].value <= 50
    assert 0.03 <= s["off_spec_rate"].value <= 0.10
    assert s["samples_per_heat"].value == pytest.approx(3.0)
    assert 35 <= s["treatment_min_per_heat"].value <= 60


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_baseline_over_alloys_10_to_20_pct_against_perfect_knowledge(cfg):
    heats = draw_heats(cfg, 300, 8, EVALUATION_STREAM)
    oracle = evaluate(cfg, PerfectKnowledgePolicy.for_heats(cfg, heats), 300, 8)
    base = evaluate(cfg, make_policy("baseline", cfg), 300, 8)
    assert oracle.off_spec.sum() == 0  # it knows everything: lands on the aims
    over = base.summary()["ferroalloy_kg_per_t"].value / oracle.summary()["ferroalloy_kg_per_t"].value - 1
    assert 0.10 <= over <= 0.20


def test_harness_ranks_better_baseline_worse(runs):
    res = {p: r.summary() for p, r in runs.items()}
    off = {p: s["off_spec_rate"] for p, s in res.items()}  # Wilson intervals do not overlap
    assert off["better"].high < off["baseline"].low and off["baseline"].high < off["worse"].low
    for key in ("material_cost_per_t", "co2_kg_per_t", "ferroalloy_kg_per_t"):  # paired on the same heats
        assert compare(runs["better"], runs["baseline"])[f"diff_{key}"].high < 0, key
        assert compare(runs["worse"], runs["baseline"])[f"diff_{key}"].low > 0, key
    assert compare(runs["better"], runs["baseline"])["pct_material_cost"] < -5
    assert compare(runs["worse"], runs["baseline"])["diff_off_spec_rate"].low > 0


def test_compare_same_heats_only(cfg, runs):
    same = compare(runs["baseline"], runs["baseline"])
    assert same["diff_material_cost_per_t"].value == 0 and same["pct_productivity"] == 0
    other_heats = evaluate(cfg, make_policy("baseline", cfg), 300, seed=7)
    with pytest.raises(ValueError, match="same heats"):
        compare(runs["baseline"], other_heats)


def test_intervals_cover_and_shrink(cfg):
    small = evaluate(cfg, make_policy("baseline", cfg), 50, seed=9).summary()
    large = evaluate(cfg, make_policy("baseline", cfg), 400, seed=9).summary()
    for k in ("material_cost_per_t", "energy_kWh_per_t", "off_spec_rate"):
        assert small[k].low <= small[k].value <= small[k].high
        assert large[k].high - large[k].low < small[k].high - small[k].low


def test_fewer_samples_wider_final_spread(cfg):
    heats = draw_heats(cfg, 300, 21, EVALUATION_STREAM)
    base = make_policy("baseline", cfg)
    spread = {}
    for n in (1, 4):
        recs = run_heats(cfg, heats, type(base)(cfg, n_samples=n), 21, EVALUATION_STREAM)
        dev = [r.final_true_temperature_degC - cfg.grade(h.context.grade).temperature_degC.target
               for h, r in zip(heats, recs, strict=True)]
        spread[n] = float(np.std(dev))
    assert spread[4] < 0.8 * spread[1]


def test_evaluate_tells_progress_of_planning_and_every_heat(cfg):
    calls: list[tuple[str, int, int]] = []
    quiet = evaluate(cfg, make_policy("baseline", cfg), 4, 3)
    told = evaluate(cfg, make_policy("baseline", cfg), 4, 3, progress=lambda *c: calls.append(c))
    assert calls == [("plan heats", 0, 4)] + [("run heats", k, 4) for k in (1, 2, 3, 4)]
    assert np.array_equal(told.per_heat["material_cost_per_t"], quiet.per_heat["material_cost_per_t"])
    assert len(told.records) == 4 and told.records[0].additions_kg
