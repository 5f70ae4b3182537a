"""The ninth plant, ``tariff``: the transformer tap follows the electricity tariff of the hour (a lower tap, a
shorter arc, more of its energy in the bath); a heavy slag takes part of every arcing's heat and passes it to the
steel after the arc stops; its history is canonical, today's practice sensible."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from optimizer.simulator import EVALUATION_STREAM, draw_heats, get_physics, make_policy
from optimizer.simulator._tariff import (
    STORE_HALF_T,
    STORE_MAX,
    TAP_EFFICIENCY,
    TARIFF_SHOP,
    TariffPhysics,
    efficiency,
    slag_t,
    store_share,
    tap,
    tap_at,
)
from optimizer.simulator.history import heat_table, run_heats
from optimizer.simulator.physics import NO_BIAS, SCHEDULE_EPOCH, BathView, minutes_since_epoch
from optimizer.validation import validate_heats

MONDAY = pd.Timestamp("2026-02-09T00:00:00Z")


def _hidden(seed: int = 1, when: pd.Timestamp | None = MONDAY, **changes):
    h = TariffPhysics().draw_hidden(np.random.default_rng(seed), 380.0, 1586.0, when)
    return replace(h, recovery_noise={el: 0.0 for el in h.recovery_noise}, **changes)


def _bath(minutes: float = 0.0, added: dict[str, float] | None = None, rise: float = 0.0,
          since_arc: float = math.inf, o_ppm: float = 380.0) -> BathView:
    return BathView(1595.0, o_ppm, minutes, 100.0, {"C": 0.15, "Mn": 1.4, "Si": 0.25, "Al": 0.03},
                    added_kg=added or {}, arc_rise_degC=rise, minutes_since_arc=since_arc)


def test_the_tap_follows_the_tariff_of_the_hour():
    """Weekdays: low tap in the peaks (07-11, 16-20 UTC), middle in the shoulders (11-16, 20-22), top at night;
    the weekend all top; a naive time is UTC."""
    assert SCHEDULE_EPOCH.day_name() == "Thursday" and MONDAY.day_name() == "Monday"
    expected = {0: "top", 6: "top", 7: "low", 10: "low", 11: "middle", 15: "middle", 16: "low", 19: "low",
                20: "middle", 21: "middle", 22: "top", 23: "top"}
    for day in range(5):  # Monday to Friday
        for hour, want in expected.items():
            when = MONDAY + pd.Timedelta(days=day, hours=hour, minutes=30)
            assert tap_at(when) == want, (day, hour)
    for day in (5, 6):  # the weekend
        assert {tap_at(MONDAY + pd.Timedelta(days=day, hours=h)) for h in range(24)} == {"top"}
    assert tap_at(MONDAY + pd.Timedelta(hours=6, minutes=59)) == "top"
    assert tap_at(MONDAY + pd.Timedelta(hours=7)) == "low"  # the peak starts on the hour
    assert tap_at(MONDAY + pd.Timedelta(hours=6, minutes=50), 15.0) == "low"  # a heat runs into the peak
    assert tap_at(MONDAY.tz_convert(None) + pd.Timedelta(hours=8)) == "low"
    assert tap(minutes_since_epoch(SCHEDULE_EPOCH - pd.Timedelta(days=4, hours=-8))) == "top"  # a Sunday before
    assert tap(minutes_since_epoch(SCHEDULE_EPOCH - pd.Timedelta(days=1, hours=-8))) == "low"  # a Wednesday


def test_the_tariff_comes_from_the_clock_and_is_shared(cfg):
    """Heats planned at the same time share the tap whatever their own stream; the heat's stream only adds its
    offset, its slag and how that slag passes the heat back; a week of heats meets every tap."""
    when = pd.Timestamp("2026-02-10T08:20Z")
    a, b = (TariffPhysics().draw_hidden(np.random.default_rng(s), 380.0, 1586.0, when) for s in (1, 2))
    assert a.planned_min == b.planned_min == minutes_since_epoch(when)
    assert a.eta_offset != b.eta_offset and a.carryover_slag_t != b.carryover_slag_t
    assert TariffPhysics().draw_hidden(np.random.default_rng(1), 380.0, 1586.0, when) == a
    heats = draw_heats(cfg, 400, 5, EVALUATION_STREAM, physics="tariff")
    taps = Counter(tap(h.hidden.planned_min) for h in heats)
    assert set(taps) == {"top", "middle", "low"} and taps["top"] > max(taps["middle"], taps["low"])
    history = draw_heats(cfg, 50, 5, physics="tariff")
    assert all(h.hidden.planned_min == minutes_since_epoch(h.context.planned_time) for h in (*history, *heats))
    slag = np.array([h.hidden.carryover_slag_t for h in heats])
    assert 0.85 < np.median(slag) < 1.15 and slag.min() >= 0.3 and slag.max() <= 3.0


def test_a_lower_tap_heats_better_less_the_slags_share(cfg):
    """The rise is (1 - f) (tap efficiency + the heat's offset) kWh / (0.22 W): low > middle > top on the same
    bath; the tap is the one of the hour the arcing starts."""
    p, e = TariffPhysics(), cfg.energy
    assert TAP_EFFICIENCY["low"] > TAP_EFFICIENCY["middle"] > TAP_EFFICIENCY["top"]
    assert 0.30 <= TAP_EFFICIENCY["top"] and TAP_EFFICIENCY["low"] <= 0.50  # DOMAIN.md: 30-50 %
    rises = {}
    for hour, want in ((3, "top"), (12, "middle"), (8, "low")):
        h = _hidden(2, MONDAY + pd.Timedelta(hours=hour))
        bath = _bath(minutes=10.0, added={"Lime": 400.0})
        f = store_share(h, bath)
        assert efficiency(h, bath) == pytest.approx(TAP_EFFICIENCY[want] + h.eta_offset)
        rises[want] = p.arc_rise_degC(h, bath, 2000.0, e)
        assert rises[want] == pytest.approx((1 - f) * efficiency(h, bath) * 2000.0 / (0.22 * 100.0))
    assert rises["low"] > rises["middle"] > rises["top"]
    h = _hidden(2, MONDAY + pd.Timedelta(hours=6, minutes=40))  # the peak starts 20 min into the heat
    assert p.arc_rise_degC(h, _bath(minutes=25.0), 2000.0, e) > p.arc_rise_degC(h, _bath(minutes=5.0), 2000.0, e)
    assert p.arc_rise_degC(h, _bath(), 0.0, e) == 0.0


def test_the_slag_takes_a_share_that_grows_with_its_mass():
    """f = 0.32 S / (S + 1.5 t), S the carry-over slag plus the lime and fluorspar charged so far."""
    h = _hidden(3, carryover_slag_t=1.0)
    assert slag_t(h, _bath()) == 1.0
    bath = _bath(added={"Lime": 600.0, "Fluorspar": 150.0, "SiMn": 2000.0})
    assert slag_t(h, bath) == pytest.approx(1.75)
    assert store_share(h, bath) == pytest.approx(STORE_MAX * 1.75 / (1.75 + STORE_HALF_T))
    assert store_share(h, _bath()) < store_share(h, bath) < STORE_MAX
    heavy = replace(h, carryover_slag_t=3.0)
    assert store_share(heavy, bath) > store_share(h, bath) > 0.1


def test_the_slag_passes_the_heat_back_after_the_arc(cfg):
    """While the heat holds after an arcing, the slag returns its share of the store, first order; split holds
    return what one hold of their sum returns; all told the steel gets (1 - f + R f) of the tap's heat; before
    any arcing (or with no rise) only the loss counts."""
    p = TariffPhysics()
    h = _hidden(4, release_tau_min=5.0, return_share=0.7, loss_degC_per_min=0.85, carryover_slag_t=1.2)
    added = {"Lime": 400.0}
    f = store_share(h, _bath(added=added))
    full = efficiency(h, _bath()) * 3000.0 / (0.22 * 100.0)
    rise = p.arc_rise_degC(h, _bath(added=added), 3000.0, cfg.energy)
    assert rise == pytest.approx((1 - f) * full)
    e = p.hold(h, _bath(added=added, rise=rise, since_arc=0.0), 3.0)
    back = 0.7 * rise * f / (1 - f) * (1 - math.exp(-3.0 / 5.0))
    assert e.loss_degC == pytest.approx(0.85 * 3.0 - back)
    assert e.oxygen_ppm == 380.0 and e.burnt_kg == {} and e.dissolved_kg == {}
    one = p.hold(h, _bath(added=added, rise=rise, since_arc=1.0), 7.0).loss_degC
    two = (p.hold(h, _bath(added=added, rise=rise, since_arc=1.0), 2.5).loss_degC
           + p.hold(h, _bath(added=added, rise=rise, since_arc=3.5), 4.5).loss_degC)
    assert one == pytest.approx(two)
    forever = 0.85 * 500.0 - p.hold(h, _bath(added=added, rise=rise, since_arc=0.0), 500.0).loss_degC
    assert rise + forever == pytest.approx((1 - f + 0.7 * f) * full)
    assert p.hold(h, _bath(), 4.0).loss_degC == pytest.approx(0.85 * 4.0)  # no arcing yet
    assert p.hold(h, _bath(rise=0.0, since_arc=2.0), 4.0).loss_degC == pytest.approx(0.85 * 4.0)
    assert p.hold(h, _bath(rise=rise, since_arc=0.0), 0.0).loss_degC == 0.0
    assert p.slag_heat_degC(h, _bath(added=added, rise=rise, since_arc=60.0)) < 1e-3 * rise  # long passed


def test_metallurgy_otherwise_textbook(cfg):
    """Recovery at the bath's oxygen (trims see 30 % of it and get a bonus), chill linear in kg/t, the arc adds or
    takes nothing, samples read the true bath, the plant weighs right, the lab keeps its minutes."""
    p, h = TariffPhysics(), _hidden(5)
    simn, al = cfg.material("SiMn"), cfg.material("Al_wire")
    main = p.addition(h, _bath(), simn, 1500.0, False)
    assert main.recovery["Mn"] == pytest.approx(0.95 - 0.00002 * (380 - 400))
    assert main.chill_degC == pytest.approx(simn.chill_degC_t_per_kg * h.chill_factor * 15.0)
    assert main.oxygen_ppm == 380.0 and main.undissolved_share == {} and main.delivered_kg is None
    assert p.addition(h, _bath(o_ppm=600.0), al, 80.0, False).recovery["Al"] < main.recovery.get("Al", 1.0)
    assert p.addition(h, _bath(), al, 20.0, True).recovery["Al"] > p.addition(h, _bath(), al, 20.0,
                                                                                False).recovery["Al"] + 0.1
    assert p.arc_pickup_kg(h, _bath(), 2000.0, 8.0) == {}
    assert p.reading_bias(h, _bath()) is NO_BIAS and p.lab_delay_min(h, _bath()) == 0.0
    assert p.steel_weight_t(h, 97.5) == 97.5


def test_tariff_history_is_canonical_and_practice_sensible(cfg):
    """The ninth plant's history: canonical, 2-4 samples (4 least often); under today's plan the heats land mostly
    in spec; the operators' one heat balance for every tap leaves the peak-hour heats hotter than the night's."""
    assert get_physics("tariff").practice is TARIFF_SHOP
    heats = draw_heats(cfg, 120, 8, physics="tariff")
    recs = run_heats(cfg, heats, make_policy("baseline", cfg), 8, 0, vary_samples=True)
    frame = heat_table(cfg, heats, recs)
    assert validate_heats(frame, cfg, "sim").report.empty
    counts = Counter(frame["n_samples"])
    assert set(counts) == {2, 3, 4} and counts[4] < min(counts[2], counts[3])
    assert 35.0 <= frame["treatment_time_min"].mean() <= 60.0
    kwh_t = np.mean([r.arc_energy_kWh / h.context.steel_weight_t for h, r in zip(heats, recs, strict=True)])
    assert 30.0 <= kwh_t <= 55.0
    assert np.mean([bool(r.off_spec) for r in recs]) < 0.15
    assert all(r.picked_kg[el] == 0.0 and r.burnt_kg[el] == 0.0 for r in recs for el in cfg.elements)
    fresh = draw_heats(cfg, 400, 5, EVALUATION_STREAM, physics="tariff")
    done = run_heats(cfg, fresh, make_policy("baseline", cfg), 5, EVALUATION_STREAM)
    over = {t: [r.final_true_temperature_degC - cfg.grade(f.context.grade).temperature_degC.aim
                for f, r in zip(fresh, done, strict=True) if tap(f.hidden.planned_min) == t]
            for t in TAP_EFFICIENCY}
    assert np.mean(over["low"]) > np.mean(over["top"]) + 2.0
