"""The advisor service against a real simulated DCS (asyncua server on 127.0.0.1) as its OPC UA client.

The DCS side posts arrivals and samples and reads the advice; the service builds the heat state, asks the
advisor (trained on a small simulated history) in a worker thread, checks and writes. No test depends on
timing: deadlines are generous, and "no answer" comes from a hang far longer than the deadline.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import subprocess
import sys
import threading

import pandas as pd
import pytest

from connectors.opcua import Credentials
from connectors.opcua.advisor_service import AdvisorService
from connectors.opcua.dcs_sim import DcsController, SimulatedDcs
from connectors.report.advice import read_decision_log
from optimizer.advisor import Advisor, advisor_from_history
from optimizer.config import AutoApprove, PlantConfig
from optimizer.simulator.heats import EVALUATION_STREAM, draw_heats, heat_rng
from optimizer.simulator.history import simulate_history
from optimizer.simulator.plant import PlanFollower, run_controlled_heat
from optimizer.simulator.policies import Level2Policy
from optimizer.stages.state import HeatController, HeatState, StageDecision
from tests.connectors.opcua.conftest import setup_noise
from tests.ports import free_port

pytestmark = pytest.mark.slow  # a learned advisor served over real OPC UA servers, heat by heat

ANSWER_S = 120.0  # generous: a DCS waits this long for an answer in the tests


def with_auto_approve(cfg: PlantConfig) -> PlantConfig:
    """Bounds at the hard limits: every safe, unextrapolated decision is written automatically."""
    bounds = AutoApprove.within_plant_limits(cfg)
    return cfg.model_copy(update={"advisor": cfg.advisor.model_copy(update={"auto_approve": bounds})})


@pytest.fixture(scope="module")
def history(cfg) -> tuple[pd.DataFrame, pd.DataFrame]:
    """300 simulated heats and their samples: what `dosing simulate --heats 300 --seed 5` writes."""
    return simulate_history(cfg, 300, 5)


@pytest.fixture(scope="module")
def advisor(cfg, history) -> Advisor:
    return advisor_from_history(cfg, *history)


class AtLeastTwoSamples:
    """Asks ``inner``, but a heat is sampled at least twice (a finish after sample 1 becomes a short stir)."""

    def __init__(self, inner: HeatController) -> None:
        self.inner = inner

    def on_arrival(self, state: HeatState) -> StageDecision:
        return self.inner.on_arrival(state)

    def on_sample(self, state: HeatState) -> StageDecision:
        d = self.inner.on_sample(state)
        return StageDecision(False, stir_min=3.0, source="test") if d.finish and state.n_stages < 2 else d


class Recorder(AtLeastTwoSamples):
    """Records every state the plant simulator shows its controller."""

    def __init__(self, inner: HeatController) -> None:
        super().__init__(inner)
        self.states: list[HeatState] = []

    def on_arrival(self, state: HeatState) -> StageDecision:
        self.states.append(state)
        return super().on_arrival(state)

    def on_sample(self, state: HeatState) -> StageDecision:
        self.states.append(state)
        return super().on_sample(state)


@pytest.fixture(scope="module")
def heat_states(cfg, advisor) -> list[list[HeatState]]:
    """Realistic states of 3 simulated heats (arrival, sample 1, sample 2, ...), each heat's list in order."""
    out = []
    for k, heat in enumerate(draw_heats(cfg, 3, 21, EVALUATION_STREAM)):
        rec = Recorder(advisor)
        run_controlled_heat(cfg, heat, rec, heat_rng(21, EVALUATION_STREAM + 100, k))
        out.append(rec.states)
    return out


async def start(service: AdvisorService) -> tuple[asyncio.Event, asyncio.Task]:
    stop = asyncio.Event()
    return stop, asyncio.create_task(service.run(stop))


async def finish(stop: asyncio.Event, task: asyncio.Task) -> None:
    stop.set()
    await asyncio.wait_for(task, 60)


