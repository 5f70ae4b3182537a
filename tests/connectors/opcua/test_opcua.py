"""OPC UA with real asyncua servers and clients on 127.0.0.1: security, atomic publish, approval, restart."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from pathlib import Path

import pytest
from asyncua import ua

from connectors.opcua import (
    Credentials,
    SetpointServer,
    UnsafeRecommendationError,
    add_user,
    connect,
    create_certificate,
    read_setpoints,
    read_snapshot,
)
from optimizer.recommendation import HeatRecommendation, Interval, Recommendation


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rec(n_heats: int = 3, simn: float = 1500.0) -> Recommendation:
    heats = [HeatRecommendation(heat_id=f"H{i}", grade="S355J2", steel_weight_t=100.0,
                                additions_kg={"SiMn": simn + i, "Lime": 500.0}, arc_energy_kWh=3000.0 + i, n_samples=2,
                                predicted_temperature_degC=Interval(predicted=1590, low=1585, high=1595))
             for i in range(n_heats)]
    return Recommendation.new("LF-1", heats, 12.0)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")

    async def make():
        server = await create_certificate(d / "server", "dosing-server", "localhost")
        dcs = await create_certificate(d / "clients", "dcs", "localhost", client=True)
        intruder = await create_certificate(d / "intruders", "intruder", "localhost", client=True)
        return server, dcs, intruder

    server, dcs, intruder = asyncio.run(make())
    (d / "trusted").mkdir()
    shutil.copy(dcs[0], d / "trusted")
    add_user(d / "users.json", "alice", "s3cret", "engineer")
    add_user(d / "users.json", "olga", "op", "operator")
    return {"dir": d, "server": server, "dcs": dcs, "intruder": intruder,
            "users": json.loads((d / "users.json").read_text())}


def secure_server(cfg, pki, state: Path) -> tuple[SetpointServer, str]:
    ep = f"opc.tcp://127.0.0.1:{free_port()}/dosing/"
    return SetpointServer(cfg, ep, state, users=pki["users"], certificate=pki["server"][0],
                          private_key=pki["server"][1], trusted_dir=pki["dir"] / "trusted"), ep


def dcs(pki, **kw) -> Credentials:
    return Credentials(pki["dcs"][0], pki["dcs"][1], pki["server"][0], name="dcs", **kw)


def test_publish_read_subscribe_and_refusals(cfg, pki, tmp_path):
    async def scenario():
        srv, ep = secure_server(cfg, pki, tmp_path / "state")
        async with srv:
            await srv.publish(rec())
            for mode in ("SignAndEncrypt", "Sign"):
                c = await connect(ep, dcs(pki, mode=mode))
                gen, got = await read_snapshot(c, cfg.opcua.namespace_uri)
                assert gen == 1 and [h.heat_id for h in got.heats] == ["H0", "H1", "H2"]
                sp = await read_setpoints(c, cfg.opcua.namespace_uri, cfg.material_names)
                assert sp["H1"]["SiMn"] == 1501.0 and sp["H2"]["ArcEnergy"] == 3002.0 and sp["H0"]["Samples"] == 2
                await c.disconnect()
            c = await connect(ep, dcs(pki))
            ns = await c.get_namespace_index(cfg.opcua.namespace_uri)
            node = c.get_node(ua.NodeId("Dosing.G1.H0.Setpoints.SiMn", ns))
            assert (await node.read_data_type()) == ua.NodeId(ua.ObjectIds.Double)
            eu = await c.get_node(ua.NodeId("Dosing.G1.H0.Setpoints.SiMn.EngineeringUnits", ns)).read_value()
            rng = await c.get_node(ua.NodeId("Dosing.G1.H0.Setpoints.SiMn.EURange", ns)).read_value()
            assert eu.DisplayName.Text == "kg" and rng.High == cfg.material("SiMn").max_kg_per_heat
            seen = []

            class Handler:
                def datachange_notification(self, node, val, data):  # noqa: ANN001
                    seen.append(val)

            sub = await c.create_subscription(100, Handler())
            await sub.subscribe_data_change(c.get_node(ua.NodeId("Dosing.Generation", ns)))
            await srv.publish(rec(simn=1200.0))
            for _ in range(50):
                if 2 in seen:
                    break
                await asyncio.sleep(0.1)
            assert 2 in seen
            with pytest.raises(ua.UaStatusCodeError, match="BadUserAccessDenied"):  # anonymous may only read
                await c.get_node(ua.NodeId("Dosing.Approval", ns)).write_value("approve: x")
            await c.disconnect()
            with pytest.raises(ua.UaStatusCodeError, match="BadUserAccessDenied"):
                await connect(ep, dcs(pki, user="alice", password="wrong"))
            with pytest.raises(ua.UaStatusCodeError, match="BadCertificateUntrusted"):
                await connect(ep, Credentials(pki["intruder"][0], pki["intruder"][1], pki["server"][0],
                                              name="intruder"))
            with pytest.raises(ua.UaError):  # no None-security endpoint offered, and no session without a cert
                await connect(ep, Credentials())

    asyncio.run(scenario())


def test_unsafe_recommendation_publishes_nothing(cfg, pki, tmp_path):
    async def scenario():
        srv, ep = secure_server(cfg, pki, tmp_path / "state")
        async with srv:
            await srv.publish(rec())
            bad = rec(simn=99999.0)
            with pytest.raises(UnsafeRecommendationError, match="SiMn"):
                await srv.publish(bad)
            c = await connect(ep, dcs(pki))
            gen, got = await read_snapshot(c, cfg.opcua.namespace_uri)
            assert gen == 1 and got.heats[0].additions_kg["SiMn"] == 1500.0
            await c.disconnect()
        saved = Recommendation.from_json(tmp_path / "state" / "current.json")
        assert saved.heats[0].additions_kg["SiMn"] == 1500.0

    asyncio.run(scenario())


def test_atomic_publish_under_concurrent_reads(cfg, pki, tmp_path):
    """A DCS polling node by node while recommendations change never sees two of them mixed."""
    async def scenario():
        srv, ep = secure_server(cfg, pki, tmp_path / "state")
        async with srv:
            await srv.publish(rec(simn=1000.0))
            c = await connect(ep, dcs(pki))

            async def publisher():
                for k in range(1, 6):
                    await srv.publish(rec(simn=1000.0 + 100 * k))

            async def reader():
                views = []
                for _ in range(15):
                    views.append(await read_setpoints(c, cfg.opcua.namespace_uri, ["SiMn"]))
                return views

            _, views = await asyncio.gather(publisher(), reader())
            for v in views:
                base = {round(v[h]["SiMn"] - int(h[1:]), 6) for h in v}
                assert len(base) == 1  # every heat from the same recommendation
            await c.disconnect()

    asyncio.run(scenario())


def test_approval_recorded_and_restart_reloads(cfg, pki, tmp_path):
    async def scenario():
        state = tmp_path / "state"
        srv, ep = secure_server(cfg, pki, state)
        async with srv:
            await srv.publish(rec())
            c = await connect(ep, dcs(pki, user="olga", password="op"))  # operator: read only
            ns = await c.get_namespace_index(cfg.opcua.namespace_uri)
            with pytest.raises(ua.UaStatusCodeError, match="BadUserAccessDenied"):
                await c.get_node(ua.NodeId("Dosing.Approval", ns)).write_value("approve: x")
            await c.disconnect()
            c = await connect(ep, dcs(pki, user="alice", password="s3cret"))
            await c.get_node(ua.NodeId("Dosing.Approval", ns)).write_value("approve: checked Mn aims")
            await asyncio.sleep(0.3)
            assert await c.get_node(ua.NodeId("Dosing.Status", ns)).read_value() == "approved"
            assert await c.get_node(ua.NodeId("Dosing.StatusBy", ns)).read_value() == "alice"
            await c.disconnect()
        audit = [json.loads(line) for line in (state / "audit.jsonl").read_text().splitlines()]
        assert audit[-1]["user"] == "alice" and audit[-1]["status"] == "approved"
        srv2, ep2 = secure_server(cfg, pki, state)  # restart: the last recommendation comes back
        async with srv2:
            c = await connect(ep2, dcs(pki))
            gen, got = await read_snapshot(c, cfg.opcua.namespace_uri)
            assert got is not None and got.status == "approved" and len(got.heats) == 3
            await c.disconnect()

    asyncio.run(scenario())


def test_secure_mode_needs_certificates(cfg, tmp_path):
    with pytest.raises(ValueError, match="dosing certs create"):
        SetpointServer(cfg, "opc.tcp://127.0.0.1:4840/", tmp_path)


def test_old_generations_are_dropped_completely(cfg, pki, tmp_path):
    """Generation n-2 disappears with every node below it and the folder's reference; n-1 and n stay."""
    async def scenario():
        srv, ep = secure_server(cfg, pki, tmp_path / "state")
        async with srv:
            for k in range(3):
                await srv.publish(rec(simn=1400.0 + k))
            c = await connect(ep, dcs(pki))
            ns = await c.get_namespace_index(cfg.opcua.namespace_uri)
            for gone in ("Dosing.G1", "Dosing.G1.H0", "Dosing.G1.H0.Setpoints.SiMn",
                         "Dosing.G1.H0.Setpoints.SiMn.EURange", "Dosing.G1.H2.Predicted.Temperature"):
                with pytest.raises(ua.UaStatusCodeError, match="BadNodeIdUnknown"):
                    await c.get_node(ua.NodeId(gone, ns)).read_browse_name()
            assert await c.get_node(ua.NodeId("Dosing.G2.H0.Setpoints.SiMn", ns)).read_value() == 1401.0
            assert await c.get_node(ua.NodeId("Dosing.G3.H0.Setpoints.SiMn", ns)).read_value() == 1402.0
            root_children = [(await n.read_browse_name()).Name for n in await c.get_node(
                ua.NodeId("Dosing", ns)).get_children()]
            assert "G2" in root_children and "G3" in root_children and "G1" not in root_children
            await c.disconnect()

    asyncio.run(scenario())
