"""The dosing program on a tiny plant whose optimum is known in closed form, plus its safety behaviour."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from optimizer.dosing import DosingOptions, optimize_heats, to_recommendation
from optimizer.schedule import HeatContext
from optimizer.surrogates import prior_surrogates
from optimizer.surrogates.prior import PriorOutcome
from tests.optimizer.dosing.tiny_plant import tiny_config


def heat(hid="H1", mn=0.2, c=0.05, temp=1560.0, w=100.0, **kw) -> HeatContext:
    return HeatContext(hid, "G1", w, {"C": c, "Mn": mn}, temp, 300.0, **kw)


@dataclass
class FixedWidth:
    """Prior surrogates with an explicit half-width table by number of samples."""

    base: PriorOutcome
    widths: dict[int, float]
    residual_model: None = None

    def linear_terms(self, ctx):
        return self.base.linear_terms(ctx)

    def halfwidth(self, n, confidence, grade=None):
        return self.widths[n]


def with_widths(cfg, mn_widths, t_widths=None):
    sur = prior_surrogates(cfg)
    zero = {n: 0.0 for n in range(0, 7)}
    sur.outcomes["final_Mn_wt_pct"] = FixedWidth(sur.outcomes["final_Mn_wt_pct"], mn_widths)
    sur.outcomes["final_C_wt_pct"] = FixedWidth(sur.outcomes["final_C_wt_pct"], zero)
    sur.outcomes["final_temperature_degC"] = FixedWidth(sur.outcomes["final_temperature_degC"], t_widths or zero)
    return sur


def test_least_cost_alloy_closed_form():
    """Mn from the cheapest carrier per kg of recovered Mn; exactly enough to reach min + margin."""
    cfg = tiny_config()
    widths = {1: 0.05, 2: 0.05, 3: 0.05, 4: 0.05}
    res = optimize_heats(cfg, [heat()], with_widths(cfg, widths), workers=1)
    r = res.heats[0]
    # FeMnB: 0.6 / (0.60*0.9) = 1.11 per kg Mn recovered; FeMnA: 1.0 / (0.80*0.9) = 1.39 -> B only.
    need_kg = (1.0 + 0.05 - 0.2) * 1000 * 100 / (60.0 * 0.9)
    assert r.additions_kg["FeMnA"] == pytest.approx(0.0, abs=1e-6)
    assert r.additions_kg["FeMnB"] == pytest.approx(need_kg, rel=1e-4)
    c_need = (0.10 - 0.05) * 1000 * 100 / (100.0 * 0.8)
    assert r.additions_kg["Coke"] == pytest.approx(c_need, rel=1e-3)
    # energy: raise 1560 -> 1580 degC at 0.25 kWh/t/degC and 50 % efficiency, 100 t
    assert r.arc_energy_kWh == pytest.approx(20 * 0.25 * 100 / 0.5, rel=1e-3)
    assert r.n_samples == 1  # widths do not depend on samples: the cheapest count wins
    expected = 0.6 * need_kg + 0.5 * c_need + 0.1 * r.arc_energy_kWh + 20.0
    assert r.cost == pytest.approx(expected, rel=1e-4)
    assert "final_Mn_wt_pct min 1" in r.binding


def test_price_change_switches_carrier():
    cfg = tiny_config(**{"materials.1.price_per_kg": 0.9})  # B now 1.67 per kg Mn > A 1.39
    r = optimize_heats(cfg, [heat()], with_widths(cfg, {n: 0.05 for n in range(1, 5)}), workers=1).heats[0]
    assert r.additions_kg["FeMnB"] == pytest.approx(0.0, abs=1e-6)
    assert r.additions_kg["FeMnA"] > 0


def test_spec_respected_with_margin():
    cfg = tiny_config()
    r = optimize_heats(cfg, [heat()], with_widths(cfg, {n: 0.08 for n in range(1, 5)}), workers=1).heats[0]
    p, lo, hi = r.predicted["final_Mn_wt_pct"]
    assert lo >= 1.0 - 1e-6 and hi <= 1.4 + 1e-6 and p == pytest.approx(1.08, abs=1e-4)


def test_costlier_sample_means_fewer_samples_and_wider_aim():
    """Each extra sample narrows the interval; a cheap sample buys narrow margins, a costly one does not."""
    widths = {1: 0.12, 2: 0.07, 3: 0.05, 4: 0.045}
    cheap = tiny_config(**{"sampling.chemistry_sample_cost": 1.0, "sampling.temperature_probe_cost": 0.0})
    dear = tiny_config(**{"sampling.chemistry_sample_cost": 400.0})
    rc = optimize_heats(cheap, [heat()], with_widths(cheap, widths), workers=1).heats[0]
    rd = optimize_heats(dear, [heat()], with_widths(dear, widths), workers=1).heats[0]
    assert rd.n_samples < rc.n_samples
    assert rd.predicted["final_Mn_wt_pct"][0] > rc.predicted["final_Mn_wt_pct"][0]  # aims higher: wider margin


def test_inventory_couples_heats():
    cfg = tiny_config(**{"materials.1.daily_inventory_kg": 2500.0})
    sur = with_widths(cfg, {n: 0.05 for n in range(1, 5)})
    res = optimize_heats(cfg, [heat("H1"), heat("H2")], sur, workers=1)
    assert res.joint
    used_b = sum(r.additions_kg["FeMnB"] for r in res.heats)
    assert used_b <= 2500.0 + 1e-6
    assert sum(r.additions_kg["FeMnA"] for r in res.heats) > 0  # the rest from the dearer carrier
    alone = optimize_heats(cfg, [heat("H1"), heat("H2")], sur, DosingOptions(inventory=False), workers=1)
    assert alone.total_cost < res.total_cost  # tightening a constraint never lowers cost


def test_infeasible_heat_diagnosed_and_gets_no_setpoints():
    cfg = tiny_config(**{"materials.0.max_kg_per_heat": 500.0, "materials.1.max_kg_per_heat": 500.0})
    sur = with_widths(cfg, {n: 0.05 for n in range(1, 5)})
    res = optimize_heats(cfg, [heat("H1"), heat("H2", mn=1.1)], sur, workers=1)
    bad, good = res.heats
    assert not bad.feasible and good.feasible
    assert "max_kg_per_heat" in bad.diagnosis or "Mn min" in bad.diagnosis
    rec = to_recommendation(cfg, [heat("H1"), heat("H2", mn=1.1)], res, {"x": "1"})
    assert rec.heats[0].additions_kg == {} and not rec.heats[0].feasible and rec.heats[0].diagnosis
    assert rec.heats[1].feasible and rec.heats[1].additions_kg


def test_progress_is_told_of_every_heat_answered_per_stage():
    cfg = tiny_config(**{"materials.0.max_kg_per_heat": 500.0, "materials.1.max_kg_per_heat": 500.0})
    sur = with_widths(cfg, {n: 0.05 for n in range(1, 5)})
    calls: list[tuple[str, int, int]] = []
    heats = [heat("H1"), heat("H2", mn=1.1), heat("H3", mn=0.3)]
    res = optimize_heats(cfg, heats, sur, workers=1, progress=lambda *c: calls.append(c))
    first = [c for c in calls if c[0] == "solve each heat"]
    assert first == [("solve each heat", k, 3) for k in (1, 2, 3)]  # one call per heat as its answer arrives
    bad = sum(not h.feasible for h in res.heats)
    assert bad and ("diagnose heats without a plan", bad, bad) in calls  # the heats without a plan (H1 here)
    assert calls[:3] == first  # the first pass comes first; the later stages follow it
    assert optimize_heats(cfg, heats, sur, workers=1).heats[0].additions_kg == res.heats[0].additions_kg


def test_impossible_spec_names_the_limit():
    cfg = tiny_config()
    sur = with_widths(cfg, {n: 0.05 for n in range(1, 5)})
    res = optimize_heats(cfg, [heat("H1", mn=1.6)], sur, workers=1)  # already above Mn max 1.4
    assert not res.heats[0].feasible
    assert "Mn max 1.4 wt%" in res.heats[0].diagnosis and "relax by" in res.heats[0].diagnosis


def test_setpoint_change_limit():
    cfg = tiny_config(**{"safety.max_setpoint_change_kg": 100.0})
    sur = with_widths(cfg, {n: 0.05 for n in range(1, 5)})
    prev = {"FeMnB": 1500.0}
    r = optimize_heats(cfg, [heat(previous_additions_kg=prev)], sur, workers=1).heats[0]
    assert abs(r.additions_kg["FeMnB"] - 1500.0) <= 100.0 + 1e-6


def test_feeder_steps_respected():
    cfg = tiny_config(**{"materials.1.feeder_step_kg": 25.0})
    r = optimize_heats(cfg, [heat()], with_widths(cfg, {n: 0.05 for n in range(1, 5)}), workers=1).heats[0]
    assert r.additions_kg["FeMnB"] % 25.0 == pytest.approx(0.0, abs=1e-6)
    assert r.predicted["final_Mn_wt_pct"][1] >= 1.0 - 1e-9


def test_parallel_equals_serial():
    cfg = tiny_config()
    sur = with_widths(cfg, {1: 0.12, 2: 0.07, 3: 0.05, 4: 0.045})
    heats = [heat(f"H{i}", mn=0.1 + 0.05 * i, temp=1550 + i) for i in range(10)]
    a = optimize_heats(cfg, heats, sur, workers=1)
    b = optimize_heats(cfg, heats, sur, workers=2)
    assert [r.additions_kg for r in a.heats] == [r.additions_kg for r in b.heats]
    assert math.isclose(a.total_cost, b.total_cost, rel_tol=1e-9)


def test_co2_price_shifts_to_low_co2_carrier():
    cfg = tiny_config()
    sur = with_widths(cfg, {n: 0.05 for n in range(1, 5)})
    cheap = optimize_heats(cfg, [heat()], sur, DosingOptions(co2_price_per_t=0.0), workers=1).heats[0]
    green = optimize_heats(cfg, [heat()], sur, DosingOptions(co2_price_per_t=500.0), workers=1).heats[0]
    assert cheap.additions_kg["FeMnB"] > 0 and green.additions_kg["FeMnA"] > 0
    assert green.co2_kg < cheap.co2_kg


def test_inventory_exhausted_serves_earliest_heats():
    import pandas as pd

    cfg = tiny_config(**{"materials.2.daily_inventory_kg": 150.0})  # coke for about two heats
    sur = with_widths(cfg, {n: 0.05 for n in range(1, 5)})
    t0 = pd.Timestamp("2026-11-25T00:00Z")
    heats = [heat(f"H{i}", planned_time=t0 + pd.Timedelta(hours=3 - i)) for i in range(3)]  # H2 earliest
    res = {r.heat_id: r for r in optimize_heats(cfg, heats, sur, workers=1).heats}
    assert sorted(h for h, r in res.items() if r.feasible) == ["H1", "H2"]
    assert sum(r.additions_kg["Coke"] for r in res.values() if r.feasible) <= 150.0 + 1e-6
    assert "inventory runs out" in res["H0"].diagnosis and "Coke is short by 38 kg" in res["H0"].diagnosis
    # 3 heats x 62.5 kg coke (C 0.05 -> 0.10 wt% in 100 t at 80 % recovery) = 187.5 kg against 150 kg in stock:
    # only the stock gives way in this diagnosis, not tiny spec relaxations spread over the served heats


@dataclass
class NeverUsed:
    """An applicability domain in which the grade's heats never got FeMnA (so the program may not use it)."""

    def bounds(self, grade, feature):
        return (None, 0.0) if feature == "add_FeMnA_kg" else (None, None)

    def check_context(self, features, names):
        return []


