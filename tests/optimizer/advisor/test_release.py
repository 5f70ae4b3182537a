"""The release rule of an advisor decision: hard limits per heat, data support, engineers' automatic bounds."""

from __future__ import annotations

import pytest

from optimizer.advisor.release import approval_problems, release, stage_violations
from optimizer.config import AutoApprove, default_config_path, parse_config, read_toml
from optimizer.errors import ConfigError
from optimizer.stages.state import HeatState, Sample, StageDecision, StageRecord


def state(stages: int = 1, simn_kg: float = 1000.0, kwh: float = 3000.0) -> HeatState:
    samples = tuple(Sample(k, 10.0 * k, 1580.0, {"Mn": 1.2}) for k in range(stages + 1))
    done = tuple(StageRecord({"SiMn": simn_kg}, kwh) for _ in range(stages))
    return HeatState("H1", "S355J2", 100.0, samples, done)


def bounds(**kw) -> AutoApprove:
    return AutoApprove(**{"max_kg": {"SiMn": 500.0}, "max_arc_energy_kWh_per_stage": 2000.0, "max_hold_min": 5.0,
                          **kw})


def test_hard_limits_count_what_the_heat_already_had(cfg):
    top = cfg.material("SiMn").max_kg_per_heat  # 3000 kg
    ok = StageDecision(False, {"SiMn": top - 1000.0}, 1000.0)
    assert stage_violations(ok, state(simn_kg=1000.0), cfg) == []
    over = StageDecision(False, {"SiMn": top - 999.0}, 1000.0)
    [v] = stage_violations(over, state(simn_kg=1000.0), cfg)
    assert v.field == "additions_kg.SiMn" and "max per heat" in v.reason
    energy = StageDecision(False, {}, cfg.safety.max_arc_energy_kWh - 2999.0)
    [v] = stage_violations(energy, state(kwh=3000.0), cfg)
    assert v.field == "arc_energy_kWh" and "max_arc_energy_kWh" in v.reason
    fields = {v.field for v in stage_violations(StageDecision(False, {"Unobtainium": 1.0, "Lime": -5.0}, 0.0,
                                                                  hold_min=90.0), state(), cfg)}
    assert fields == {"additions_kg.Unobtainium", "additions_kg.Lime", "hold_min"}
    n = cfg.safety.max_samples_per_heat
    [v] = stage_violations(StageDecision(False, {}, 0.0), state(stages=n, simn_kg=0.0, kwh=100.0), cfg)
    assert v.field == "n_samples"
    assert stage_violations(StageDecision(True), state(stages=n), cfg) == []  # finishing is always safe


def test_release_order_unsafe_then_extrapolated_then_approval(cfg):
    auto = cfg.model_copy(update={"advisor": cfg.advisor.model_copy(update={"auto_approve": bounds()})})
    inside = StageDecision(False, {"SiMn": 400.0}, 1500.0, hold_min=2.0)
    assert release(inside, state(), auto).verdict == "write"
    assert release(inside, state(), cfg).verdict == "awaiting approval"  # shipped: no automatic bounds
    r = release(StageDecision(False, {"SiMn": 400.0}, 1500.0, flags=("SiMn 400 kg: extrapolated",)), state(), auto)
    assert r.verdict == "refused" and "outside the history" in r.reasons[0]
    r = release(StageDecision(False, {"SiMn": 2500.0}, 1500.0), state(simn_kg=1000.0), auto)
    assert r.verdict == "refused" and r.reasons[0].startswith("unsafe: additions_kg.SiMn")


def test_approval_bounds():
    b = bounds()
    assert approval_problems(StageDecision(False, {"SiMn": 500.0}, 2000.0, hold_min=5.0), b) == []
    probs = approval_problems(StageDecision(False, {"SiMn": 501.0, "Lime": 10.0}, 2001.0, hold_min=6.0), b)
    assert len(probs) == 4 and any("Lime 10 kg above the automatic bound 0 kg" in p for p in probs)
    flagged = StageDecision(True, flags=("no advice beyond the data",))
    assert approval_problems(flagged, b) and approval_problems(flagged, bounds(allow_flags=True)) == []


def test_bounds_within_plant_limits_pass_whatever_the_hard_limits_pass(cfg):
    b = AutoApprove.within_plant_limits(cfg)
    top = {m.name: m.max_kg_per_heat for m in cfg.materials}
    at_limits = StageDecision(False, top, cfg.safety.max_arc_energy_kWh, hold_min=60.0, flags=("a flag",))
    assert stage_violations(at_limits, HeatState("H1", "S355J2", 100.0, state().samples[:1], ()), cfg) == []
    assert approval_problems(at_limits, b) == []
    assert AutoApprove.within_plant_limits(cfg, max_hold_min=90.0).max_hold_min == 60.0  # never above the hard limit
    strict = AutoApprove.within_plant_limits(cfg, max_hold_min=30.0, allow_flags=False)
    assert len(approval_problems(at_limits, strict)) == 2


def test_node_map_and_advisor_config_are_validated():
    raw = read_toml(default_config_path())
    assert parse_config(raw).opcua.node_map.heat is not None
    no_sample = {**raw, "opcua": {**raw["opcua"], "node_map": {**raw["opcua"]["node_map"], "heat": {
        k: v for k, v in raw["opcua"]["node_map"]["heat"].items() if k != "sample_temperature_degC"}}}}
    with pytest.raises(ConfigError, match="sample_temperature_degC"):
        parse_config(no_sample)
    json_form = {**raw, "opcua": {**raw["opcua"], "node_map": {**raw["opcua"]["node_map"], "heat": {
        "heat_id": "ns=2;s=H.Id", "sample_counter": "ns=2;s=H.N", "state_json": "ns=2;s=H.State"}}}}
    assert parse_config(json_form).opcua.node_map.heat.state_json == "ns=2;s=H.State"
    bad_id = {**raw, "opcua": {**raw["opcua"], "node_map": {**raw["opcua"]["node_map"], "heat": {
        "heat_id": "LF1.Heat.Id", "sample_counter": "ns=2;s=H.N", "state_json": "ns=2;s=H.State"}}}}
    with pytest.raises(ConfigError, match="heat_id"):
        parse_config(bad_id)
    unknown = {**raw, "advisor": {"auto_approve": {"max_kg": {"Gold": 1.0}}}}
    with pytest.raises(ConfigError, match="Gold"):
        parse_config(unknown)
    old = {**raw, "opcua": {**raw["opcua"], "node_map": {"version": 1, "current_heat_id": "ns=2;s=X"}}}
    assert parse_config(old).opcua.node_map.heat is None  # the old keys alone still load
