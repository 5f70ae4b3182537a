"""Gross readings (a failed dip, a contaminated sample): the history's share of far-off readings that the next
sample takes back (``optimizer.stages.gross``), and the advisor's estimate of a heat after one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from optimizer.advisor import Advisor
from optimizer.stages.gross import SUSPECT_SD, GrossReadings, Reversal, learn_gross
from optimizer.stages.state import HeatState, Sample, StageRecord
from tests.optimizer.advisor.test_advisor import ARRIVAL, S355

TEMPERATURE = "temperature_degC"


def _stage_residuals(rng: np.random.Generator, n_heats: int, gross_rate: float, heavy_heats: bool
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Residuals of 3 stages per heat, each the change between two readings: a heat effect (Student-t with 2
    degrees of freedom with ``heavy_heats``: heats really far off), stage noise, reading errors of sd 1 and, at
    ``gross_rate``, a gross error of 10-20 sd on a reading, low (a failed dip). Also which rows' closing reading is
    gross."""
    stages = 3
    effect = (rng.standard_t(2, n_heats) if heavy_heats else rng.normal(0.0, 1.0, n_heats)) * 1.5
    reading = rng.normal(0.0, 1.0, (n_heats, stages + 1))
    gross = rng.random((n_heats, stages + 1)) < gross_rate
    reading -= gross * rng.uniform(10.0, 20.0, (n_heats, stages + 1))
    resid = effect[:, None] + rng.normal(0.0, 1.5, (n_heats, stages)) + reading[:, 1:] - reading[:, :-1]
    sd = np.sqrt(1.5 ** 2 + 1.5 ** 2 + 2.0)
    ids = np.repeat([f"H{i}" for i in range(n_heats)], stages)
    nos = np.tile(np.arange(1, stages + 1), n_heats)
    return resid.ravel(), resid.ravel() / sd, ids, nos, gross[:, 1:].ravel()


def test_the_share_of_gross_readings_among_the_suspect_ones_is_recovered():
    rng = np.random.default_rng(3)
    resid, z, ids, nos, gross = _stage_residuals(rng, 3000, 0.04, heavy_heats=False)
    learned = learn_gross(resid, z, ids, nos)
    # the truth: of the rows far below their prediction that have a next stage, the share whose reading is gross
    suspect = (nos < 3) & (z < -SUSPECT_SD)
    truth = float(gross[suspect].mean())
    assert learned.below.kept and learned.below.n_tail == int(suspect.sum())
    assert learned.below.share == pytest.approx(truth, abs=0.12), (learned.below, truth)
    # the readings far above are the reading before a gross one (taken back by nothing): not gross
    assert not learned.above.kept and learned.share(+1.0) == 0.0
    assert learned.share(-1.0) == learned.below.share


def test_heats_that_are_really_far_off_are_not_taken_for_gross_readings():
    rng = np.random.default_rng(4)
    resid, z, ids, nos, _ = _stage_residuals(rng, 3000, 0.0, heavy_heats=True)
    learned = learn_gross(resid, z, ids, nos)
    assert learned.below.n_tail >= 50 and learned.above.n_tail >= 50  # heavy-tailed heats: many far-off stages
    assert not learned.kept, learned


def test_too_few_far_off_readings_learn_nothing():
    rng = np.random.default_rng(5)
    resid, z, ids, nos, _ = _stage_residuals(rng, 150, 0.02, heavy_heats=False)
    assert not learn_gross(resid, z, ids, nos).kept


def _with_reversal(advisor: Advisor, name: str, share: float) -> Advisor:
    """``advisor`` with readings of ``name`` far below their prediction gross at ``share`` (none above)."""
    m = advisor.models.outcomes[name]
    gross = GrossReadings(below=Reversal(share, -0.1, -0.5, 5.0, 50))
    outcomes = {**advisor.models.outcomes, name: dataclasses.replace(m, gross=gross)}
    return dataclasses.replace(advisor, models=dataclasses.replace(advisor.models, outcomes=outcomes))


def _heat(dips: list[float]) -> HeatState:
    """A 100 t S355 heat after its main stage and as many trims as ``dips`` has readings beyond the first."""
    samples = [Sample(0, 0.0, 1590.0, ARRIVAL)]
    stages = []
    for k, t in enumerate(dips, start=1):
        samples.append(Sample(k, 20.0 * k, t, S355))
        stages.append(StageRecord({"SiMn": 1900.0, "Al_wire": 40.0, "Lime": 400.0} if k == 1 else {},
                                  2500.0 if k == 1 else 0.0))
    return HeatState("G1", "S355J2", 100.0, tuple(samples), tuple(stages), oxygen_ppm=380.0)


