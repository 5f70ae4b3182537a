"""The in-heat exchange with the DCS: which nodes hold the heat, which hold the advisor's answer.

Node ids come from the plant config (``[opcua.node_map.heat]``, ``[opcua.node_map.advice]``); ``HeatNodeMap``
expands the prefixes over the config's elements and materials, checks that no node id is used twice, and turns
node values into a :class:`Posted` heat (what the DCS posted with its latest sample counter) and a decision
into the values to write. Value names and types on the DCS server: ``address_space.DcsValue`` (Double for
numbers: kg, kWh, min, degC, wt%, t, ppm; Int32 for the counter, Boolean for ``finish``, String for ids,
status, reason, flags and the JSON state).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from asyncua import Client, ua

from connectors.opcua import address_space as space
from connectors.opcua.address_space import DcsValue, dcs_value, element_key, material_key
from optimizer.config import AdviceNodes, HeatNodes, PlantConfig
from optimizer.stages.state import HeatState, Sample, StageDecision, StageRecord


class NodeMapError(ValueError):
    """The plant config's node map cannot drive the advisor service (missing section, duplicate node id)."""


@dataclass(frozen=True)
class Posted:
    """What the DCS posted: the heat, its sample number (0 = arrival) and either the whole state (JSON node) or
    the context, the latest sample and the stage before it (discrete nodes; no stage at arrival)."""

    heat_id: str
    sample_no: int
    state: HeatState | None = None
    grade: str = ""
    steel_weight_t: float = math.nan
    oxygen_ppm: float = math.nan
    slag_feo_wt_pct: float = math.nan
    sample: Sample | None = None
    stage: StageRecord | None = None
    decision_minutes_from_start: float = math.nan

    @property
    def key(self) -> str:
        """The decision id this post is answered under: ``<heat_id>/<sample_no>``."""
        return f"{self.heat_id}/{self.sample_no}"


