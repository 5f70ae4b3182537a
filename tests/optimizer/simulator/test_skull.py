"""The eleventh plant, ``skull``: ladles arrive with a skull of an earlier heat's steel that melts back into the
bath during the treatment, mixing that heat's chemistry into this one and taking its heat; its history is
canonical, today's practice sensible."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from optimizer.simulator import EVALUATION_STREAM, draw_heats, get_physics, make_policy, simulate_history
from optimizer.simulator._skull import (
    _SKULL_CHEMISTRY,
    MELT_KWH_PER_KG,
    SKULL_AL_LEFT,
    SKULL_SHOP,
    STEEL_HEAT_KWH_PER_T_PER_DEGC,
    SkullPhysics,
    frozen_kg,
    heavy_skull_probability,
    melted_kg,
    mixing_kg,
)
from optimizer.simulator.heats import heat_rng
from optimizer.simulator.history import heat_table, run_heats
from optimizer.simulator.physics import NO_BIAS, BathView
from optimizer.simulator.plant import run_heat
from optimizer.validation import validate_heats


def _hidden(seed: int = 1, **changes):
    h = SkullPhysics().draw_hidden(np.random.default_rng(seed), 380.0)
    return replace(h, recovery_noise={el: 0.0 for el in h.recovery_noise}, **changes)


def _bath(minutes: float = 10.0, wt_pct: dict[str, float] | None = None) -> BathView:
    return BathView(1595.0, 30.0, minutes, 100.0, wt_pct or {"C": 0.45, "Mn": 0.25, "Si": 0.2, "Al": 0.03})


def test_the_skull_melts_first_order_and_all_of_it_in_the_end():
    h = _hidden(skull_t=2.0, melt_tau_min=20.0)
    assert frozen_kg(h, 0.0) == pytest.approx(2000.0)
    assert frozen_kg(h, 20.0) == pytest.approx(2000.0 / np.e)
    assert melted_kg(h, 0.0, 10.0) + melted_kg(h, 10.0, 25.0) == pytest.approx(melted_kg(h, 0.0, 35.0))
    assert melted_kg(h, 0.0, 1e4) == pytest.approx(2000.0)
    assert melted_kg(h, 0.0, 10.0) > melted_kg(h, 30.0, 10.0) > 0.0  # most of it early
    assert melted_kg(replace(h, melt_tau_min=40.0), 0.0, 10.0) < melted_kg(h, 0.0, 10.0)


def test_the_melted_skull_mixes_the_earlier_heats_chemistry_in_either_direction():
    """A Mn-rich skull raises a low-Mn heat's Mn (a negative burnt mass), a low-carbon one dilutes a medium-carbon
    heat's C (positive): kg x (c_skull - c_bath) / 100 per element."""
    p = SkullPhysics()
    skull = {"C": 0.17, "Mn": 1.48, "Si": 0.38, "Al": 0.02}
    h = _hidden(skull_t=2.0, melt_tau_min=20.0, skull_wt_pct=skull)
    bath = _bath()
    effect = p.hold(h, bath, 5.0)
    kg = melted_kg(h, 10.0, 5.0)
    assert effect.burnt_kg["Mn"] == pytest.approx(-kg * (1.48 - 0.25) / 100) and effect.burnt_kg["Mn"] < 0
    assert effect.burnt_kg["C"] == pytest.approx(kg * (0.45 - 0.17) / 100) and effect.burnt_kg["C"] > 0
    assert effect.burnt_kg["Al"] == pytest.approx(kg * (0.03 - 0.02) / 100)
    assert mixing_kg(skull, {"Mn": 1.48}, 500.0) == {"Mn": 0.0}  # the same chemistry changes nothing
    assert effect.oxygen_ppm == bath.oxygen_ppm and not effect.dissolved_kg


def test_the_melting_takes_the_baths_heat():
    p = SkullPhysics()
    h = _hidden(skull_t=3.0, melt_tau_min=15.0)
    bath = _bath(minutes=2.0)
    kg = melted_kg(h, 2.0, 8.0)
    expected = h.loss_degC_per_min * 8.0 + kg * MELT_KWH_PER_KG / (STEEL_HEAT_KWH_PER_T_PER_DEGC * 100.0)
    assert p.hold(h, bath, 8.0).loss_degC == pytest.approx(expected)
    assert p.hold(replace(h, skull_t=0.0), bath, 8.0).loss_degC == pytest.approx(h.loss_degC_per_min * 8.0)
    assert p.hold(h, bath, 8.0).loss_degC - h.loss_degC_per_min * 8.0 > 5.0  # a heavy skull: several degC
    assert p.hold(h, bath, 0.0).loss_degC == 0.0


