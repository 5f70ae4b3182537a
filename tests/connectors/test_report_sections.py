"""The report's sections: what to do, what it saves (one savings definition), what is risky, model health."""

from __future__ import annotations

import html

import pandas as pd
import pytest

from connectors.report.health import assess
from connectors.report.html import NightReport, _lowered_text, _pareto, render, savings_of
from connectors.report.strips import landings, strip_svg
from optimizer.dosing.pareto import ParetoPoint
from optimizer.recommendation import HeatRecommendation, Interval, Recommendation
from optimizer.savings import day_savings, practice_costs, practice_from_frame
from optimizer.simulator import draw_heats
from optimizer.simulator.heats import EVALUATION_STREAM


def sample_report(cfg) -> NightReport:  # noqa: ANN001
    """Three heats on the example plant: one fine, one planned below its grade's confidence with an interval
    leaving the window and an extrapolation flag, one without a plan; a two-point Pareto front."""
    g = cfg.grade("S355J2")
    mn = g.chemistry_wt_pct["Mn"]
    fine = HeatRecommendation(
        heat_id="H1", grade="S355J2", steel_weight_t=100.0, additions_kg={"SiMn": 1900.0, "Lime": 400.0},
        arc_energy_kWh=4000.0, n_samples=2, confidence=0.95,
        predicted_wt_pct={"Mn": Interval(predicted=mn.target, low=mn.target - 0.02, high=mn.target + 0.02)},
        predicted_temperature_degC=Interval(predicted=g.temperature_degC.target,
                                            low=g.temperature_degC.target - 8, high=g.temperature_degC.target + 8))
    risky = HeatRecommendation(
        heat_id="H<2>", grade="S355J2", steel_weight_t=100.0, additions_kg={"SiMn": 2300.0}, arc_energy_kWh=4200.0,
        n_samples=3, confidence=0.93, diagnosis="planned at 93.0% confidence per limit: grade S355J2 asks 95%",
        predicted_wt_pct={"Mn": Interval(predicted=mn.max - 0.01, low=mn.max - 0.05, high=mn.max + 0.03)})
    refused = HeatRecommendation(heat_id="H3", grade="C45", steel_weight_t=100.0, feasible=False,
                                 diagnosis="C max 0.5 wt% cannot be met <&> with the required confidence")
    rec = Recommendation.new("LF-1", [fine, risky, refused], 12.0)
    base = pd.DataFrame([
        {"heat_id": "H1", "energy_kWh": 4500.0, "samples": 3, "add_SiMn_kg": 2100.0, "add_Lime_kg": 400.0},
        {"heat_id": "H<2>", "energy_kWh": 4600.0, "samples": 3, "add_SiMn_kg": 2400.0, "add_Lime_kg": 0.0},
        {"heat_id": "H3", "energy_kWh": 4100.0, "samples": 3, "add_SiMn_kg": 0.0, "add_Lime_kg": 500.0}])
    pareto = [ParetoPoint(0.0, 11_000.0, 30_000.0, 1), ParetoPoint(200.0, 11_900.0, 26_000.0, 1)]
    metrics = {"final_Mn_wt_pct": {"mae": 0.02, "coverage_90": 0.91},
               "final_temperature_degC": {"mae": 8.727, "coverage_90": 0.51, "closed_loop_coverage_90": 0.90}}
    return NightReport("Night report", rec, base, pareto, metrics=metrics, currency="USD", cfg=cfg,
                       baseline_mae={"final_Mn_wt_pct": 0.03, "final_temperature_degC": 7.41},
                       chosen={"final_temperature_degC": "energy_balance"},
                       binding={"H1": ["final_Mn_wt_pct min 1.3"], "H<2>": []},
                       extrapolation={"H<2>": ["initial_S_wt_pct = 0.05 outside the training range"]})


