"""A simulated plant DCS for the advisor service: an asyncua server with the node map's heat and advice nodes.

It plays the plant side of the in-heat exchange (tests, benchmark, demo): ``post`` writes a heat's arrival or
latest sample and stage (counter last), ``wait_answer`` polls until the advisor's decision id for that post
appears and returns the advice, ``approve`` releases a decision that awaits approval. ``DcsController`` lets
the plant simulator (``run_controlled_heat``, which calls its controller synchronously) follow the advice over
OPC UA from a worker thread: the DCS posts each state and follows written setpoints, else its fallback.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from asyncua import Server, ua

from connectors.opcua import address_space as space
from connectors.opcua.address_space import DcsValue, element_key, material_key
from connectors.opcua.heat_nodes import HeatNodeMap
from connectors.opcua.security import certificate_uri
from optimizer.config import PlantConfig
from optimizer.stages.state import Closing, HeatController, HeatState, StageDecision

POLL_S = 0.005
FOLDER = "DCS"  # the simulated DCS's folder below Objects (its variables: in.<value name>, out.<value name>)
INITIAL: dict[ua.VariantType, object] = {ua.VariantType.String: "", ua.VariantType.Int32: 0,
                                         ua.VariantType.Boolean: False, ua.VariantType.Double: 0.0}


class SimulatedDcs:
    """The plant's OPC UA server as the advisor service sees it (see module doc)."""

    def __init__(self, cfg: PlantConfig, endpoint: str, certificate: Path | None = None,
                 private_key: Path | None = None) -> None:
        self.cfg, self.endpoint = cfg, endpoint
        self.nodes = HeatNodeMap.from_config(cfg)
        self.certificate, self.private_key = certificate, private_key
        self.server: Server | None = None

    async def start(self) -> SimulatedDcs:
        srv = Server()
        await srv.init()
        srv.set_endpoint(self.endpoint)
        if self.certificate is not None:
            srv.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
            await srv.load_certificate(str(self.certificate))
            if (uri := certificate_uri(self.certificate)) is not None:
                await srv.set_application_uri(uri)
            await srv.load_private_key(str(self.private_key))
        else:
            srv.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        nodes = self._all_nodes()
        ns = max(ua.NodeId.from_string(v.node_id).NamespaceIndex for _, v, _ in nodes)
        while ns >= len(await srv.get_namespace_array()):
            await srv.register_namespace(f"urn:plant:dcs:{len(await srv.get_namespace_array())}")
        folder = await srv.nodes.objects.add_folder(space.string_node_id(FOLDER, ns), FOLDER)
        for browse_name, v, writable in nodes:
            var = await folder.add_variable(ua.NodeId.from_string(v.node_id), browse_name,
                                            ua.Variant(INITIAL[v.vtype], v.vtype))
            if writable:
                await var.set_writable(True)
        await srv.start()
        self.server = srv
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def __aenter__(self) -> SimulatedDcs:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _all_nodes(self) -> list[tuple[str, DcsValue, bool]]:
        """(browse name, value, writable by the advisor) of every node the simulated DCS has."""
        out = [(f"in.{v.name}", v, False) for v in self.nodes.inputs()]
        out += [(f"out.{v.name}", v, True) for v in self.nodes.outputs()]
        if (approve := self.nodes.approve()) is not None:
            out.append((f"out.{approve.name}", approve, True))
        return out

    async def _write(self, node_id: str, value: ua.Variant) -> None:
        assert self.server is not None, "start the simulated DCS first"
        await self.server.get_node(ua.NodeId.from_string(node_id)).write_value(value)

    async def _read(self, node_id: str) -> object:
        assert self.server is not None, "start the simulated DCS first"
        return await self.server.get_node(ua.NodeId.from_string(node_id)).read_value()

    async def post(self, state: HeatState) -> str:
        """Post ``state``'s latest sample (and the stage before it) as the DCS does, counter last; returns the
        decision id the answer will carry."""
        ids = self.nodes.input_ids()
        dbl = ua.VariantType.Double
        values: list[tuple[str, ua.Variant]] = []
        if "state_json" in ids:
            values.append((ids["state_json"], ua.Variant(json.dumps(state.to_dict()), ua.VariantType.String)))
        else:
            s, st = state.last, (state.stages[-1] if state.stages else None)
            values += [(ids["grade"], ua.Variant(state.grade, ua.VariantType.String)),
                       (ids["steel_weight_t"], ua.Variant(state.steel_weight_t, dbl)),
                       (ids["sample_minutes_from_start"], ua.Variant(s.minutes_from_start, dbl)),
                       (ids["sample_temperature_degC"], ua.Variant(s.temperature_degC, dbl)),
                       (ids["stage_arc_energy_kWh"], ua.Variant(st.arc_energy_kWh if st else 0.0, dbl))]
            for key, x in (("oxygen_ppm", state.oxygen_ppm), ("slag_feo_wt_pct", state.slag_feo_wt_pct),
                           ("stage_arc_time_min", st.arc_time_min if st else 0.0),
                           ("decision_minutes_from_start", state.decision_minutes_from_start)):
                if key in ids:
                    values.append((ids[key], ua.Variant(float(x), dbl)))
            values += [(ids[element_key(el)], ua.Variant(float(s.wt_pct.get(el, math.nan)), dbl))
                       for el in self.cfg.elements]  # all NaN: a temperature dip alone
            values += [(ids[material_key(m)], ua.Variant(float(st.additions_kg.get(m, 0.0)) if st else 0.0, dbl))
                       for m in self.cfg.material_names]
        values.append((ids["heat_id"], ua.Variant(state.heat_id, ua.VariantType.String)))
        values.append((ids["sample_counter"], ua.Variant(state.n_stages, ua.VariantType.Int32)))
        for nid, v in values:
            await self._write(nid, v)
        return f"{state.heat_id}/{state.n_stages}"

    async def advice(self) -> dict[str, object]:
        """The advice nodes as the DCS reads them: decision id, status, reason, flags, setpoints."""
        values = self.nodes.outputs()
        out: dict[str, object] = {v.name: await self._read(v.node_id) for v in values if v.material is None}
        out["additions_kg"] = {v.material: await self._read(v.node_id) for v in values if v.material is not None}
        return out

    async def wait_answer(self, decision_id: str, timeout_s: float = 120.0) -> dict[str, object]:
        """Poll until the advice carries ``decision_id`` (bounded by ``timeout_s``); the advice read consistently
        (decision id before and after agree)."""
        ids = self.nodes.output_ids()
        for _ in range(int(timeout_s / POLL_S) + 1):
            if await self._read(ids["decision_id"]) == decision_id:
                answer = await self.advice()
                if answer["decision_id"] == decision_id:
                    return answer
            await asyncio.sleep(POLL_S)
        raise TimeoutError(f"no answer {decision_id!r} from the advisor within {timeout_s:g} s")

    async def approve(self, decision_id: str) -> None:
        """An engineer releases a decision that awaits approval."""
        approve = self.nodes.approve()
        if approve is None:
            raise ValueError("the node map has no advice.approve_decision_id node")
        await self._write(approve.node_id, ua.Variant(decision_id, approve.vtype))


