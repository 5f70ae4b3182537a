"""The tenth plant, ``revert``: the slag that the heat's own additions build gives Si and Mn back to the steel,
paid for by the dissolved Al, while the heat waits; its history is canonical, today's practice sensible."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from optimizer.simulator import EVALUATION_STREAM, draw_heats, get_physics, make_policy
from optimizer.simulator._revert import (
    K_MN,
    K_SI,
    LIME_CAO,
    MN_PER_AL,
    OXIDE_PER_KG,
    REVERT_SHOP,
    SI_PER_AL,
    RevertPhysics,
    rates_per_min,
    slag,
)
from optimizer.simulator.history import heat_table, run_heats
from optimizer.simulator.physics import NO_BIAS, BathView
from optimizer.validation import validate_heats


def _hidden(seed: int = 1, **changes):
    h = RevertPhysics().draw_hidden(np.random.default_rng(seed), 380.0)
    return replace(h, recovery_noise={el: 0.0 for el in h.recovery_noise}, **changes)


def _bath(t_degC: float = 1600.0, al: float = 0.04, added: dict[str, float] | None = None,
          o_ppm: float = 380.0) -> BathView:
    return BathView(t_degC, o_ppm, 10.0, 100.0, {"C": 0.15, "Mn": 1.4, "Si": 0.25, "Al": al},
                    added_kg=added or {})


def _seen(p: RevertPhysics, cfg, *names: str) -> None:
    """Let the physics meet the materials (the plant adds before it holds)."""
    h = _hidden()
    for name in names:
        p.addition(h, _bath(), cfg.material(name), 1.0, False)


def test_the_slag_is_the_carryover_plus_what_the_additions_left(cfg):
    """SiO2, MnO and Al2O3 from the unrecovered share (at the textbook base) of each addition's Si, Mn and Al;
    lime brings 92 % CaO and its own mass; so SiMn raises the silica's activity, lime lowers it."""
    p = RevertPhysics()
    _seen(p, cfg, "SiMn", "Lime", "Al_wire")
    h = _hidden(2, carryover_slag_t=1.0, sio2_share=0.2, mno_share=0.05, cao_share=0.4)
    bare = slag(h, {}, p._materials)
    assert (bare.total_kg, bare.sio2_kg, bare.mno_kg, bare.cao_kg) == pytest.approx((1000.0, 200.0, 50.0, 400.0))
    assert bare.basicity == pytest.approx(2.0) and bare.a_sio2 == pytest.approx(0.2 * 2 / 3)
    simn = cfg.material("SiMn")
    s = slag(h, {"SiMn": 1500.0}, p._materials)
    si_lost = 1500.0 * simn.composition_wt_pct["Si"] / 100 * (1 - 0.80) * OXIDE_PER_KG["Si"]
    mn_lost = 1500.0 * simn.composition_wt_pct["Mn"] / 100 * (1 - 0.95) * OXIDE_PER_KG["Mn"]
    assert s.sio2_kg == pytest.approx(200.0 + si_lost) and s.mno_kg == pytest.approx(50.0 + mn_lost)
    assert s.total_kg == pytest.approx(1000.0 + si_lost + mn_lost)
    assert s.a_sio2 > bare.a_sio2 and s.a_mno > bare.a_mno
    limed = slag(h, {"SiMn": 1500.0, "Lime": 600.0}, p._materials)
    assert limed.cao_kg == pytest.approx(400.0 + LIME_CAO * 600.0) and limed.a_sio2 < s.a_sio2
    assert slag(h, {"Al_wire": 100.0}, p._materials).total_kg > bare.total_kg  # alumina dilutes


def test_the_dissolved_al_gives_si_and_mn_back_while_the_heat_waits(cfg):
    """First order in the dissolved Al at rate k_Si + k_Mn; the Al splits between the oxides by their rates,
    0.781 kg Si and 3.054 kg Mn per kg Al (negative burnt: returned); split holds return what one hold does."""
    p = RevertPhysics()
    _seen(p, cfg, "SiMn", "Lime")
    h = _hidden(3, contact=1.0, loss_degC_per_min=0.9)
    bath = _bath(added={"SiMn": 1500.0, "Lime": 400.0})
    k_si, k_mn = rates_per_min(h, p.slag(h, bath), 1600.0)
    assert k_si == pytest.approx(K_SI * p.slag(h, bath).a_sio2) and k_mn == pytest.approx(K_MN * p.slag(h, bath).a_mno)
    e = p.hold(h, bath, 10.0)
    gone = 40.0 * (1 - math.exp(-(k_si + k_mn) * 10.0))
    assert e.burnt_kg["Al"] == pytest.approx(gone)
    assert -e.burnt_kg["Si"] == pytest.approx(SI_PER_AL * gone * k_si / (k_si + k_mn))
    assert -e.burnt_kg["Mn"] == pytest.approx(MN_PER_AL * gone * k_mn / (k_si + k_mn))
    assert SI_PER_AL == pytest.approx(0.781, abs=1e-3) and MN_PER_AL == pytest.approx(3.054, abs=1e-3)
    assert e.loss_degC == pytest.approx(9.0) and e.oxygen_ppm == 380.0 and e.dissolved_kg == {}
    first = p.hold(h, bath, 4.0).burnt_kg["Al"]
    rest = p.hold(h, replace(bath, wt_pct={**bath.wt_pct, "Al": bath.wt_pct["Al"] - first / 1000.0}), 6.0)
    assert first + rest.burnt_kg["Al"] == pytest.approx(gone)
    assert p.hold(h, _bath(al=0.0), 10.0).burnt_kg == {}  # no Al, no reversion
    assert p.hold(h, bath, 0.0).loss_degC == 0.0