def test_day_savings_count_planned_heats_only(cfg):
    r = sample_report(cfg)
    s = day_savings(cfg, r.recommendation, practice_from_frame(cfg, r.baseline))
    simn = cfg.material("SiMn").price_per_kg
    assert s.heats == 2
    assert s.saved("material_money") == pytest.approx(simn * (2100 + 2400 - 1900 - 2300))  # Lime equal, H3 out
    assert s.saved("energy_money") == pytest.approx(cfg.energy.price_per_kWh * (4500 + 4600 - 4000 - 4200))
    assert s.saved("sampling_money") == pytest.approx(cfg.sampling.cost_per_sample * 1)
    with pytest.raises(ValueError, match="no today's-practice cost for planned heats"):
        day_savings(cfg, r.recommendation, {})


def test_practice_costs_match_the_level2_plan(cfg):
    heats = [h.context for h in draw_heats(cfg, 3, 1, EVALUATION_STREAM)]
    costs = practice_costs(cfg, heats)
    assert set(costs) == {h.heat_id for h in heats} and all(c.money > 0 and c.co2_t > 0 for c in costs.values())


def test_report_answers_in_order_what_to_do_saves_and_risk(cfg):
    r = sample_report(cfg)
    page = render(r)
    heads = ("What to do today", "What it saves against today's practice", "What is risky",
             "Stock use against inventory", "Model health")
    order = [page.index(f"<h2>{html.escape(s, quote=False)}</h2>") for s in heads]
    assert order == sorted(order)
    rid = r.recommendation.recommendation_id
    assert f"dosing approve {rid}" in page and "Approve" in page and "OPC UA" in page
    assert "C max 0.5 wt% cannot be met &lt;&amp;&gt;" in page  # heat without a plan, and why, escaped
    assert "Check before approving: H&lt;2&gt;" in page
    s = savings_of(r)
    assert f"{s.saved('money'):,.0f} USD" in page and "internal CO2 charge at" in page and "(not paid)" in page
    assert "outside the training data: initial_S_wt_pct" in page and "binding: final_Mn_wt_pct min 1.3" in page


def test_lowered_heats_are_listed_for_approval(cfg):
    r = sample_report(cfg)
    text = _lowered_text(r.recommendation)
    assert "H&lt;2&gt;" in text and "93.0%" in text and "1 heat(s)" in text and "H1" not in text
    fine = Recommendation.new("LF1", [r.recommendation.heats[0]], 12.0)
    assert _lowered_text(fine) == ""


def test_strip_marks_an_interval_leaving_the_window_red(cfg):
    r = sample_report(cfg)
    fine, risky = r.recommendation.heats[:2]
    g = cfg.grade("S355J2")
    assert all(x.inside for x in landings(fine, g)) and "#c00" not in strip_svg(landings(fine, g))
    rows = landings(risky, g)
    assert not rows[0].inside and "#c00" in strip_svg(rows)
    assert "Mn, wt%" in strip_svg(rows)


def test_flat_pareto_front_says_the_co2_price_changes_nothing(cfg):
    r = sample_report(cfg)
    r.pareto = [ParetoPoint(p, 184_690.0 + i, 120_000.0 + 10 * i, 0) for i, p in enumerate((0, 50, 200, 800))]
    page = _pareto(r)
    assert "The CO2 price does not change today's plan" in page and "<img" not in page
    r.pareto = sample_report(cfg).pareto
    page = _pareto(r)
    assert "does not change" not in page and "<img" in page


def test_model_health_reads_the_closed_loop_figure_and_calls_out_a_worse_model():
    t = assess("final_temperature_degC", {"mae": 8.727, "coverage_90": 0.51, "closed_loop_coverage_90": 0.90},
               7.41, "energy_balance")
    assert t.level == "ok" and t.figure == "closed_loop_coverage_90"
    assert "closed-loop 90 % coverage 0.90" in t.text and "open-loop coverage 0.51 is not the figure" in t.text
    assert "MAE 8.727 vs 7.41, +18 %" in t.text and "causal validity" in t.text
    bad = assess("final_Cr_wt_pct", {"mae": 0.01, "coverage_90": 0.80}, 0.02)
    assert bad.level == "bad" and "MISCALIBRATED" in bad.text
    worse = assess("final_Mn_wt_pct", {"mae": 0.03, "coverage_90": 0.90}, 0.02, "context_recovery")
    assert worse.level == "warn" and "higher error than today's fixed-yield" in worse.text
