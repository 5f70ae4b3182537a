"""Policies: protocol, today's practice, recommendations-file policy, registry, perfect-knowledge yardstick."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimizer.errors import DataFileError, UnknownGradeError
from optimizer.recommendation import HeatRecommendation, Interval, Recommendation
from optimizer.simulator import (
    EVALUATION_STREAM,
    HeatPlan,
    Level2Policy,
    Policy,
    baseline_plan,
    draw_heats,
    evaluate,
    make_policy,
    policy_names,
    register_policy,
)

N, SEED = 40, 13


@pytest.fixture(scope="module")
def heats(cfg):
    return draw_heats(cfg, N, SEED, EVALUATION_STREAM)


def _write_recs(cfg, heats, path: Path, drop: int | None = None, infeasible: int | None = None) -> Path:
    """A recommendations file carrying today's practice for ``heats`` (as `dosing optimize` would write it)."""
    rows = []
    for k, h in enumerate(heats):
        if k == drop:
            continue
        p = baseline_plan(cfg, h.context)
        iv = {el: Interval(predicted=v, low=v, high=v) for el, v in p.aim_wt_pct.items()}
        t = Interval(predicted=p.aim_temperature_degC, low=0, high=0)
        rows.append(HeatRecommendation(heat_id=h.context.heat_id, grade=h.context.grade,
                                       steel_weight_t=h.context.steel_weight_t, feasible=k != infeasible,
                                       additions_kg=p.additions_kg, arc_energy_kWh=p.arc_energy_kWh,
                                       n_samples=p.n_samples, predicted_wt_pct=iv, predicted_temperature_degC=t))
    return Recommendation.new(cfg.plant.name, rows, 24.0).to_json(path)


def test_every_named_policy_plans_single_and_batch(cfg, heats):
    ctxs = [h.context for h in heats[:5]]
    for name in ("baseline", "better", "worse"):
        pol = make_policy(name, cfg)
        assert isinstance(pol, Policy) and pol.name == name
        batch = pol.decide_many(ctxs)
        assert batch == [pol.decide(c) for c in ctxs]
        assert all(isinstance(p, HeatPlan) and p.arc_energy_kWh > 0 for p in batch)


def test_baseline_plan_is_todays_practice(cfg, heats):
    for h in heats:
        plan = baseline_plan(cfg, h.context)
        assert plan == Level2Policy(cfg).decide(h.context)
        assert plan.n_samples == cfg.sampling.baseline_samples_per_heat
        grade = cfg.grade(h.context.grade)
        assert plan.aim_temperature_degC > grade.temperature_degC.target  # fixed overshoot
        assert plan.additions_kg["Lime"] == cfg.material("Lime").min_kg_per_heat  # lime fixed per heat
        w_kg = h.context.steel_weight_t * 1000
        for el, aim in plan.aim_wt_pct.items():  # fixed-yield mass balance reaches every aim, inside the window
            win = grade.chemistry_wt_pct[el]
            assert win.min < aim < win.max
            pred = h.context.initial_wt_pct[el] + sum(
                kg * cfg.material(m).composition_wt_pct.get(el, 0) * cfg.material(m).prior_recovery.get(el, 0)
                / w_kg for m, kg in plan.additions_kg.items())
            assert pred >= aim - 1e-9, (h.context.heat_id, el, pred, aim)


def test_baseline_classic_carriers(cfg, heats):
    s355 = [h for h in heats if h.context.grade == "S355J2"]
    assert s355
    for h in s355:
        adds = baseline_plan(cfg, h.context).additions_kg
        assert max(adds, key=adds.get) == "SiMn"  # SiMn first for Mn + Si
        assert adds["MC_FeMn"] == adds["LC_FeMn"] == 0.0


def test_unknown_grade_is_named(cfg, heats):
    from dataclasses import replace

    ctx = replace(heats[0].context, grade="X70")
    with pytest.raises(UnknownGradeError, match="unknown grade 'X70'.*S235JR"):
        baseline_plan(cfg, ctx)
    with pytest.raises(UnknownGradeError, match="unknown grade 'X70'"):
        draw_heats(cfg, 5, 1, grades=["X70"])


def test_file_policy_reproduces_the_plans_it_carries(cfg, heats, tmp_path):
    path = _write_recs(cfg, heats, tmp_path / "recs.json")
    from_file = evaluate(cfg, make_policy(str(path), cfg), N, SEED)
    base = evaluate(cfg, make_policy("baseline", cfg), N, SEED)
    for k in base.per_heat:
        np.testing.assert_allclose(from_file.per_heat[k], base.per_heat[k], rtol=1e-9)
    assert (from_file.off_spec == base.off_spec).all() and from_file.fallbacks == []


def test_file_policy_refuses_other_heats(cfg, heats, tmp_path):
    path = _write_recs(cfg, heats, tmp_path / "recs.json")
    with pytest.raises(ValueError, match="made for other heats"):
        evaluate(cfg, make_policy(str(path), cfg), N, SEED + 1)


def test_file_policy_missing_and_infeasible_heats(cfg, heats, tmp_path):
    path = _write_recs(cfg, heats, tmp_path / "recs.json", drop=3, infeasible=7)
    ids = [heats[3].context.heat_id, heats[7].context.heat_id]
    with pytest.raises(LookupError, match=rf"no feasible setpoints for heats \['{ids[0]}', '{ids[1]}'\]"):
        evaluate(cfg, make_policy(str(path), cfg), N, SEED)
    res = evaluate(cfg, make_policy(str(path), cfg, fallback="baseline"), N, SEED)
    assert res.fallbacks == ids and res.to_dict()["fallback_heats"] == ids


def test_file_policy_bad_files(cfg, tmp_path):
    ctx = draw_heats(cfg, 1, 0, EVALUATION_STREAM)[0].context
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataFileError, match="not a recommendations JSON"):
        make_policy(str(bad), cfg).decide(ctx)
    rec = HeatRecommendation(heat_id=ctx.heat_id, grade=ctx.grade, steel_weight_t=ctx.steel_weight_t,
                             additions_kg={"Unobtainium": 10.0}, arc_energy_kWh=1000, n_samples=2)
    other = Recommendation.new("x", [rec], 24.0).to_json(tmp_path / "other.json")
    with pytest.raises(DataFileError, match=r"materials \['Unobtainium'\] are not in the plant config"):
        make_policy(str(other), cfg).decide(ctx)
    with pytest.raises(FileNotFoundError, match="recommendations file .*missing.json not found"):
        make_policy(str(tmp_path / "missing.json"), cfg)
    with pytest.raises(ValueError, match="unknown fallback policy 'nobody'"):
        make_policy(str(other), cfg, fallback="nobody")


def test_registry(cfg):
    register_policy("careful", lambda c, **_: Level2Policy(c, name="careful", margin=0.3))
    assert "careful" in policy_names() and make_policy("careful", cfg).name == "careful"
    with pytest.raises(ValueError, match="unknown policy 'nonsense'; use one of"):
        make_policy("nonsense", cfg)
    with pytest.raises(ValueError, match="must be non-empty"):
        register_policy("x.json", lambda c, **_: Level2Policy(c))
