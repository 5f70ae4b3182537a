"""The advisor's decisions: trims into the window, samples only when worth their cost, no silent extrapolation."""

from __future__ import annotations

import math

from optimizer.advisor import Advisor
from optimizer.advisor.advisor import _windows
from optimizer.config import PlantConfig
from optimizer.stages.state import HeatState, Sample, StageRecord

S355 = {"C": 0.17, "Mn": 1.45, "Si": 0.35, "Al": 0.035, "P": 0.015, "S": 0.01, "Cr": 0.04, "Ni": 0.03, "Cu": 0.08}
ARRIVAL = {"C": 0.08, "Mn": 0.10, "Si": 0.01, "Al": 0.002, "P": 0.012, "S": 0.011, "Cr": 0.04, "Ni": 0.03, "Cu": 0.08}


def _state(after: list[tuple[float, dict[str, float]]], grade: str = "S355J2") -> HeatState:
    """A 100 t heat: arrival at 1590 degC, then one sample (temperature, chemistry) per stage given."""
    samples = [Sample(0, 0.0, 1590.0, ARRIVAL)]
    stages = []
    for k, (temp, chem) in enumerate(after, start=1):
        samples.append(Sample(k, 18.0 * k, temp, chem))
        stages.append(StageRecord({"SiMn": 1900.0, "Al_wire": 40.0, "Lime": 400.0} if k == 1 else {}, 2500.0 / k))
    return HeatState("T1", grade, 100.0, tuple(samples), tuple(stages), oxygen_ppm=380.0)


def _with_minute_cost(advisor: Advisor, cost: float) -> Advisor:
    s = advisor.cfg.sampling.model_copy(update={"cost_per_treatment_minute": cost})
    return Advisor(advisor.cfg.model_copy(update={"sampling": s}), advisor.models, advisor.support)


def test_arrival_decision_lands_the_heat_in_its_window(advisor: Advisor, cfg: PlantConfig):
    d = advisor.on_arrival(_state([]))
    grade = cfg.grade("S355J2")
    assert not d.finish and d.additions_kg and d.arc_energy_kWh > 0
    for el, win in grade.chemistry_wt_pct.items():
        mean, _, _ = d.predicted[f"{el}_wt_pct"]
        assert (win.min is None or mean >= win.min) and (win.max is None or mean <= win.max), (el, mean)
    mean_t, low_t, high_t = d.predicted["temperature_degC"]
    assert grade.temperature_degC.min <= mean_t <= grade.temperature_degC.max and low_t < mean_t < high_t
    # nothing outside the data or the window; aiming to finish on fewer samples than the history had is said
    assert all(f.startswith("aims to finish after 1 samples, fewer than any") for f in d.flags), d.flags


def test_trim_after_a_low_sample_moves_the_prediction_into_the_window(advisor: Advisor, cfg: PlantConfig):
    low_mn = {**S355, "Mn": 1.22}  # window 1.30-1.60
    d = advisor.on_sample(_state([(1592.0, low_mn)]))
    assert not d.finish
    mn_carriers = [m.name for m in cfg.materials if "Mn" in m.composition_wt_pct]
    assert sum(d.additions_kg.get(m, 0.0) for m in mn_carriers) > 0
    mean, _, _ = d.predicted["Mn_wt_pct"]
    assert 1.30 < mean < 1.60


def test_a_sample_inside_the_window_finishes_the_heat(advisor: Advisor):
    d = advisor.on_sample(_state([(1592.0, S355)]))
    assert d.finish and "finish" in d.reason


class _ModelTrustingAdvisor(Advisor):
    """An advisor whose estimate of every outcome sits mid-window, whatever was measured."""

    def closing_estimate(self, state: HeatState, name: str) -> tuple[float, float]:
        lo, hi = _windows(self.cfg.grade(state.grade))[name]
        if lo is not None and hi is not None:
            return (lo + hi) / 2, 1e-6
        return (hi / 2 if hi is not None else 1.5 * (lo or 0.0)), 1e-6


