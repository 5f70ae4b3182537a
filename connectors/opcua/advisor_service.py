"""The advisor where the heat is: an OPC UA client of the plant's DCS server that answers every arrival and sample.

On each post of the DCS (its sample counter changes, 0 = arrival) the service reads the heat's nodes, builds the
:class:`HeatState` (from the JSON node, or by adding the posted sample and stage to what it saw of the heat so
far), asks the controller in a worker thread within ``deadline_s``, checks the decision (hard limits, data
support, approval rule: :mod:`optimizer.advisor.release`), writes the answer (setpoints only for a released
decision; status, reason, flags and the decision id always), reads it back and logs one JSON line.

Statuses: ``written``, ``awaiting approval``, ``refused``, ``no answer``, ``today's practice``, ``bad input``.
A DCS disconnect ends the session: the heat in progress goes on with today's practice (logged so), and the
service reconnects with a fresh session, bounded attempts and doubling waits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from asyncua import Client, ua

from connectors.opcua.client import Credentials, connect
from connectors.opcua.heat_nodes import HeatNodeMap, Posted, ReadBackError, read_values, write_checked
from optimizer.advisor.release import release
from optimizer.config import PlantConfig
from optimizer.stages.state import HeatController, HeatState, StageDecision

log = logging.getLogger(__name__)

WRITTEN, AWAITING, REFUSED, NO_ANSWER, PRACTICE, BAD_INPUT = (
    "written", "awaiting approval", "refused", "no answer", "today's practice", "bad input")
CONNECTION_ERRORS = (TimeoutError, OSError, ConnectionError, ua.UaError)
PUBLISH_INTERVAL_MS = 50.0
# asked for explicitly (asyncua's default keep-alive count, 75 % of the session timeout, is more than servers
# grant, which only logs a warning): a keep-alive every 10 s; asyncua's lifetime (10,000 intervals, 500 s)
KEEPALIVE_COUNT = 200
LIFETIME_COUNT = 10_000
MAX_BACKOFF_S = 30.0
IDLE_CHECK_S = 0.5
KEEP_HEATS = 8


class DcsUnreachable(ConnectionError):
    """The DCS server could not be reached within the bounded reconnect attempts."""


class AdvisorTimeout(TimeoutError):
    """The controller gave no decision within the deadline."""


async def ask_within(decide: Callable[[HeatState], StageDecision], state: HeatState,
                     deadline_s: float) -> StageDecision:
    """``decide(state)`` in a daemon worker thread; AdvisorTimeout after ``deadline_s`` seconds (the thread is
    left to finish on its own: a hung solver cannot be killed, but it no longer holds the heat)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[StageDecision] = loop.create_future()

    def settle(result: StageDecision | None, exc: BaseException | None) -> None:
        if fut.done():
            return  # answered after the deadline: dropped
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result, exc = decide(state), None
        except Exception as e:  # noqa: BLE001  (any failure of the advisor becomes "no answer", never a crash)
            result, exc = None, e
        try:
            loop.call_soon_threadsafe(settle, result, exc)
        except RuntimeError:
            pass  # the service's loop is gone

    threading.Thread(target=work, name=f"advise-{state.heat_id}", daemon=True).start()
    try:
        return await asyncio.wait_for(fut, deadline_s)  # on timeout fut is cancelled: a late answer is dropped
    except TimeoutError:
        raise AdvisorTimeout(f"no decision within {deadline_s:g} s") from None


@dataclass
class DecisionLog:
    """One JSON line per decision or event, appended and flushed (``None``: log only to ``logging``)."""

    path: Path | None

    def write(self, record: Mapping[str, object]) -> None:
        line = json.dumps({"time": datetime.now(UTC).isoformat(), **record}, default=str)
        log.info("%s", line)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")


