"""The in-heat node map: resolved node ids, posts parsed from node values (both forms), answers to write."""

from __future__ import annotations

import json
import math

import pytest
from asyncua import ua

from connectors.opcua.address_space import element_key, material_key
from connectors.opcua.heat_nodes import HeatNodeMap, NodeMapError
from optimizer.config import default_config_path, parse_config, read_toml
from optimizer.stages.state import HeatState, Sample, StageDecision, StageRecord


def raw_cfg() -> dict:
    return read_toml(default_config_path())


def values_for(nm: HeatNodeMap, state: HeatState) -> dict[str, object]:
    s, st = state.last, state.stages[-1]
    out: dict[str, object] = {"heat_id": state.heat_id, "sample_counter": state.n_stages, "grade": state.grade,
                              "steel_weight_t": state.steel_weight_t, "oxygen_ppm": math.nan,
                              "sample_minutes_from_start": s.minutes_from_start,
                              "sample_temperature_degC": s.temperature_degC, "stage_arc_energy_kWh": st.arc_energy_kWh,
                              "stage_arc_time_min": st.arc_time_min}
    out.update({element_key(el): s.wt_pct.get(el, 0.0) for el in nm.elements})
    out.update({material_key(m): st.additions_kg.get(m, 0.0) for m in nm.materials})
    return out


STATE = HeatState("H7", "S355J2", 101.0, (Sample(0, 0.0, 1565.0, {"Mn": 0.9}), Sample(1, 18.0, 1588.0, {"Mn": 1.4})),
                  (StageRecord({"SiMn": 800.0, "Lime": 400.0}, 2500.0, 9.5),))


def test_discrete_nodes_give_the_posted_sample_and_stage(cfg):
    nm = HeatNodeMap.from_config(cfg)
    assert nm.input_ids()[element_key("Mn")] == "ns=2;s=LF1.Heat.Sample.Mn"
    assert list(nm.output_ids())[-1] == "decision_id"  # written last
    p = nm.parse(values_for(nm, STATE))
    assert p.key == "H7/1" and p.grade == "S355J2" and math.isnan(p.oxygen_ppm)
    assert p.sample.temperature_degC == 1588.0 and p.sample.wt_pct["Mn"] == 1.4
    assert dict(p.stage.additions_kg) == {"SiMn": 800.0, "Lime": 400.0} and p.stage.arc_time_min == 9.5
    with pytest.raises(ValueError, match="sample counter"):
        nm.parse({**values_for(nm, STATE), "sample_counter": -1})
    with pytest.raises(ValueError, match="steel_weight_t"):
        nm.parse({**values_for(nm, STATE), "steel_weight_t": 100000.0})  # kg given for t


def test_json_state_node():
    raw = raw_cfg()
    raw["opcua"]["node_map"]["heat"] = {"heat_id": "ns=2;s=H.Id", "sample_counter": "ns=2;s=H.N",
                                        "state_json": "ns=2;s=H.State"}
    nm = HeatNodeMap.from_config(parse_config(raw))
    assert set(nm.input_ids()) == {"heat_id", "sample_counter", "state_json"}
    text = json.dumps(STATE.to_dict())
    assert nm.parse({"heat_id": "H7", "sample_counter": 1, "state_json": text}).state == STATE
    with pytest.raises(ValueError, match="counter nodes say H7 / 2"):
        nm.parse({"heat_id": "H7", "sample_counter": 2, "state_json": text})


def test_node_map_needs_both_tables_and_distinct_ids():
    raw = raw_cfg()
    del raw["opcua"]["node_map"]["advice"]
    with pytest.raises(NodeMapError, match=r"opcua.node_map.advice"):
        HeatNodeMap.from_config(parse_config(raw))
    raw = raw_cfg()
    raw["opcua"]["node_map"]["advice"]["status"] = raw["opcua"]["node_map"]["advice"]["reason"]
    with pytest.raises(NodeMapError, match="more than one value"):
        HeatNodeMap.from_config(parse_config(raw))


def test_answer_writes_setpoints_only_when_released(cfg):
    nm = HeatNodeMap.from_config(cfg)
    d = StageDecision(False, {"SiMn": 120.0}, 800.0, hold_min=2.0, flags=("a flag",))
    held = dict(nm.answer("H7/1", "awaiting approval", "why", d, setpoints=False))
    assert set(held) == {nm.advice.status, nm.advice.reason, nm.advice.flags, nm.advice.decision_id}
    written = nm.answer("H7/1", "written", "ok", d, setpoints=True)
    values = {n: v.Value for n, v in written}
    add = nm.advice.additions_kg_prefix
    assert values[f"{add}SiMn"] == 120.0 and values[f"{add}Lime"] == 0
    assert values[nm.advice.finish] is False and values[nm.advice.flags] == "a flag"
    assert written[-1] == (nm.advice.decision_id, ua.Variant("H7/1", ua.VariantType.String))


def test_a_dip_alone_is_posted_as_all_chemistry_nan_and_answered_with_its_closing(cfg):
    nm = HeatNodeMap.from_config(cfg)
    dip = {**values_for(nm, STATE), **{element_key(el): math.nan for el in nm.elements}}
    p = nm.parse(dip)
    assert p.sample.is_dip and p.sample.temperature_degC == 1588.0
    partly = {**values_for(nm, STATE), element_key("Mn"): math.nan}
    with pytest.raises(ValueError, match=r"LF1\.Heat\.Sample\.Mn are NaN while others hold values"):
        nm.parse(partly)
    values = {n: v.Value for n, v in nm.answer("H7/1", "written", "ok", StageDecision(False, {}, 600.0,
                                                                                        closing="dip"), True)}
    assert values[nm.advice.closing] == "dip"


def test_the_decision_time_node_is_optional_and_checked():
    """A DCS may post when the lab result arrived; NaN (or no node) means at the sample's time."""
    raw = raw_cfg()
    raw["opcua"]["node_map"]["heat"]["decision_minutes_from_start"] = "ns=2;s=LF1.Heat.DecisionMinutes"
    nm = HeatNodeMap.from_config(parse_config(raw))
    assert nm.input_ids()["decision_minutes_from_start"] == "ns=2;s=LF1.Heat.DecisionMinutes"
    assert nm.parse({**values_for(nm, STATE), "decision_minutes_from_start": 23.5}).decision_minutes_from_start \
        == 23.5
    assert math.isnan(nm.parse({**values_for(nm, STATE), "decision_minutes_from_start": math.nan})
                      .decision_minutes_from_start)
    with pytest.raises(ValueError, match="decision_minutes_from_start 12.0 is before the last sample"):
        nm.parse({**values_for(nm, STATE), "decision_minutes_from_start": 12.0})
    assert "decision_minutes_from_start" not in HeatNodeMap.from_config(parse_config(raw_cfg())).input_ids()