def decision_from_advice(answer: dict[str, object]) -> StageDecision | None:
    """The stage the DCS follows from a written answer; None when no setpoints were written for it."""
    if answer["status"] != "written":
        return None
    if answer["finish"]:
        return StageDecision(True, source="advisor over OPC UA")
    additions = answer["additions_kg"]
    assert isinstance(additions, dict), "advice() reads additions_kg as {material: kg}"
    adds = {m: kg for m, kg in ((m, _number(v)) for m, v in additions.items()) if kg > 0}
    closing: Closing = "dip" if answer.get("closing") == "dip" and not adds else "sample"
    return StageDecision(False, adds, _number(answer["arc_energy_kWh"]), hold_min=_number(answer["hold_min"]),
                         stir_min=_number(answer.get("stir_min", 0.0)), source="advisor over OPC UA",
                         closing=closing)


def _number(value: object) -> float:
    """A Double read from the DCS as a float (TypeError for anything else)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number from the DCS, got {value!r}")
    return float(value)


@dataclass
class DcsController:
    """A HeatController for the plant simulator that asks over OPC UA (call it from a worker thread; ``loop``
    runs the simulated DCS). Without written setpoints the DCS follows ``fallback`` (its level 2)."""

    dcs: SimulatedDcs
    loop: asyncio.AbstractEventLoop
    fallback: HeatController
    timeout_s: float = 120.0

    def _ask(self, state: HeatState, fallback: Callable[[HeatState], StageDecision]) -> StageDecision:
        async def round_trip() -> dict[str, object]:
            return await self.dcs.wait_answer(await self.dcs.post(state), self.timeout_s)

        t0 = time.perf_counter()
        answer = asyncio.run_coroutine_threadsafe(round_trip(), self.loop).result(self.timeout_s + 10)
        self.round_trip_s.append(time.perf_counter() - t0)
        self.answers.append(answer)
        return decision_from_advice(answer) or fallback(state)

    def __post_init__(self) -> None:
        self.answers: list[dict[str, object]] = []
        self.round_trip_s: list[float] = []  # post to readable answer, per post (seconds)

    def on_arrival(self, state: HeatState) -> StageDecision:
        return self._ask(state, self.fallback.on_arrival)

    def on_sample(self, state: HeatState) -> StageDecision:
        return self._ask(state, self.fallback.on_sample)