def test_reversion_grows_with_temperature_silica_and_contact_and_falls_with_lime(cfg):
    p = RevertPhysics()
    _seen(p, cfg, "SiMn", "Lime")
    h = _hidden(4, contact=1.0)
    base = _bath(added={"SiMn": 1000.0, "Lime": 400.0})

    def al(hh, bath):
        return p.hold(hh, bath, 10.0).burnt_kg["Al"]

    assert al(h, replace(base, temperature_degC=1620.0)) > al(h, base) > al(h, replace(base, temperature_degC=1570.0))
    assert al(h, replace(base, added_kg={"SiMn": 2000.0, "Lime": 400.0})) > al(h, base)
    assert al(h, replace(base, added_kg={"SiMn": 1000.0, "Lime": 800.0})) < al(h, base)
    assert al(replace(h, contact=2.0), base) > al(h, base)
    assert al(replace(h, sio2_share=0.28), base) > al(replace(h, sio2_share=0.12), base)


def test_metallurgy_otherwise_textbook(cfg):
    """Recovery at the bath's oxygen (trims see 30 % of it and get a bonus), chill linear in kg/t, a constant arc
    efficiency, the arc adds or takes nothing, samples read the true bath, the plant weighs right."""
    p, h = RevertPhysics(), _hidden(5)
    simn, al = cfg.material("SiMn"), cfg.material("Al_wire")
    main = p.addition(h, _bath(), simn, 1500.0, False)
    assert main.recovery["Mn"] == pytest.approx(0.95 - 0.00002 * (380 - 400))
    assert main.chill_degC == pytest.approx(simn.chill_degC_t_per_kg * h.chill_factor * 15.0)
    assert main.oxygen_ppm == 380.0 and main.undissolved_share == {} and main.delivered_kg is None
    assert p.addition(h, _bath(), al, 20.0, True).recovery["Al"] > p.addition(h, _bath(), al, 20.0,
                                                                                False).recovery["Al"] + 0.1
    assert p.arc_rise_degC(h, _bath(), 2000.0, cfg.energy) == pytest.approx(h.arc_efficiency * 2000.0 / 22.0)
    assert p.arc_pickup_kg(h, _bath(), 2000.0, 8.0) == {}
    assert p.reading_bias(h, _bath()) is NO_BIAS and p.lab_delay_min(h, _bath()) == 0.0
    assert p.steel_weight_t(h, 97.5) == 97.5
    assert RevertPhysics().draw_hidden(np.random.default_rng(9), 380.0) == RevertPhysics().draw_hidden(
        np.random.default_rng(9), 380.0)


def test_revert_history_is_canonical_and_practice_sensible(cfg):
    """The tenth plant's history: canonical, 2-4 samples (3 most often); under today's plan most heats land in
    spec; in every heat Al goes and Si and Mn come back, more in the heats that got more SiMn."""
    assert get_physics("revert").practice is REVERT_SHOP
    heats = draw_heats(cfg, 120, 8, physics="revert")
    recs = run_heats(cfg, heats, make_policy("baseline", cfg), 8, 0, vary_samples=True)
    frame = heat_table(cfg, heats, recs)
    assert validate_heats(frame, cfg, "sim").report.empty
    counts = Counter(frame["n_samples"])
    assert set(counts) == {2, 3, 4} and counts[3] > max(counts[2], counts[4])
    assert 35.0 <= frame["treatment_time_min"].mean() <= 60.0
    assert np.mean([bool(r.off_spec) for r in recs]) < 0.15
    fresh = draw_heats(cfg, 200, 5, EVALUATION_STREAM, physics="revert")
    done = run_heats(cfg, fresh, make_policy("baseline", cfg), 5, EVALUATION_STREAM)
    al = np.array([r.burnt_kg["Al"] for r in done])
    si = np.array([-r.burnt_kg["Si"] for r in done])
    mn = np.array([-r.burnt_kg["Mn"] for r in done])
    assert (al > 0).all() and (si > 0).all() and (mn > 0).all()
    assert 5.0 < np.median(al) < 25.0 and 2.0 < np.median(si) < 15.0
    simn = np.array([r.additions_kg["SiMn"] for r in done])
    heavy = simn > np.median(simn)
    assert al[heavy].mean() > al[~heavy].mean()