def test_diagnosis_keeps_materials_outside_the_data_out():
    """FeMnB capped at 500 kg and FeMnA never used for the grade: the heat cannot reach Mn min. The elastic
    diagnosis must not lift FeMnA's zero limit (then it would find no relaxation at all); it names what gives."""
    cfg = tiny_config(**{"materials.1.max_kg_per_heat": 500.0})
    sur = with_widths(cfg, {n: 0.05 for n in range(1, 5)})
    sur.domain = NeverUsed()
    res = optimize_heats(cfg, [heat("H1")], sur, workers=1)
    r = res.heats[0]
    assert not r.feasible
    assert "infeasible only jointly" not in r.diagnosis
    assert "Mn min" in r.diagnosis or "FeMn" in r.diagnosis


@dataclass
class NormalWidth(FixedWidth):
    """Half-width z(confidence) * sd: the band narrows as the confidence asked for falls."""

    sd: float = 0.0

    def halfwidth(self, n, confidence, grade=None):
        from scipy.stats import norm

        return float(norm.ppf(0.5 + confidence / 2)) * self.sd


def test_window_narrower_than_band_planned_at_best_confidence_above_floor():
    """Mn window 1.0-1.4 wt%, band +-1.96 * 0.105 = +-0.206 at 95 %: no plan at 95 %. With a floor of 90 % the
    heat is planned at the highest confidence that fits, where the band is exactly +-0.2 (z = 1.905, 94.3 %)."""
    from optimizer.errors import ConfigError

    cfg = tiny_config()
    sur = with_widths(cfg, {n: 0.0 for n in range(0, 7)})
    sur.outcomes["final_Mn_wt_pct"] = NormalWidth(sur.outcomes["final_Mn_wt_pct"].base, {}, sd=0.105)
    assert not optimize_heats(cfg, [heat()], sur, workers=1).heats[0].feasible
    floor = tiny_config(**{"grades.0.min_confidence": 0.90})
    res = optimize_heats(floor, [heat()], sur, workers=1)
    r = res.heats[0]
    best = 2 * 0.9716 - 1  # Phi(0.2 / 0.105) = Phi(1.905) = 0.9716
    assert r.feasible and best - 0.05 / 64 - 1e-3 <= r.confidence <= best + 1e-3
    p, lo, hi = r.predicted["final_Mn_wt_pct"]  # at the setpoints sent: FeMnB to 0.1 kg moves Mn by < 3e-5 wt%
    assert lo >= 1.0 - 3e-5 and hi <= 1.4 + 3e-5 and hi - lo == pytest.approx(2 * sur.outcomes[
        "final_Mn_wt_pct"].halfwidth(r.n_samples, r.confidence), rel=1e-6)
    rec = to_recommendation(floor, [heat()], res, {})
    assert rec.heats[0].confidence == pytest.approx(r.confidence)
    assert "planned at 94." in rec.heats[0].diagnosis and "min_confidence 90%" in rec.heats[0].diagnosis
    # the band fills the window exactly: no 0.1 kg grid point holds both limits, and the plan says so
    assert "rounded to the feeders, the setpoints break Mn m" in rec.heats[0].diagnosis
    high_floor = tiny_config(**{"grades.0.min_confidence": 0.945})  # above what the window allows
    refused = optimize_heats(high_floor, [heat()], sur, workers=1).heats[0]
    assert not refused.feasible and "min_confidence 94.5% either" in refused.diagnosis
    with pytest.raises(ConfigError, match="min_confidence"):
        tiny_config(**{"grades.0.min_confidence": 0.97})
