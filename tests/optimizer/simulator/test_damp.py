"""The eighth plant, ``damp``: the weather (a shower a day or none, from the day's number) wets the open
stockpiles, which dry out between showers; what is charged brings its pile's water, whose oxygen the bath's
deoxidisers (Al first) take while the heat holds and whose steam chills; the arc heats by the energy of each
arcing (a bore-in before the foam builds, the foam lost over a long arcing); its history is canonical, today's
practice sensible."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad

from optimizer.simulator import EVALUATION_STREAM, draw_heats, get_physics, make_policy
from optimizer.simulator._damp import (
    DAMP_SHOP,
    DEOX_TAU_MIN,
    DRY_TAU_MIN,
    MOISTURE,
    O_PER_WATER,
    RAIN_MAX_MM,
    STEAM_KWH_PER_KG,
    WET_SCALE_MM,
    DampPhysics,
    arcing_kwh,
    moisture_wt_pct,
    shower,
    water_index_mm,
    wetness,
)
from optimizer.simulator.history import heat_table, run_heats
from optimizer.simulator.physics import NO_BIAS, BathView
from optimizer.validation import validate_heats

EPOCH = pd.Timestamp("2026-01-01T00:00:00Z")


def _hidden(seed: int = 1, when: pd.Timestamp | None = None, **changes):
    h = DampPhysics().draw_hidden(np.random.default_rng(seed), 380.0, 1586.0, when)
    return replace(h, recovery_noise={el: 0.0 for el in h.recovery_noise}, **changes)


def _bath(o_ppm: float = 380.0, minutes: float = 0.0, **wt_pct: float) -> BathView:
    return BathView(1595.0, o_ppm, minutes, 100.0, {"C": 0.15, "Mn": 1.4, "Si": 0.25, "Al": 0.03, **wt_pct})


def test_showers_follow_the_days_number_and_the_season():
    """One shower a day or none, drawn from the day's number (the same on every call, before the epoch too);
    more rainy days in winter than in summer; amounts capped."""
    assert shower(40) == shower(40) and shower(-3) == shower(-3)
    days = range(-3 * 365, 3 * 365)
    rains = {d: shower(d) for d in days}
    winter = [rains[d] is not None for d in days if (d % 365) < 45 or (d % 365) > 350]
    summer = [rains[d] is not None for d in days if 170 < (d % 365) < 230]
    assert np.mean(winter) > np.mean(summer) + 0.12 and 0.2 < np.mean(summer) < np.mean(winter) < 0.65
    falls = [r for r in rains.values() if r is not None]
    mm = np.array([r[1] for r in falls])
    assert mm.max() <= RAIN_MAX_MM and 4.0 < np.median(mm) < 8.5
    assert all(d * 1440.0 <= rains[d][0] < (d + 1) * 1440.0 for d in days if rains[d] is not None)


def test_the_stockpiles_dry_out_between_showers():
    """The water index jumps by a shower's mm when it falls and decays with 36 h; wetness saturates."""
    day = next(d for d in range(30, 400) if shower(d) is not None and shower(d + 1) is None)
    at, mm = shower(day)
    assert water_index_mm(at) - water_index_mm(at - 1e-6) == pytest.approx(mm, abs=1e-3)  # the shower falls
    later = (day + 2) * 1440.0 - 1.0  # no shower in between
    assert water_index_mm(later) == pytest.approx(water_index_mm(at) * math.exp(-(later - at) / DRY_TAU_MIN),
                                                  abs=0.01 * mm)
    expected = sum(r[1] * math.exp(-(later - r[0]) / DRY_TAU_MIN) for d in range(day - 30, day + 2)
                   if (r := shower(d)) is not None)
    assert water_index_mm(later) == pytest.approx(expected, abs=0.01)  # twelve days are all that count
    when = EPOCH + pd.Timedelta(minutes=at + 1.0)
    assert wetness(when) == pytest.approx(1 - math.exp(-water_index_mm(at + 1.0) / WET_SCALE_MM))
    assert wetness(when.tz_convert(None)) == wetness(when)  # a naive time is UTC
    assert 0.0 <= wetness(when) < 1.0


def test_the_wetness_comes_from_the_clock_and_is_shared(cfg):
    """Heats planned at the same time share the stockpiles' wetness whatever their own stream; the heat's
    stream only adds its grab from the pile, how much of the water reaches the steel and its arc."""
    when = pd.Timestamp("2026-02-10T13:20Z")
    a, b = (DampPhysics().draw_hidden(np.random.default_rng(s), 380.0, 1586.0, when) for s in (1, 2))
    assert a.wetness == b.wetness == wetness(when) and a.pile_factor != b.pile_factor
    assert DampPhysics().draw_hidden(np.random.default_rng(1), 380.0, 1586.0, when) == a
    heats = draw_heats(cfg, 1000, 5, EVALUATION_STREAM, physics="damp")  # five weeks
    wet = np.array([h.hidden.wetness for h in heats])
    assert wet.min() < 0.1 and wet.max() > 0.9 and 0.3 < np.median(wet) < 0.75  # dry spells and wet ones
    history = draw_heats(cfg, 50, 5, physics="damp")  # history heats of the same days: the same piles
    assert all(h.hidden.wetness == wetness(h.context.planned_time) for h in (*history, *heats))