def test_draws_colder_arrivals_bring_more_skull_and_melt_it_slower():
    assert heavy_skull_probability(1560.0) > heavy_skull_probability(1586.0) > heavy_skull_probability(1610.0)
    p = SkullPhysics()
    cold = [p.draw_hidden(np.random.default_rng(s), 380.0, 1565.0) for s in range(400)]
    hot = [p.draw_hidden(np.random.default_rng(s), 380.0, 1605.0) for s in range(400)]
    assert np.mean([h.skull_t for h in cold]) > np.mean([h.skull_t for h in hot])
    assert np.median([h.melt_tau_min for h in cold]) > np.median([h.melt_tau_min for h in hot])
    again = p.draw_hidden(np.random.default_rng(3), 380.0, 1565.0)
    assert again == cold[3]  # the heat's own stream only
    h = cold[3]
    tables = [chem for _, chem in _SKULL_CHEMISTRY]
    near = min(tables, key=lambda t: sum(abs(h.skull_wt_pct[el] - v) for el, v in t.items() if el != "Al"))
    assert h.skull_wt_pct["Al"] == pytest.approx(near["Al"] * SKULL_AL_LEFT, rel=0.25)
    assert set(h.skull_wt_pct) == set(near)


def test_metallurgy_otherwise_textbook(cfg):
    p, h = SkullPhysics(), _hidden()
    simn = cfg.material("SiMn")
    main = p.addition(h, _bath(), simn, 1500.0, False)
    assert main.recovery["Mn"] == pytest.approx(0.95 - 0.00002 * (30.0 - 400.0))
    assert main.chill_degC == pytest.approx(simn.chill_degC_t_per_kg * h.chill_factor * 15.0)
    assert main.delivered_kg is None and main.composition_wt_pct is None and not main.undissolved_share
    assert p.arc_pickup_kg(h, _bath(), 1000.0, 10.0) == {}
    assert p.reading_bias(h, _bath()) is NO_BIAS and p.lab_delay_min(h, _bath()) == 0.0
    assert p.steel_weight_t(h, 101.5) == 101.5
    assert p.arc_rise_degC(h, _bath(), 2200.0, cfg.energy) == pytest.approx(h.arc_efficiency * 100.0)


def test_a_skull_cools_the_heat_and_pulls_its_chemistry_towards_the_earlier_grade(cfg):
    """The same heats with and without their skull: heavy skulls end colder, and a DC04 heat in a ladle of a
    high-Mn structural heat ends with more Mn and Si."""
    heats = draw_heats(cfg, 120, 6, EVALUATION_STREAM, physics="skull")
    base = make_policy("baseline", cfg)
    d_temp, d_mn = [], []
    for k, heat in enumerate(heats):
        if heat.hidden.skull_t < 1.0:
            continue
        plan = base.decide(heat.context)
        bare = replace(heat, hidden=replace(heat.hidden, skull_t=0.0))
        with_skull = run_heat(cfg, heat, plan, heat_rng(6, 9, k))
        without = run_heat(cfg, bare, plan, heat_rng(6, 9, k))
        d_temp.append(with_skull.final_true_temperature_degC - without.final_true_temperature_degC)
        skull_mn = heat.hidden.skull_wt_pct["Mn"]
        if heat.context.grade == "DC04" and skull_mn > 1.0:
            d_mn.append(with_skull.final_true_wt_pct["Mn"] - without.final_true_wt_pct["Mn"])
            assert with_skull.final_true_wt_pct["Si"] > without.final_true_wt_pct["Si"]
    assert len(d_temp) > 20 and np.mean(d_temp) < -0.5
    assert d_mn and all(d > 0.005 for d in d_mn)


def test_skull_history_is_canonical_deterministic_and_practice_sensible(cfg):
    """The eleventh plant's history: canonical, 2-4 samples, the same twice; under today's plan most heats land
    in spec."""
    assert get_physics("skull").practice is SKULL_SHOP
    heats = draw_heats(cfg, 120, 8, physics="skull")
    recs = run_heats(cfg, heats, make_policy("baseline", cfg), 8, 0, vary_samples=True)
    frame = heat_table(cfg, heats, recs)
    assert validate_heats(frame, cfg, "sim").report.empty
    assert set(Counter(frame["n_samples"])) == {2, 3, 4}
    assert 35.0 <= frame["treatment_time_min"].mean() <= 60.0
    assert np.mean([bool(r.off_spec) for r in recs]) < 0.15
    a, a_samples = simulate_history(cfg, 40, 3, physics="skull")
    b, b_samples = simulate_history(cfg, 40, 3, physics="skull")
    assert a.equals(b) and a_samples.equals(b_samples)
    standard, _ = simulate_history(cfg, 40, 3)
    assert (a["grade"] == standard["grade"]).all()  # the same heats arrive
    assert not a["final_temperature_degC"].equals(standard["final_temperature_degC"])