@dataclass
class _Heats:
    """What the service saw of recent heats: their states after each answered post."""

    states: dict[str, HeatState] = field(default_factory=dict)

    def advance(self, p: Posted) -> HeatState | str:
        """The state after post ``p``, or why it cannot be built (a sample the service did not see)."""
        if p.state is not None:
            return p.state
        if p.sample_no == 0:
            if p.sample is None:  # the parsed arrival always has its sample; said so for the type checker
                return f"the arrival post of heat {p.heat_id} has no sample"
            return HeatState(p.heat_id, p.grade, p.steel_weight_t, (p.sample,), (), p.oxygen_ppm, p.slag_feo_wt_pct,
                             decision_minutes_from_start=p.decision_minutes_from_start)
        prev = self.states.get(p.heat_id)
        if prev is None or prev.n_stages != p.sample_no - 1 or p.stage is None or p.sample is None:
            seen = "none" if prev is None else f"up to sample {prev.n_stages}"
            return (f"the service did not see every earlier sample of heat {p.heat_id} (seen: {seen}); it cannot "
                    f"build the heat's state for sample {p.sample_no}")
        return HeatState(prev.heat_id, prev.grade, prev.steel_weight_t, (*prev.samples, p.sample),
                         (*prev.stages, p.stage), prev.oxygen_ppm, prev.slag_feo_wt_pct, prev.planned_time,
                         p.decision_minutes_from_start)

    def keep(self, state: HeatState) -> None:
        self.states.pop(state.heat_id, None)
        self.states[state.heat_id] = state
        while len(self.states) > KEEP_HEATS:
            self.states.pop(next(iter(self.states)))


class _Notify:
    """Subscription handler: every post (counter write) and approval becomes a queue item."""

    def __init__(self, queue: asyncio.Queue[tuple[str, object]], approve_id: str | None) -> None:
        self.queue = queue
        self.approve = ua.NodeId.from_string(approve_id) if approve_id else None

    def datachange_notification(self, node, val, data) -> None:  # noqa: ANN001, ARG002
        self.queue.put_nowait(("approve" if node.nodeid == self.approve else "post", val))