def test_no_model_estimate_finishes_a_heat_whose_sample_reads_outside_the_window(advisor: Advisor):
    trusting = _ModelTrustingAdvisor(advisor.cfg, advisor.models, advisor.support)
    assert trusting.on_sample(_state([(1592.0, S355)])).finish
    grade = advisor.cfg.grade("S355J2")
    for temp, chem, why in ((1592.0, {**S355, "Mn": 1.29}, "Mn_wt_pct measured 1.29 outside [1.3, 1.6] (the "
                             "model's estimate 1.45"),
                            (1606.0, S355, "temperature_degC measured 1606 outside [1580.0, 1605.0] (the model's "
                             "estimate 1592")):
        state = _state([(temp, chem)])
        assert trusting._accepts(grade, state) == (False, f"{why} does not overrule the sample)")
        assert not trusting.on_sample(state).finish
    low_mn = trusting.on_sample(_state([(1592.0, {**S355, "Mn": 1.29})]))
    assert low_mn.additions_kg.get("SiMn", 0.0) + low_mn.additions_kg.get("HC_FeMn", 0.0) > 0, low_mn  # a Mn trim


def test_another_sample_only_when_worth_its_cost(advisor: Advisor):
    state = _state([])
    cheap = _with_minute_cost(advisor, 0.0).on_arrival(state)  # another stage costs little: aim lean, sample
    dear = _with_minute_cost(advisor, 400.0).on_arrival(state)  # a minute costs 400: land it at once
    # dear: the widest margin tried (the grade's confidence), cheap: the leanest; the chance to finish follows
    assert "margin 1.64 sd" in dear.reason and "margin 0.00 sd" in cheap.reason, (cheap.reason, dear.reason)
    assert dear.p_finish > 0.7 > cheap.p_finish, (cheap.p_finish, dear.p_finish)
    cost = {m.name: m.price_per_kg for m in advisor.cfg.materials}
    assert sum(cost[m] * kg for m, kg in cheap.additions_kg.items()) < \
        sum(cost[m] * kg for m, kg in dear.additions_kg.items())


def test_no_stage_beyond_the_samples_the_history_supports(advisor: Advisor):
    most = advisor.support.grade("S355J2").samples_max
    off = {**S355, "Mn": 1.22}
    d = advisor.on_sample(_state([(1592.0, off)] * most))
    assert d.finish and d.flags and "most this grade's history has" in d.flags[0]


def test_aiming_to_finish_below_the_history_sample_count_is_flagged(advisor: Advisor):
    dear = _with_minute_cost(advisor, 400.0).on_arrival(_state([]))
    if advisor.support.grade("S355J2").samples_min > 1:
        assert any("fewer than any" in f for f in dear.flags), dear.flags


def test_heat_state_round_trips_through_json(advisor: Advisor):
    state = _state([(1592.0, S355)])
    again = HeatState.from_dict(state.to_dict())
    assert again == state
    assert math.isnan(again.slag_feo_wt_pct)


def test_closing_estimate_fuses_the_sample_with_the_prediction_unless_they_disagree(advisor: Advisor):
    arrival = advisor.on_arrival(_state([]))
    predicted_mn = arrival.predicted["Mn_wt_pct"][0]
    meas_sd = advisor.models.outcomes["Mn_wt_pct"].meas_variance(predicted_mn) ** 0.5
    done = StageRecord(dict(arrival.additions_kg), arrival.arc_energy_kWh)
    agree = {**S355, "Mn": predicted_mn}

    def after(chem: dict[str, float]) -> HeatState:
        base = _state([])
        return HeatState("T1", "S355J2", 100.0, (*base.samples, Sample(1, 25.0, 1592.0, chem)), (done,),
                         oxygen_ppm=380.0)

    mean, sd = advisor.closing_estimate(after(agree), "Mn_wt_pct")
    assert abs(mean - predicted_mn) < meas_sd and sd < meas_sd
    far = {**S355, "Mn": predicted_mn + 10 * meas_sd}
    mean, sd = advisor.closing_estimate(after(far), "Mn_wt_pct")
    assert mean == far["Mn"] and abs(sd - advisor.models.outcomes["Mn_wt_pct"].meas_variance(far["Mn"]) ** 0.5) < 1e-12