def test_materials_bring_their_piles_water(cfg):
    """Wire is dry; carburizer holds the most water; every bulk material gets wetter with the piles."""
    dry, soaked = _hidden(3, wetness=0.0, pile_factor=1.0), _hidden(3, wetness=1.0, pile_factor=1.0)
    assert moisture_wt_pct(soaked, cfg.material("Al_wire")) == 0.0
    for name in ("SiMn", "HC_FeMn", "FeSi75", "Carburizer", "Lime"):
        m = cfg.material(name)
        lo, per_wet = MOISTURE[m.kind]
        assert moisture_wt_pct(dry, m) == pytest.approx(lo)
        assert moisture_wt_pct(soaked, m) == pytest.approx(lo + per_wet)
    carb, simn = cfg.material("Carburizer"), cfg.material("SiMn")
    assert moisture_wt_pct(soaked, carb) > 2 * moisture_wt_pct(soaked, simn)
    assert moisture_wt_pct(replace(soaked, pile_factor=1.5), simn) == pytest.approx(1.5 * moisture_wt_pct(soaked,
                                                                                                          simn))


def test_the_water_raises_the_oxygen_and_its_steam_chills(cfg):
    """The reacting share's oxygen goes into the bath (0.889 kg per kg of water); the rest chills as steam;
    an Al wire right behind a wet SiMn recovers less; the wire itself brings nothing."""
    p, simn, al = DampPhysics(), cfg.material("SiMn"), cfg.material("Al_wire")
    dry, wet = _hidden(4, wetness=0.0, pile_factor=1.0), _hidden(4, wetness=0.8, pile_factor=1.0)
    kg, bath = 2000.0, _bath()
    effects = {h.wetness: p.addition(h, bath, simn, kg, False) for h in (dry, wet)}
    for h in (dry, wet):
        water = kg * moisture_wt_pct(h, simn) / 100
        e = effects[h.wetness]
        assert e.oxygen_ppm == pytest.approx(380.0 + 1000 * O_PER_WATER * h.react_share * water / 100.0)
        base = simn.chill_degC_t_per_kg * h.chill_factor * kg / 100.0
        steam = STEAM_KWH_PER_KG * (1 - h.react_share) * water / (0.22 * 100.0)
        assert e.chill_degC == pytest.approx(base + steam)
    assert effects[0.8].oxygen_ppm > effects[0.0].oxygen_ppm + 40.0
    assert effects[0.8].chill_degC > effects[0.0].chill_degC
    assert effects[0.8].recovery == effects[0.0].recovery  # the alloy itself recovers by the oxygen it meets
    behind = [p.addition(wet, _bath(o_ppm=e.oxygen_ppm), al, 80.0, False) for e in effects.values()]
    assert behind[1].recovery["Al"] < behind[0].recovery["Al"] - 0.01
    assert all(b.oxygen_ppm == pytest.approx(e.oxygen_ppm) for b, e in zip(behind, effects.values(), strict=True))


def test_the_waters_oxygen_burns_al_first_then_si_then_c():
    """While the heat holds, the oxygen above the arrival value is taken first order (1.5 min) by Al (1.125 kg
    per kg O), by Si only when no Al is left, then by C; without excess oxygen nothing burns."""
    p, h = DampPhysics(), _hidden(5)
    excess = 60.0  # ppm: 6 kg O in 100 t
    e = p.hold(h, _bath(o_ppm=380.0 + excess), 3.0)
    taken = excess * (1 - math.exp(-3.0 / DEOX_TAU_MIN))
    assert e.oxygen_ppm == pytest.approx(380.0 + excess - taken)
    assert e.burnt_kg == pytest.approx({"Al": 54 / 48 * taken * 100.0 / 1000.0})
    assert e.loss_degC == pytest.approx(h.loss_degC_per_min * 3.0)
    low_al = p.hold(h, _bath(o_ppm=380.0 + excess, Al=0.001), 60.0).burnt_kg  # 1 kg Al dissolved
    assert low_al["Al"] == pytest.approx(1.0) and low_al["Si"] == pytest.approx(28 / 32 * (6.0 - 48 / 54))
    assert "C" not in low_al
    none_left = p.hold(h, _bath(o_ppm=380.0 + excess, Al=0.0, Si=0.0), 60.0).burnt_kg
    assert none_left["C"] == pytest.approx(0.75 * 6.0, rel=1e-6) and "Al" not in none_left
    assert p.hold(h, _bath(o_ppm=380.0), 10.0).burnt_kg == {}
    assert p.hold(h, _bath(o_ppm=300.0), 10.0).oxygen_ppm == 380.0  # it relaxes to the arrival oxygen
    assert p.hold(h, _bath(), 0.0).loss_degC == 0.0


