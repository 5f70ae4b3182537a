"""The one cost formula (optimizer/costs.py): by hand on the tiny plant, and the dosing model's cost
expressions equal to it at the plan they produce."""

from __future__ import annotations

import pytest

from optimizer.costs import CostCoefficients, plan_cost
from optimizer.dosing import optimize_heats
from optimizer.schedule import HeatContext
from optimizer.surrogates import prior_surrogates
from tests.optimizer.dosing.tiny_plant import tiny_config


def test_plan_cost_keeps_money_and_the_co2_charge_apart(cfg):
    c = plan_cost(cfg, {"SiMn": 1000.0}, 3000.0, 2, co2_price_per_t=80.0)
    simn = cfg.material("SiMn")
    assert c.material_money == pytest.approx(1000 * simn.price_per_kg)
    assert c.energy_money == pytest.approx(3000 * cfg.energy.price_per_kWh)
    assert c.sampling_money == pytest.approx(2 * cfg.sampling.cost_per_sample)
    assert c.money == pytest.approx(c.material_money + c.energy_money + c.sampling_money)
    assert c.co2_t == pytest.approx((1000 * simn.co2_kg_per_kg + 3000 * cfg.energy.co2_kg_per_kWh) / 1000)
    assert c.co2_charge == pytest.approx(80.0 * c.co2_t)


def test_tiny_plant_by_hand():
    """FeMnA 1.0 /kg and 1 kg CO2/kg, Coke 0.5 /kg and 3 kg CO2/kg, 0.1 /kWh and 0.5 kg CO2/kWh, 20 per sample."""
    coef = CostCoefficients.from_config(tiny_config(), co2_price_per_t=100.0)
    c = plan_cost(coef, {"FeMnA": 200.0, "FeMnB": 0.0, "Coke": 40.0}, 1000.0, 2)
    assert (c.material_money, c.energy_money, c.sampling_money) == pytest.approx((220.0, 100.0, 40.0))
    assert c.money == pytest.approx(360.0)
    assert c.co2_t == pytest.approx((200 + 120 + 500) / 1000)
    assert c.co2_charge == pytest.approx(100.0 * 0.82)
    assert coef.charged_price_per_kg("Coke") == pytest.approx(0.5 + 0.1 * 3.0)
    assert coef.charged_price_per_kWh == pytest.approx(0.1 + 0.1 * 0.5)


def test_terms_follow_the_order_given_and_unknown_materials_are_named():
    coef = CostCoefficients.from_config(tiny_config())
    assert coef.material_terms({"Coke": "x", "FeMnA": "y"}) == [(0.5, "x"), (1.0, "y")]
    assert coef.material_co2_terms({"FeMnB": "z"}) == [(3.0, "z")]
    with pytest.raises(KeyError, match=r"no price for material 'SiC'; known materials: \['Coke', 'FeMnA'"):
        coef.material_money({"SiC": 5.0})


def test_the_dosing_model_costs_its_plan_by_the_same_formula():
    cfg = tiny_config(**{"objective.co2_price_per_t": 50.0})
    heat = HeatContext("H1", "G1", 100.0, {"C": 0.05, "Mn": 0.2}, 1560.0, 300.0)
    r = optimize_heats(cfg, [heat], prior_surrogates(cfg), workers=1).heats[0]
    assert r.feasible
    c = plan_cost(cfg, r.additions_kg, r.arc_energy_kWh, r.n_samples)
    assert (r.material_cost, r.energy_cost, r.sampling_cost) == pytest.approx(
        (c.material_money, c.energy_money, c.sampling_money), rel=1e-12)
    assert r.money == pytest.approx(c.money, rel=1e-12)
    assert r.co2_kg == pytest.approx(1000 * c.co2_t, rel=1e-12)
    assert r.cost == pytest.approx(c.money + c.co2_charge, rel=1e-12)  # unit weights: money + CO2 charge
