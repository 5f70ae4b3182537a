"""The setpoints sent are feeder grid points, re-predicted and re-checked against every limit (rounding.py)."""

from __future__ import annotations

import pytest

from optimizer.dosing import optimize_heats, to_recommendation
from optimizer.dosing.results import ROUNDING_FAILED
from optimizer.dosing.rounding import feeder_candidates
from tests.optimizer.dosing.test_dosing_model import heat, with_widths
from tests.optimizer.dosing.tiny_plant import tiny_config

WIDTHS = {n: 0.05 for n in range(1, 5)}


def _mn_low(cfg, sur, adds: dict[str, float]) -> float:  # noqa: ANN001
    """The program's Mn prediction minus its half-width at ``adds`` (the tiny plant's prior is linear)."""
    const, coefs = sur.outcomes["final_Mn_wt_pct"].linear_terms(heat().features())
    return const + sum(c * adds.get(d[4:-3], 0.0) for d, c in coefs.items() if d.startswith("add_")) - 0.05


def test_rounding_that_breaks_a_limit_is_repaired_and_said():
    """FeMnB capped at 1574.05 kg, just short of the 1574.07 kg that Mn min + margin needs: the solution is
    FeMnB 1574.05 + FeMnA 0.019 kg. On the 0.1 kg grid FeMnB 1574.1 breaks the cap and FeMnB 1574.0 with
    FeMnA 0 breaks Mn min; the cheapest grid point that holds both is FeMnB 1574.0 + FeMnA 0.1 kg."""
    cfg = tiny_config(**{"materials.1.max_kg_per_heat": 1574.05})
    sur = with_widths(cfg, WIDTHS)
    assert _mn_low(cfg, sur, {"FeMnB": 1574.0}) < 1.0 - 1e-5  # what plain rounding would have sent
    res = optimize_heats(cfg, [heat()], sur, workers=1)
    r = res.heats[0]
    assert r.feasible
    assert r.additions_kg["FeMnB"] == 1574.0 and r.additions_kg["FeMnA"] == pytest.approx(0.1)
    p, lo, _ = r.predicted["final_Mn_wt_pct"]
    assert lo >= 1.0 and lo == pytest.approx(_mn_low(cfg, sur, r.additions_kg), abs=1e-12)
    assert r.rounding.violation == "" and "FeMnA 0 -> 0.1 kg" in r.rounding.repaired
    assert "the nearest grid point broke Mn min 1 wt%" in r.rounding.repaired
    assert r.cost == pytest.approx(0.6 * 1574.0 + 1.0 * 0.1 + 0.5 * 62.5 + 0.1 * 1000.0 + 20.0, rel=1e-9)
    assert "feeder rounding repaired" in r.rounding.note
    rec = to_recommendation(cfg, [heat()], res, {}).heats[0]  # a repaired plan passes every check: no diagnosis
    assert rec.diagnosis == "" and rec.additions_kg == r.additions_kg


def test_plan_with_no_grid_point_inside_the_hard_limits_gets_no_setpoints():
    """Coke between 62.52 and 62.55 kg: no 0.1 kg grid point lies there, so nothing is sent, and the heat's
    diagnosis says which limit the nearest grid points break."""
    cfg = tiny_config(**{"materials.2.min_kg_per_heat": 62.52, "materials.2.max_kg_per_heat": 62.55})
    res = optimize_heats(cfg, [heat()], with_widths(cfg, WIDTHS), workers=1)
    r = res.heats[0]
    assert not r.feasible and r.status == ROUNDING_FAILED and r.rounding.hard
    assert "Coke 62.5 kg below its limit 62.52 kg" in r.diagnosis or "Coke 62.6 kg above its limit" in r.diagnosis
    rec = to_recommendation(cfg, [heat()], res, {}).heats[0]
    assert not rec.feasible and not rec.additions_kg and "setpoints break Coke" in rec.diagnosis


def test_plan_on_the_grid_is_sent_as_solved():
    r = optimize_heats(tiny_config(), [heat()], with_widths(tiny_config(), WIDTHS), workers=1).heats[0]
    assert r.rounding.repaired == "" and r.rounding.violation == ""
    assert r.additions_kg["Coke"] == 62.5 and r.arc_energy_kWh == 1000.0


def test_feeder_candidates():
    cfg = tiny_config(**{"materials.0.feeder_step_kg": 25.0})
    stepped, cont = cfg.material("FeMnA"), cfg.material("FeMnB")
    assert feeder_candidates(stepped, 75.0000025) == [75.0]  # solver noise on a whole step is that step
    assert feeder_candidates(stepped, 60.0) == [50.0, 75.0]
    assert feeder_candidates(cont, 12.34) == [12.3, 12.4] and feeder_candidates(cont, 12.36) == [12.4, 12.3]
    assert feeder_candidates(cont, 1e-9) == [0.0]