@dataclass(frozen=True)
class HeatNodeMap:
    """Resolved node ids of the in-heat exchange (see module doc)."""

    heat: HeatNodes
    advice: AdviceNodes
    elements: tuple[str, ...]
    materials: tuple[str, ...]

    @classmethod
    def from_config(cls, cfg: PlantConfig) -> HeatNodeMap:
        """The node map of ``cfg``; NodeMapError says what is missing or used twice."""
        nm = cfg.opcua.node_map
        if nm.heat is None or nm.advice is None:
            missing = [k for k, table in (("heat", nm.heat), ("advice", nm.advice)) if table is None]
            raise NodeMapError(f"[opcua.node_map] has no {' / '.join(f'[opcua.node_map.{k}]' for k in missing)} "
                               "table: the advisor service needs both (see the shipped plant.toml)")
        out = cls(nm.heat, nm.advice, tuple(cfg.elements), tuple(cfg.material_names))
        approve = out.approve()
        ids = [v.node_id for v in (*out.inputs(), *out.outputs(), *([approve] if approve else []))]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise NodeMapError(f"[opcua.node_map]: node ids used for more than one value: {dup}")
        return out

    def inputs(self) -> list[DcsValue]:
        """Everything read on a post."""
        h = self.heat
        out = [dcs_value("heat_id", h.heat_id), dcs_value("sample_counter", h.sample_counter)]
        if h.state_json is not None:
            return [*out, dcs_value("state_json", h.state_json)]
        for key in ("grade", "steel_weight_t", "oxygen_ppm", "slag_feo_wt_pct", "sample_minutes_from_start",
                    "sample_temperature_degC", "stage_arc_energy_kWh", "stage_arc_time_min",
                    "decision_minutes_from_start"):
            if (node_id := getattr(h, key)) is not None:
                out.append(dcs_value(key, node_id))
        wt_prefix, add_prefix = h.sample_wt_pct_prefix or "", h.stage_additions_kg_prefix or ""  # set: validated
        out += [space.element_value(wt_prefix, el) for el in self.elements]
        out += [space.material_value(add_prefix, m) for m in self.materials]
        return out

    def input_ids(self) -> dict[str, str]:
        """Value name -> node id of everything read on a post."""
        return {v.name: v.node_id for v in self.inputs()}

    def _chemistry(self, values: dict[str, object]) -> dict[str, object]:
        """The posted chemistry; every element NaN = a temperature dip alone (no chemistry sample)."""
        wt = {el: values[element_key(el)] for el in self.elements}
        missing = [el for el, v in wt.items() if isinstance(v, float) and math.isnan(v)]
        if len(missing) == len(wt):
            return {}
        if missing:
            ids = self.input_ids()
            raise ValueError(f"chemistry nodes {', '.join(ids[element_key(el)] for el in missing)} "
                             "are NaN while others hold values: post all elements, or all NaN for a dip alone")
        return wt

    def outputs(self) -> list[DcsValue]:
        """Everything the service writes, the decision id last (a DCS that sees it sees the rest)."""
        a = self.advice
        out = [space.material_value(a.additions_kg_prefix, m) for m in self.materials]
        for key in ("arc_energy_kWh", "hold_min", "finish", "stir_min", "closing", "status", "reason", "flags",
                    "decision_id"):
            if (node_id := getattr(a, key)) is not None:
                out.append(dcs_value(key, node_id))
        return out

    def output_ids(self) -> dict[str, str]:
        """Value name -> node id of everything the service writes (decision id last)."""
        return {v.name: v.node_id for v in self.outputs()}

    def approve(self) -> DcsValue | None:
        """The node an engineer writes a decision id to (None: the node map has none)."""
        nid = self.advice.approve_decision_id
        return dcs_value("approve", nid) if nid else None

    def parse(self, values: dict[str, object]) -> Posted:
        """A post from node values (keys of :meth:`input_ids`); ValueError names the node and why."""
        heat_id = str(values["heat_id"] or "").strip()
        counter = values["sample_counter"]
        if isinstance(counter, bool) or not isinstance(counter, int | float) or counter < 0 or counter != int(counter):
            raise ValueError(f"{self.heat.sample_counter}: the sample counter must be a whole number >= 0, "
                             f"got {counter!r}")
        k = int(counter)
        if "state_json" in values:
            raw = json.loads(str(values["state_json"] or "{}"))
            state = HeatState.from_dict(raw)
            if state.heat_id != heat_id or state.n_stages != k:
                raise ValueError(f"{self.heat.state_json}: the state is heat {state.heat_id} after "
                                 f"{state.n_stages} samples, but the heat id / counter nodes say {heat_id} / {k}")
            return Posted(heat_id, k, state=state)
        raw_sample = {"sample_no": k, "minutes_from_start": values["sample_minutes_from_start"],
                      "temperature_degC": values["sample_temperature_degC"],
                      "wt_pct": self._chemistry(values)}
        raw_stage = {"additions_kg": {m: v for m in self.materials if (v := values[material_key(m)])},
                     "arc_energy_kWh": values["stage_arc_energy_kWh"]}
        if "stage_arc_time_min" in values:
            raw_stage["arc_time_min"] = values["stage_arc_time_min"]
        context = {"heat_id": heat_id, "grade": values["grade"], "steel_weight_t": values["steel_weight_t"],
                   "oxygen_ppm": _nan_to_none(values.get("oxygen_ppm")),
                   "slag_feo_wt_pct": _nan_to_none(values.get("slag_feo_wt_pct")),
                   "decision_minutes_from_start": _nan_to_none(values.get("decision_minutes_from_start")),
                   "samples": [raw_sample], "stages": []}
        one = HeatState.from_dict(context)  # validates context and sample (ranges, types) in one place
        stage = None
        if k > 0:
            stage = HeatState.from_dict({**context, "samples": [raw_sample, raw_sample],
                                         "stages": [raw_stage]}).stages[0]
        return Posted(heat_id, k, grade=one.grade, steel_weight_t=one.steel_weight_t, oxygen_ppm=one.oxygen_ppm,
                      slag_feo_wt_pct=one.slag_feo_wt_pct, sample=one.samples[0], stage=stage,
                      decision_minutes_from_start=one.decision_minutes_from_start)

    def answer(self, decision_id: str, status: str, reason: str, decision: StageDecision | None,
               setpoints: bool) -> list[tuple[str, ua.Variant]]:
        """(node id, value) to write: the setpoints only when ``setpoints``; status, reason, flags and the
        decision id always (decision id last)."""
        ids = self.output_ids()
        out: list[tuple[str, ua.Variant]] = []
        if setpoints and decision is not None:
            d = decision
            for m in self.materials:
                kg = 0.0 if d.finish else float(d.additions_kg.get(m, 0.0))
                out.append((ids[material_key(m)], ua.Variant(kg, ua.VariantType.Double)))
            out.append((ids["arc_energy_kWh"], ua.Variant(0.0 if d.finish else float(d.arc_energy_kWh),
                                                          ua.VariantType.Double)))
            out.append((ids["hold_min"], ua.Variant(0.0 if d.finish else float(d.hold_min), ua.VariantType.Double)))
            if "stir_min" in ids:
                out.append((ids["stir_min"], ua.Variant(0.0 if d.finish else float(d.stir_min),
                                                        ua.VariantType.Double)))
            if "closing" in ids:
                out.append((ids["closing"], ua.Variant("" if d.finish else d.closing, ua.VariantType.String)))
            out.append((ids["finish"], ua.Variant(bool(d.finish), ua.VariantType.Boolean)))
        out.append((ids["status"], ua.Variant(status, ua.VariantType.String)))
        out.append((ids["reason"], ua.Variant(reason[:2000], ua.VariantType.String)))
        if "flags" in ids:
            flags = "; ".join(decision.flags) if decision is not None else ""
            out.append((ids["flags"], ua.Variant(flags[:2000], ua.VariantType.String)))
        out.append((ids["decision_id"], ua.Variant(decision_id, ua.VariantType.String)))
        return out


def _nan_to_none(v: object) -> object:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


async def read_values(client: Client, ids: dict[str, str]) -> dict[str, object]:
    """Read every node of ``ids`` in one call: value name -> value."""
    nodes = [client.get_node(ua.NodeId.from_string(n)) for n in ids.values()]
    return dict(zip(ids, await client.read_values(nodes), strict=True))


class ReadBackError(RuntimeError):
    """A value read back from the DCS differs from the value written."""


async def write_checked(client: Client, targets: list[tuple[str, ua.Variant]]) -> None:
    """Write ``targets`` in one call, read them back, and raise ReadBackError naming any that differ."""
    nodes = [client.get_node(ua.NodeId.from_string(n)) for n, _ in targets]
    await client.write_values(nodes, [v for _, v in targets])
    back = await client.read_values(nodes)
    wrong = [(n, v.Value, b) for (n, v), b in zip(targets, back, strict=True) if b != v.Value]
    if wrong:
        raise ReadBackError(f"read-back differs for {len(wrong)} nodes, e.g. {wrong[:3]}")