def test_a_failed_dip_is_weighed_by_the_share_of_gross_readings(advisor: Advisor):
    pred, var_meas, var_true = advisor.closing_prediction(_heat([1590.0]), TEMPERATURE)
    failed = pred - 10.0 * var_meas ** 0.5  # far below the prediction
    believed = advisor.closing_estimate(_heat([failed]), TEMPERATURE)
    assert believed[0] == pytest.approx(failed)  # no gross readings in this history: the reading alone
    doubting = _with_reversal(advisor, TEMPERATURE, 0.4)
    mean, sd = doubting.closing_estimate(_heat([failed]), TEMPERATURE)
    assert mean == pytest.approx(0.4 * pred + 0.6 * failed)
    assert sd > 0.45 * (pred - failed)  # the two stories are far apart: the estimate is wide
    # a reading near the prediction is fused as before, and one far above is believed (no gross readings there)
    for reading in (pred + 0.5 * var_meas ** 0.5, pred + 10.0 * var_meas ** 0.5):
        assert doubting.closing_estimate(_heat([reading]), TEMPERATURE) == \
            advisor.closing_estimate(_heat([reading]), TEMPERATURE)


def test_after_a_failed_dip_the_heat_heats_less_and_does_not_finish_on_it(advisor: Advisor):
    pred, var_meas, _ = advisor.closing_prediction(_heat([1590.0]), TEMPERATURE)
    failed = _heat([pred - 4.0 * var_meas ** 0.5])  # suspect, and within what one stage can make up
    doubting = _with_reversal(advisor, TEMPERATURE, 0.4)
    believing = advisor.on_sample(failed)
    doubted = doubting.on_sample(failed)
    assert not believing.finish and not doubted.finish
    assert doubted.arc_energy_kWh < believing.arc_energy_kWh - 100.0, (doubted.arc_energy_kWh, believing.arc_energy_kWh)


def test_the_sample_after_a_failed_dip_is_predicted_from_the_estimate_not_the_dip(advisor: Advisor):
    doubting = _with_reversal(advisor, TEMPERATURE, 0.9)
    first = advisor.closing_prediction(_heat([1590.0]), TEMPERATURE)
    failed_t = first[0] - 8.0 * first[1] ** 0.5
    # the trim that follows adds nothing and does not heat: the next dip reads about what the first should have
    believed = advisor.closing_prediction(_heat([failed_t, first[0]]), TEMPERATURE)[0]
    doubted = doubting.closing_prediction(_heat([failed_t, first[0]]), TEMPERATURE)[0]
    assert doubted - believed == pytest.approx(0.9 * (first[0] - failed_t), rel=0.25)


def test_a_suspect_reading_the_next_sample_confirms_is_believed_after_all(advisor: Advisor):
    doubting = _with_reversal(advisor, TEMPERATURE, 0.6)
    first = advisor.closing_prediction(_heat([1590.0]), TEMPERATURE)
    failed_t = first[0] - 8.0 * first[1] ** 0.5
    if_true = advisor.closing_prediction(_heat([failed_t, 0.0]), TEMPERATURE)[0]  # from the reading as it is
    if_gross = doubting.closing_prediction(_heat([first[0], 0.0]), TEMPERATURE)[0]  # from the predicted truth
    confirmed = doubting.credible(_heat([failed_t, if_true]))
    assert confirmed.samples[1].temperature_degC == pytest.approx(failed_t, abs=0.5)
    assert doubting.closing_estimate(_heat([failed_t, if_true]), TEMPERATURE)[0] == pytest.approx(if_true, abs=1.0)
    taken_back = doubting.credible(_heat([failed_t, if_gross]))
    assert taken_back.samples[1].temperature_degC == pytest.approx(first[0], abs=0.5)


def test_a_stage_that_adds_nothing_keeps_the_forecast_sane_where_the_reading_error_grows_with_the_level(
        advisor: Advisor):
    """A level-scaled spectrometer error can pass a trim's learned variance at a high Al level (glaze: 3.8e-5
    against 2.8e-5 wt%^2 at 0.033 wt%); the residuals' covariance then must stay positive definite. Found on a
    glaze heat whose stage without Al was forecast at -0.25 wt% Al from 0.0327 (0.045 here before the fix)."""
    name = "Al_wt_pct"
    m = advisor.models.outcomes[name]
    noisy = dataclasses.replace(m, meas_var=(0.0, 0.0356), stage_var={False: (4.35e-5, 0.0), True: (2.8e-5, 0.0)},
                                effect_cov=np.array([[0.0106]]))  # glaze's heat recovery variance
    adv = dataclasses.replace(advisor, models=dataclasses.replace(advisor.models,
                                                                  outcomes={**advisor.models.outcomes, name: noisy}))
    chem = [{**S355, "Al": 0.0323}, {**S355, "Al": 0.0327}, {**S355, "Al": 0.0327}]
    minutes = (19.5, 29.8, 35.2)
    samples = [Sample(0, 0.0, 1589.0, ARRIVAL)] + [Sample(k, minutes[k - 1], 1582.0, chem[k - 1]) for k in (1, 2, 3)]
    stages = (StageRecord({"SiMn": 2090.0, "Al_wire": 67.6, "Lime": 400.0}, 3386.0),
              StageRecord({"SiMn": 30.0}, 575.0), StageRecord({}, 261.0))
    state = HeatState("G6", "S355J2", 100.0, tuple(samples), stages, oxygen_ppm=380.0)
    pred, var_meas, _ = adv.closing_prediction(state, name)
    assert abs(pred - 0.0327) < 0.005 and var_meas < 1e-3, (pred, var_meas)
