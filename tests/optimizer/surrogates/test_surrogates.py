"""Surrogates: no time leakage, linear terms reproduce predictions, intervals cover, learned beats fixed yields."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.simulator import simulate_history
from optimizer.surrogates import SampleWidths, train_surrogates
from optimizer.surrogates.conformal import conformal_quantile
from optimizer.surrogates.features import holdout_split, time_order, time_splits


@pytest.fixture(scope="module")
def trained(cfg):
    heats, _ = simulate_history(cfg, 1200, seed=3)
    sset, report = train_surrogates(cfg, heats)
    return heats, sset, report


def test_time_splits_never_leak():
    for train, val in time_splits(500, n_folds=4):
        assert train.max() < val.min()
    tr, cal, te = holdout_split(500)
    assert tr.max() < cal.min() <= cal.max() < te.min()
    assert len(tr) + len(cal) + len(te) == 500


def test_test_heats_are_the_latest(cfg, trained):
    heats, _, report = trained
    ordered = time_order(heats.sample(frac=1.0, random_state=1))
    assert ordered["start_time"].is_monotonic_increasing
    test_times = report.test_predictions["final_Mn_wt_pct"]["start_time"]
    assert pd.Series(test_times).min() >= ordered["start_time"].iloc[report.n_train + report.n_calibration - 1]


def test_linear_terms_reproduce_predict(cfg, trained):
    heats, sset, _ = trained
    rows = heats.sample(25, random_state=0)
    for outcome, sur in sset.outcomes.items():
        pred = sur.predict(rows)
        for i, row in enumerate(rows.to_dict("records")):
            const, coefs = sur.linear_terms({k: row[k] for k in sur.context_features})
            lin = const + sum(c * float(row[d]) for d, c in coefs.items())
            assert lin == pytest.approx(pred[i], rel=1e-9, abs=1e-9), outcome


def test_one_heat_encoding_matches_the_frame_encoding(trained):
    """The dosing model encodes one heat's context without pandas; missing, NaN and non-numeric values get the
    training median as the frame path does, and an unknown grade gets no indicator."""
    from optimizer.surrogates.structures import ContextEncoder

    heats, _, _ = trained
    enc = ContextEncoder(["initial_oxygen_ppm", "steel_weight_t"]).fit(heats)
    rows = [{"grade": heats["grade"].iloc[0], "initial_oxygen_ppm": 410.0, "steel_weight_t": 98.5},
            {"grade": "XYZ", "initial_oxygen_ppm": float("nan"), "steel_weight_t": "bad"},
            {"grade": heats["grade"].iloc[1], "steel_weight_t": 101.0}]
    frame = pd.DataFrame(rows)
    for i, row in enumerate(rows):
        np.testing.assert_allclose(enc.transform_one(row), enc.transform(frame)[i], rtol=1e-12)
    assert enc.transform_one(rows[1])[2:].sum() == 0.0


def test_learned_beats_fixed_yield_where_recovery_varies(trained):
    _, _, report = trained
    for outcome in ("final_Mn_wt_pct", "final_Si_wt_pct", "final_Al_wt_pct"):
        assert report.test[outcome]["mae"] < 0.9 * report.baseline_test_mae[outcome], outcome


def test_coverage_near_nominal_on_latest_heats(trained):
    _, _, report = trained
    cov = [report.test[o]["coverage_90"] for o in report.test]
    assert 0.80 <= np.mean(cov) <= 0.98


def test_conformal_coverage_synthetic():
    rng = np.random.default_rng(0)
    cal = np.abs(rng.normal(0, 1, 2000))
    n = rng.choice([2, 3, 4], 2000)
    w = SampleWidths.fit(cal, n)
    test = np.abs(rng.normal(0, 1, 20000))
    for conf in (0.8, 0.9, 0.95):
        assert np.mean(test <= w.halfwidth(3, conf)) == pytest.approx(conf, abs=0.03)
    assert w.halfwidth(1, 0.9) > w.halfwidth(2, 0.9)  # fewer samples than ever seen: wider, never narrower
    assert conformal_quantile(np.array([1.0, 2.0]), 0.99) == np.inf


def test_domain_bounds_and_context_check(cfg, trained):
    heats, sset, _ = trained
    lo, hi = sset.domain.bounds("S355J2", "add_SiMn_kg")
    seen = time_order(heats).iloc[: len(heats) - int(len(heats) * 0.15)]  # train + calibration, not the test
    sub = seen[seen["grade"] == "S355J2"]["add_SiMn_kg"]
    assert (lo, hi) == (sub.min(), sub.max())
    assert sset.domain.bounds("nope", "add_SiMn_kg") == (None, None)
    ctx = {"grade": "S355J2", "initial_temperature_degC": 1750.0}
    msgs = sset.domain.check_context(ctx, ["initial_temperature_degC"])
    assert msgs and "outside the training range" in msgs[0]


def test_too_few_heats(cfg):
    heats, _ = simulate_history(cfg, 20, seed=1)
    with pytest.raises(ValueError, match="at least 60 valid heats"):
        train_surrogates(cfg, heats)