def log_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_heat_round_trip_through_the_simulated_plant(cfg, advisor, plant_pki, tmp_path, caplog):
    """A heat runs in the plant simulator; the DCS posts its arrival and every sample over a secured channel and
    the heat follows the setpoints it reads back (else its own level 2). Written setpoints equal the logged
    decision. The plant (``lots``) has a lab slower than its sample: the DCS posts when each result arrived on
    the optional decision-time node, and the service decides with it."""
    caplog.set_level("WARNING")
    auto = with_auto_approve(cfg)
    heat_nodes = auto.opcua.node_map.heat.model_copy(
        update={"decision_minutes_from_start": "ns=2;s=LF1.Heat.DecisionMinutes"})
    cfg_auto = auto.model_copy(update={"opcua": auto.opcua.model_copy(update={
        "node_map": auto.opcua.node_map.model_copy(update={"heat": heat_nodes})})})
    log_file = tmp_path / "decisions.jsonl"
    pki = plant_pki("dosing-advisor")  # the name `dosing advise-serve` connects with

    async def scenario():
        ep = f"opc.tcp://127.0.0.1:{free_port()}/plant/"
        async with SimulatedDcs(cfg_auto, ep, *pki.server) as dcs:
            service = AdvisorService(cfg_auto, advisor, ep, pki.credentials(), log_file,
                                     model_versions={"stage_models": "test"}, deadline_s=ANSWER_S)
            stop, task = await start(service)
            heat = draw_heats(cfg, 1, 33, EVALUATION_STREAM, physics="lots")[0]
            practice = PlanFollower(cfg, Level2Policy(cfg).decide(heat.context))  # the DCS's own level 2
            ctl = DcsController(dcs, asyncio.get_running_loop(), fallback=practice, timeout_s=ANSWER_S)
            record = await asyncio.to_thread(run_controlled_heat, cfg, heat, AtLeastTwoSamples(ctl),
                                             heat_rng(33, EVALUATION_STREAM + 100, 0))
            await finish(stop, task)
            return heat, ctl.answers, record

    heat, answers, record = asyncio.run(scenario())
    assert setup_noise(caplog) == []  # the DCS announces its certificate's URI; keep-alive asked within limits
    hid = heat.context.heat_id
    ids = [a["decision_id"] for a in answers]
    assert ids[:3] == [f"{hid}/0", f"{hid}/1", f"{hid}/2"]  # the arrival and two samples, answered in turn
    logged = {r["decision_id"]: r for r in log_lines(log_file) if "decision_id" in r}
    assert set(ids) <= set(logged)
    for a in answers:
        r = logged[a["decision_id"]]
        assert a["status"] == r["status"] and a["reason"] == r["reason"][:2000]
        assert r["model_versions"] == {"stage_models": "test"} and r["inputs"]["heat_id"] == hid
        if a["status"] == "written":
            d = r["decision"]
            assert a["finish"] == d["finish"]
            if not d["finish"]:
                assert a["arc_energy_kWh"] == pytest.approx(d["arc_energy_kWh"])
                assert {m: kg for m, kg in a["additions_kg"].items() if kg > 0} == pytest.approx(d["additions_kg"])
        else:  # nothing written for it: the setpoint nodes still hold an earlier answer's values
            assert a["status"] in ("refused", "awaiting approval") and a["reason"]
    first = answers[0]
    assert first["status"] == "written"  # the arrival decision was released and the heat followed it
    main_stage = record.stages[0]
    assert main_stage.arc_energy_kWh == pytest.approx(first["arc_energy_kWh"])
    assert dict(main_stage.additions_kg) == pytest.approx({m: kg for m, kg in first["additions_kg"].items()
                                                           if kg > 0})
    # the arrival's logged inputs are exactly what the plant measured
    assert logged[f"{hid}/0"]["inputs"]["samples"][0]["temperature_degC"] == record.samples[0]["temperature_degC"]
    # each sample's decision came when its (slow) result did: the posted decision time, after the sample
    for k in (1, 2):
        state = logged[f"{hid}/{k}"]["inputs"]
        assert state["decision_minutes_from_start"] > record.samples[k]["minutes_from_start"] + 0.1, state