def test_the_arc_heats_by_the_energy_of_each_arcing(cfg):
    """The efficiency of the e-th kWh of an arcing: (bare + (foam - bare) exp(-e / E_f)) (1 - exp(-e / E_s));
    a short arcing heats poorly (the bore-in), a long one loses its foam; two arcings are not one of twice the
    energy; nothing else matters."""
    p = DampPhysics()
    h = _hidden(6, eta_foam=0.49, eta_bare=0.35, foam_kWh=1600.0, bore_kWh=110.0)
    e = cfg.energy

    def eta(x: float) -> float:
        return (0.35 + 0.14 * math.exp(-x / 1600.0)) * (1 - math.exp(-x / 110.0))

    for kwh in (50.0, 400.0, 2000.0, 6000.0):
        assert arcing_kwh(h, kwh) == pytest.approx(quad(eta, 0.0, kwh)[0], rel=1e-9)
        assert p.arc_rise_degC(h, _bath(), kwh, e) == pytest.approx(arcing_kwh(h, kwh) / (0.22 * 100.0))
    mean_eta = {kwh: arcing_kwh(h, kwh) / kwh for kwh in (100.0, 300.0, 800.0, 1500.0, 4000.0, 8000.0)}
    assert mean_eta[100.0] < 0.25 < mean_eta[300.0] < mean_eta[800.0] < mean_eta[1500.0]  # the bore-in
    assert mean_eta[1500.0] > mean_eta[4000.0] > mean_eta[8000.0] > 0.35  # the foam goes
    assert 0.36 < mean_eta[1500.0] < 0.48  # DOMAIN.md: 30-50 %
    assert 2 * arcing_kwh(h, 300.0) < arcing_kwh(h, 600.0)  # two short arcings heat less than one
    assert 2 * arcing_kwh(h, 3000.0) > arcing_kwh(h, 6000.0)  # two long ones more
    assert arcing_kwh(h, 0.0) == 0.0
    hot = replace(_bath(), temperature_degC=1640.0, added_kg={"Lime": 1200.0, "Carburizer": 300.0})
    assert p.arc_rise_degC(h, hot, 2000.0, e) == p.arc_rise_degC(h, _bath(), 2000.0, e)
    assert p.arc_pickup_kg(h, _bath(), 2000.0, 8.0) == {}
    assert p.reading_bias(h, _bath()) is NO_BIAS and p.lab_delay_min(h, _bath()) == 0.0
    assert p.steel_weight_t(h, 97.5) == 97.5


def test_damp_history_is_canonical_and_practice_sensible(cfg):
    """The eighth plant's history: canonical, 2-4 samples (2 least often); the water burns Al in every heat,
    more from wetter piles; under today's plan the heats land mostly in spec."""
    assert get_physics("damp").practice is DAMP_SHOP
    heats = draw_heats(cfg, 120, 8, physics="damp")
    recs = run_heats(cfg, heats, make_policy("baseline", cfg), 8, 0, vary_samples=True)
    frame = heat_table(cfg, heats, recs)
    assert validate_heats(frame, cfg, "sim").report.empty
    counts = Counter(frame["n_samples"])
    assert set(counts) == {2, 3, 4} and counts[2] < min(counts[3], counts[4])
    assert 35.0 <= frame["treatment_time_min"].mean() <= 60.0
    kwh_t = np.mean([r.arc_energy_kWh / h.context.steel_weight_t for h, r in zip(heats, recs, strict=True)])
    assert 30.0 <= kwh_t <= 55.0
    assert np.mean([bool(r.off_spec) for r in recs]) < 0.15
    assert all(r.burnt_kg["Al"] > 0 for r in recs)
    assert all(r.picked_kg[el] == 0.0 for r in recs for el in cfg.elements)
    wet = np.array([h.hidden.wetness * h.hidden.pile_factor for h in heats])
    burnt = np.array([r.burnt_kg["Al"] for r in recs])
    main_kg = np.array([sum(a.kg for a in r.additions_log if not a.trim and a.material != "Al_wire") for r in recs])
    assert np.corrcoef(wet * main_kg, burnt)[0, 1] > 0.6
    std = run_heats(cfg, draw_heats(cfg, 20, 8), make_policy("baseline", cfg), 8, 0)
    assert all(r.burnt_kg["Al"] == 0.0 for r in std)  # nothing burns in the standard plant