def test_only_the_temperature_off_closes_the_stage_with_a_dip_alone(advisor: Advisor, cfg: PlantConfig):
    """Chemistry in window, temperature 12 degC below the minimum: heat, then a temperature dip (no chemistry
    sample, no additions). After the dip in window the heat finishes on the predicted chemistry."""
    cold = _state([(1568.0, S355)])  # S355J2 temperature 1580-1605
    d = advisor.on_sample(cold)
    assert not d.finish and d.closing == "dip" and not d.additions_kg and d.arc_energy_kWh > 0, d.reason
    mean_t, _, _ = d.predicted["temperature_degC"]
    assert 1580.0 < mean_t < 1605.0
    assert "temperature dip alone" in d.reason
    dipped = HeatState(cold.heat_id, cold.grade, cold.steel_weight_t,
                       (*cold.samples, Sample(2, cold.last.minutes_from_start + 8.0, 1593.0, {})),
                       (*cold.stages, StageRecord({}, d.arc_energy_kWh)), oxygen_ppm=cold.oxygen_ppm)
    assert dipped.last.is_dip and dipped.n_chemistry_samples == 1
    mn, sd = advisor.closing_estimate(dipped, "Mn_wt_pct")
    assert abs(mn - S355["Mn"]) < 0.05 and sd > 0  # predicted from the sample before, not measured
    after = advisor.on_sample(dipped)
    assert after.finish, after.reason
    still_cold = HeatState(dipped.heat_id, dipped.grade, dipped.steel_weight_t,
                           (*dipped.samples[:-1], Sample(2, dipped.last.minutes_from_start, 1571.0, {})),
                           dipped.stages, oxygen_ppm=dipped.oxygen_ppm)
    again = advisor.on_sample(still_cold)  # planned from the predicted chemistry
    assert not again.finish and again.arc_energy_kWh > 0 and math.isfinite(again.p_finish)


def test_chemistry_off_is_closed_by_a_sample(advisor: Advisor):
    d = advisor.on_sample(_state([(1568.0, {**S355, "Mn": 1.22})]))
    assert not d.finish and d.closing == "sample" and d.additions_kg


def test_a_dip_adds_nothing():
    import pytest

    from optimizer.stages.state import StageDecision

    with pytest.raises(ValueError, match="adds no material"):
        StageDecision(False, {"SiMn": 100.0}, 500.0, closing="dip")
    with pytest.raises(ValueError, match="closing must be one of"):
        StageDecision(False, closing="lab")  # type: ignore[arg-type]


def test_a_trim_of_a_main_stage_material_is_inside_the_data_unless_the_heat_total_is_not(advisor: Advisor):
    """History without trims of any material: a small Mn trim is still inside the data (within the main stages'
    amounts and the grade's totals). A trim that would take the heat's total beyond the most any heat of the
    grade had is not made: the decision says the window is out of reach inside the data (an engineer decides)."""
    import dataclasses

    main = advisor.support.max_stage_kg[False]
    no_trims = dataclasses.replace(advisor.support, max_stage_kg={False: main, True: dict.fromkeys(main, 0.0)})
    adv = dataclasses.replace(advisor, support=no_trims)
    low_mn = _state([(1592.0, {**S355, "Mn": 1.22})])
    d = adv.on_sample(low_mn)
    assert d.additions_kg and not any("extrapolated" in f for f in d.flags), d.flags
    gs = no_trims.grade("S355J2")
    tight = dataclasses.replace(gs, max_total_kg={m: low_mn.added_kg().get(m, 0.0) for m in gs.max_total_kg})
    capped = dataclasses.replace(adv, support=dataclasses.replace(no_trims, grades={**no_trims.grades,
                                                                                   "S355J2": tight}))
    d2 = capped.on_sample(low_mn)  # nothing inside the data brings Mn up: no trim, said so
    assert not d2.finish and not d2.additions_kg, d2.additions_kg
    assert any(f.startswith("Mn_wt_pct: predicted") and "even at the limits" in f for f in d2.flags), d2.flags