def test_disconnect_in_the_middle(cfg, advisor, heat_states, tmp_path):
    """The DCS server goes away mid-heat and comes back on the same port: the service reconnects within its
    bounded retries, reports the interrupted heat as gone on with today's practice and advises the next heat."""
    cfg_auto = with_auto_approve(cfg)
    log_file = tmp_path / "decisions.jsonl"
    heat_a, heat_b = heat_states[0], heat_states[1]

    async def scenario():
        ep = f"opc.tcp://127.0.0.1:{free_port()}/plant/"
        dcs = await SimulatedDcs(cfg_auto, ep).start()  # insecure demo channel
        service = AdvisorService(cfg_auto, advisor, ep, Credentials(), log_file, deadline_s=ANSWER_S,
                                 attempts=30, backoff_s=0.2)
        stop, task = await start(service)
        a0 = await dcs.wait_answer(await dcs.post(heat_a[0]), ANSWER_S)
        await dcs.stop()  # the DCS goes away in the middle of heat A ...
        dcs2 = await SimulatedDcs(cfg_auto, ep).start()  # ... and comes back (fresh server, same port)
        a1 = await dcs2.wait_answer(await dcs2.post(heat_a[1]), ANSWER_S)
        b0 = await dcs2.wait_answer(await dcs2.post(heat_b[0]), ANSWER_S)
        sessions = service.sessions
        await finish(stop, task)
        await dcs2.stop()
        return a0, a1, b0, sessions

    a0, a1, b0, sessions = asyncio.run(scenario())
    assert a0["status"] in ("written", "refused", "awaiting approval")
    assert sessions == 2
    assert a1["status"] == "today's practice" and "disconnect" in a1["reason"]
    assert b0["decision_id"] == f"{heat_b[0].heat_id}/0" and b0["status"] in ("written", "refused")
    events = [r for r in log_lines(log_file) if r.get("event") == "disconnect"]
    assert events and events[0]["heat_id"] == heat_a[0].heat_id
    assert events[0]["outcome"] == "went on with today's practice"
    day = read_decision_log(log_file)  # what `dosing advice-report` shows of it
    assert not day.bad_lines and "disconnect" in day.heats[heat_a[0].heat_id].practice
    assert day.heats[heat_b[0].heat_id].answers[b0["status"]] == 1


class Flagging:
    """The advisor, with every non-finishing decision flagged the way the advisor flags an extrapolated trim."""

    def __init__(self, inner: Advisor) -> None:
        self.inner = inner

    def _flag(self, d: StageDecision) -> StageDecision:
        return d if d.finish else dataclasses.replace(
            d, flags=(*d.flags, "SiMn trim beyond what the history's trims used: extrapolated"))

    def on_arrival(self, state: HeatState) -> StageDecision:
        return self._flag(self.inner.on_arrival(state))

    def on_sample(self, state: HeatState) -> StageDecision:
        return self._flag(self.inner.on_sample(state))


def test_unsafe_extrapolated_and_unapproved_decisions_are_not_written(cfg, advisor, heat_states, tmp_path):
    """Setpoint nodes stay untouched while the status says why: a hard limit (a tiny max arc energy), an
    extrapolated flag, a decision outside the automatic bounds; an engineer's approval then writes the last."""
    tiny = with_auto_approve(cfg)
    tiny = tiny.model_copy(update={"safety": tiny.safety.model_copy(update={"max_arc_energy_kWh": 1.0})})
    cfg_auto = with_auto_approve(cfg)
    state = heat_states[2][0]

    async def one(service_cfg: PlantConfig, controller: HeatController, approve: bool = False):
        ep = f"opc.tcp://127.0.0.1:{free_port()}/plant/"
        async with SimulatedDcs(service_cfg, ep) as dcs:
            service = AdvisorService(service_cfg, controller, ep, Credentials(), tmp_path / "log.jsonl",
                                     deadline_s=ANSWER_S)
            stop, task = await start(service)
            key = await dcs.post(state)
            answer = await dcs.wait_answer(key, ANSWER_S)
            approved = None
            if approve:
                await dcs.approve(key)
                for _ in range(int(ANSWER_S / 0.01)):
                    approved = await dcs.advice()
                    if approved["status"] == "written":
                        break
                    await asyncio.sleep(0.01)
            await finish(stop, task)
            return answer, approved

    untouched = {m: 0.0 for m in cfg.material_names}
    unsafe, _ = asyncio.run(one(tiny, advisor))
    assert unsafe["status"] == "refused" and "max_arc_energy_kWh" in unsafe["reason"]
    assert unsafe["additions_kg"] == untouched and unsafe["arc_energy_kWh"] == 0.0

    flagged, _ = asyncio.run(one(cfg_auto, Flagging(advisor)))
    assert flagged["status"] == "refused" and "extrapolated" in flagged["reason"]
    assert flagged["additions_kg"] == untouched and flagged["arc_energy_kWh"] == 0.0

    waiting, approved = asyncio.run(one(cfg, advisor, approve=True))  # shipped config: no automatic bounds
    assert waiting["status"] == "awaiting approval" and "auto_approve" in waiting["reason"]
    assert waiting["additions_kg"] == untouched and waiting["arc_energy_kWh"] == 0.0
    expected = advisor.on_arrival(state)
    assert approved["status"] == "written" and "approved" in approved["reason"]
    assert approved["arc_energy_kWh"] == pytest.approx(expected.arc_energy_kWh)
    assert {m: kg for m, kg in approved["additions_kg"].items() if kg > 0} == pytest.approx(
        {m: kg for m, kg in expected.additions_kg.items() if kg > 0})