@dataclass
class AdvisorService:
    """Answers the DCS's posts with the controller's decisions (see module doc)."""

    cfg: PlantConfig
    controller: HeatController
    endpoint: str
    creds: Credentials
    log_path: Path | None = None
    model_versions: Mapping[str, str] = field(default_factory=dict)
    deadline_s: float | None = None  # None: cfg.advisor.deadline_s
    attempts: int | None = None  # None: cfg.advisor.reconnect_attempts
    backoff_s: float | None = None  # None: cfg.advisor.reconnect_backoff_s
    answered: int = 0
    sessions: int = 0

    def __post_init__(self) -> None:
        self.nodes = HeatNodeMap.from_config(self.cfg)
        self.log = DecisionLog(self.log_path)
        self._heats = _Heats()
        self._done: set[str] = set()  # decision ids answered
        self._current: tuple[str, bool] | None = None  # (heat id, finished) of the latest answered post
        self._interrupted: set[str] = set()
        self._pending: tuple[str, HeatState, StageDecision] | None = None  # awaiting approval

    # ------------------------------------------------------------------ lifetime
    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; DcsUnreachable when the reconnect attempts are used up."""
        attempts = self.attempts or self.cfg.advisor.reconnect_attempts
        wait = self.backoff_s or self.cfg.advisor.reconnect_backoff_s
        failures = 0
        while not stop.is_set():
            try:
                client = await connect(self.endpoint, self.creds)
            except CONNECTION_ERRORS as exc:
                failures += 1
                log.warning("DCS %s: connect attempt %d/%d failed: %s", self.endpoint, failures, attempts, exc)
                if failures >= attempts:
                    self.log.write({"event": "gave up", "endpoint": self.endpoint, "attempts": failures,
                                    "reason": f"{type(exc).__name__}: {exc}"})
                    raise DcsUnreachable(f"{self.endpoint}: no session after {failures} attempts ({exc})") from exc
                await _sleep_or_stop(stop, min(wait * 2 ** (failures - 1), MAX_BACKOFF_S))
                continue
            failures = 0
            try:
                await self._session(client, stop)
            except CONNECTION_ERRORS as exc:
                self._on_disconnect(exc)
            finally:
                await _close(client)

    async def _session(self, client: Client, stop: asyncio.Event) -> None:
        lost = asyncio.Event()

        async def on_lost(exc: Exception) -> None:  # noqa: ARG001
            lost.set()

        client.connection_lost_callback = on_lost
        await self._check_nodes(client)
        self.sessions += 1
        self.log.write({"event": "connected", "endpoint": self.endpoint, "session": self.sessions})
        queue: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
        approve = self.nodes.advice.approve_decision_id
        params = ua.CreateSubscriptionParameters(RequestedPublishingInterval=PUBLISH_INTERVAL_MS,
                                                 RequestedLifetimeCount=LIFETIME_COUNT,
                                                 RequestedMaxKeepAliveCount=KEEPALIVE_COUNT, PublishingEnabled=True)
        sub = await client.create_subscription(params, _Notify(queue, approve))
        await sub.create_monitored_items([_every_write(self.nodes.heat.sample_counter, 1)])
        if approve:
            await sub.create_monitored_items([_every_write(approve, 2)])
        while not stop.is_set():
            if lost.is_set():
                raise ConnectionError("the DCS connection was lost")
            try:
                kind, value = await asyncio.wait_for(queue.get(), IDLE_CHECK_S)
            except TimeoutError:
                await client.check_connection()
                continue
            if kind == "approve":
                await self._approve(client, str(value or ""))
            else:
                await self._post(client)

    async def _check_nodes(self, client: Client) -> None:
        """Read every node of the map once: a missing node fails the start-up with its id."""
        ids = {**self.nodes.input_ids(), **self.nodes.output_ids()}
        nodes = [client.get_node(ua.NodeId.from_string(n)) for n in ids.values()]
        results = await client.read_attributes(nodes)
        bad = [f"{n} ({r.StatusCode.name})" for n, r in zip(ids.values(), results, strict=True)
               if r.StatusCode is not None and not r.StatusCode.is_good()]  # no status code: Good
        if bad:
            raise ValueError(f"DCS {self.endpoint}: node map nodes not readable: {bad[:10]}")

    def _on_disconnect(self, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        log.warning("DCS %s disconnected: %s", self.endpoint, reason)
        if self._current is not None and not self._current[1]:
            heat = self._current[0]
            self._interrupted.add(heat)
            self.log.write({"event": "disconnect", "heat_id": heat, "outcome": "went on with today's practice",
                            "reason": reason})
        else:
            self.log.write({"event": "disconnect", "heat_id": None, "outcome": "no heat in progress",
                            "reason": reason})
        self._pending = None

    # ------------------------------------------------------------------ one post
    async def _post(self, client: Client) -> None:
        values = await read_values(client, self.nodes.input_ids())
        t0 = time.perf_counter()
        try:
            posted = self.nodes.parse(values)
        except (ValueError, KeyError) as exc:
            key = f"{values.get('heat_id')}/{values.get('sample_counter')}"
            if key not in self._done:
                self._done.add(key)
                await self._answer(client, key, None, None, BAD_INPUT, f"cannot read the heat's nodes: {exc}",
                                   False, t0, {"raw": values})
            return
        if not posted.heat_id or posted.key in self._done:
            return  # nothing posted yet, or already answered (a repeated notification)
        self._done.add(posted.key)
        self._pending = None
        self._current = (posted.heat_id, False)  # in progress from its post on (also if the answer is cut off)
        state = self._heats.advance(posted)
        if posted.heat_id in self._interrupted:
            reason = ("the heat went on with today's practice after a DCS disconnect; the advisor does not take "
                      "it back mid-heat")
            await self._answer(client, posted.key, state if isinstance(state, HeatState) else None, None, PRACTICE,
                               reason, False, t0)
            return
        if isinstance(state, str):
            await self._answer(client, posted.key, None, None, PRACTICE, state + "; today's practice", False, t0)
            return
        self._heats.keep(state)
        decide = self.controller.on_arrival if state.n_stages == 0 else self.controller.on_sample
        t_ask = time.perf_counter()
        try:
            decision = await ask_within(decide, state, self.deadline_s or self.cfg.advisor.deadline_s)
        except AdvisorTimeout as exc:
            await self._answer(client, posted.key, state, None, NO_ANSWER, f"{exc}; the DCS uses its level-2 value",
                               False, t0)
            return
        except Exception as exc:  # noqa: BLE001  (the advisor's own failure, raised in its thread)
            await self._answer(client, posted.key, state, None, NO_ANSWER,
                               f"the advisor failed: {type(exc).__name__}: {exc}", False, t0)
            return
        verdict = release(decision, state, self.cfg)
        if verdict.verdict == "write":
            status, reason, write = WRITTEN, decision.reason or ("finish" if decision.finish else "next stage"), True
        else:
            status, write = (REFUSED if verdict.verdict == "refused" else AWAITING), False
            reason = "; ".join(verdict.reasons)
            if verdict.verdict == "awaiting approval":
                self._pending = (posted.key, state, decision)
        await self._answer(client, posted.key, state, decision, status, reason, write, t0,
                           {"decide_ms": round(1000 * (time.perf_counter() - t_ask), 1)})

    async def _approve(self, client: Client, decision_id: str) -> None:
        """An engineer released ``decision_id``: write it if it is still the heat's latest decision."""
        if self._pending is None or self._pending[0] != decision_id:
            if decision_id:
                self.log.write({"event": "approval ignored", "decision_id": decision_id,
                                "reason": "not the decision awaiting approval"})
            return
        key, state, decision = self._pending
        self._pending = None
        await self._answer(client, key, state, decision, WRITTEN, "approved by an engineer on the DCS", True,
                           time.perf_counter(), {"approved": True})

    async def _answer(self, client: Client, key: str, state: HeatState | None, decision: StageDecision | None,
                      status: str, reason: str, setpoints: bool, t0: float,
                      extra: Mapping[str, object] | None = None) -> None:
        targets = self.nodes.answer(key, status, reason, decision, setpoints)
        outcome = "not completed: the connection was lost or the service stopped during the write/read-back"
        try:
            await write_checked(client, targets)
            outcome = status
        except ReadBackError as exc:
            outcome = f"read-back failed: {exc}"
        except ua.UaStatusCodeError as exc:
            outcome = f"write refused by the DCS: {exc}"
        finally:  # logged also when the write is cut off (the exception then ends the session)
            heat_id, _, sample = key.rpartition("/")
            if decision is not None and decision.finish and status == WRITTEN and outcome == status:
                self._current = (heat_id, True)  # the DCS has the finish: no heat in progress
            self.answered += int(outcome == status)
            self.log.write({"decision_id": key, "heat_id": heat_id, "sample_no": sample, "status": status,
                            "reason": reason, "setpoints_written": setpoints and outcome == status,
                            "outcome": outcome, "inputs": None if state is None else state.to_dict(),
                            "decision": None if decision is None else decision.to_dict(),
                            "model_versions": dict(self.model_versions),
                            "answer_ms": round(1000 * (time.perf_counter() - t0), 1), **(extra or {})})


def _every_write(node_id: str, handle: int) -> ua.MonitoredItemCreateRequest:
    """A monitored item that reports every write of the node, also of an unchanged value (a counter written
    again with the same number is a new post)."""
    item = ua.MonitoredItemCreateRequest()
    item.ItemToMonitor = ua.ReadValueId(NodeId=ua.NodeId.from_string(node_id), AttributeId=ua.AttributeIds.Value)
    item.MonitoringMode = ua.MonitoringMode.Reporting
    params = ua.MonitoringParameters(ClientHandle=handle, SamplingInterval=0.0, QueueSize=16, DiscardOldest=True)
    params.Filter = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)
    item.RequestedParameters = params
    return item


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


async def _close(client: Client) -> None:
    try:
        await client.disconnect()
    except (*CONNECTION_ERRORS, RuntimeError):
        pass  # the DCS may already be gone