class Hanging:
    """An advisor that hangs (a real wait, far longer than the service's deadline) until released."""

    def __init__(self, inner: Advisor) -> None:
        self.inner, self.release = inner, threading.Event()

    def on_arrival(self, state: HeatState) -> StageDecision:
        self.release.wait(600.0)
        return self.inner.on_arrival(state)

    def on_sample(self, state: HeatState) -> StageDecision:
        self.release.wait(600.0)
        return self.inner.on_sample(state)


def test_a_hanging_advisor_gives_no_answer(cfg, advisor, heat_states, tmp_path):
    """No decision within the deadline: status "no answer" (the DCS uses its level 2), nothing written, logged.
    A post the service cannot read (a temperature in Kelvin) is answered "bad input" naming the field."""
    cfg_auto = with_auto_approve(cfg)
    hanging = Hanging(advisor)
    log_file = tmp_path / "log.jsonl"

    async def scenario():
        ep = f"opc.tcp://127.0.0.1:{free_port()}/plant/"
        async with SimulatedDcs(cfg_auto, ep) as dcs:
            service = AdvisorService(cfg_auto, hanging, ep, Credentials(), log_file, deadline_s=5.0)
            stop, task = await start(service)
            good = heat_states[0][0]
            kelvin = dataclasses.replace(good, heat_id="K1", samples=(dataclasses.replace(
                good.samples[0], temperature_degC=good.samples[0].temperature_degC + 273.15),))
            bad = await dcs.wait_answer(await dcs.post(kelvin), ANSWER_S)  # answered before the advisor is asked
            answer = await dcs.wait_answer(await dcs.post(good), ANSWER_S)
            await finish(stop, task)
            return bad, answer

    try:
        bad, answer = asyncio.run(scenario())
    finally:
        hanging.release.set()
    assert bad["status"] == "bad input" and "temperature_degC" in bad["reason"] and "1450" in bad["reason"]
    assert answer["status"] == "no answer" and "level-2" in answer["reason"]
    assert answer["arc_energy_kWh"] == 0.0 and not answer["finish"]
    logged = [r for r in log_lines(log_file) if r.get("decision_id")]
    assert logged[-1]["status"] == "no answer" and logged[-1]["decision"] is None


def test_advise_serve_command(cfg, history, heat_states, tmp_path):
    """`dosing advise-serve` as a process: learns from a history directory, answers a posted arrival over the
    insecure demo channel, logs it with the history's digest, and stops cleanly (exit 0) on SIGTERM, as a service
    manager stops it (Ctrl-C, SIGINT, takes the same handler)."""
    hist = tmp_path / "history"
    hist.mkdir()
    heats, samples = history  # the directory `dosing simulate --heats 300 --seed 5 --out` writes, file for file
    heats.to_parquet(hist / "heats.parquet", index=False)  # (without simulating the same heats a second time)
    heats.to_csv(hist / "heats.csv", index=False)
    samples.to_csv(hist / "samples.csv", index=False)
    log_file = tmp_path / "decisions.jsonl"

    async def scenario():
        ep = f"opc.tcp://127.0.0.1:{free_port()}/plant/"
        async with SimulatedDcs(cfg, ep) as dcs:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "connectors.cli", "advise-serve", "--data", str(hist), "--endpoint", ep,
                "--insecure-demo", "--log", str(log_file), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                answer = await dcs.wait_answer(await dcs.post(heat_states[0][0]), 300.0)
                for _ in range(3000):  # the DCS sees the answer before the service has read it back and logged it
                    if log_file.exists() and '"decision_id"' in log_file.read_text():
                        break
                    await asyncio.sleep(0.1)
            finally:
                proc.send_signal(signal.SIGTERM)
                out, err = await asyncio.wait_for(proc.communicate(), 120)
            return answer, proc.returncode, out.decode() + err.decode()

    answer, code, output = asyncio.run(scenario())
    assert answer["status"] == "awaiting approval"  # the shipped config has no automatic bounds
    assert code == 0, output
    assert "answered 1 posts in 1 DCS sessions" in output
    record = [r for r in log_lines(log_file) if r.get("decision_id")][0]
    assert record["model_versions"]["stage_models"].startswith("history ")
    assert record["decision"]["arc_energy_kWh"] > 0


def test_advise_serve_needs_a_secured_channel_or_the_demo_flag(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "connectors.cli", "advise-serve", "--data", str(tmp_path),
                           "--endpoint", "opc.tcp://127.0.0.1:1/"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "--server-certificate" in proc.stderr
