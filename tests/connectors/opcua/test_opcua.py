"""OPC UA with real asyncua servers and clients on 127.0.0.1: security, atomic publish, approval, restart.

The refused publish and the dropping of old generations share one default server (``publishing``, a
``SharedServer``): each counts generations from its own first publish. The others need a fresh server (its first
generation, its start-up log, approvals, a restart, the inbox, publishes on the readers' loop) and start their
own.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest
from asyncua import ua

from connectors.opcua import (
    Credentials,
    SetpointServer,
    UnsafeRecommendationError,
    connect,
    read_setpoints,
    read_snapshot,
)
from connectors.opcua import address_space as space
from connectors.opcua.approvals import read_audit
from connectors.opcua.client import browse_heats, read_heats
from connectors.opcua.inbox import read_verdict, submit
from optimizer.recommendation import Recommendation
from tests.connectors.opcua.conftest import SharedServer, dcs, rec, secure_server, setup_noise
from tests.connectors.opcua.test_address_space import undocumented_names, walk


async def call(client, ns: int, method: space.Method, *args: str):  # noqa: ANN001, ANN201
    """Call ``Dosing.<method>`` as a DCS or engineer station does."""
    return await client.get_node(space.ROOT.node_id(ns)).call_method(space.method(method).node_id(ns), *args)


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_publish_read_subscribe_and_refusals(cfg, pki, tmp_path, caplog):
    caplog.set_level("WARNING")

    async def scenario():
        srv, ep = secure_server(cfg, pki, tmp_path / "state")
        async with srv:
            await srv.publish(rec())
            for policy in ("Aes256Sha256RsaPss", "Aes128Sha256RsaOaep", "Basic256Sha256"):
                c = await connect(ep, dcs(pki, policy=policy))
                gen, got = await read_snapshot(c, cfg.opcua.namespace_uri)
                assert gen == 1 and [h.heat_id for h in got.heats] == ["H0", "H1", "H2"]
                sp = await read_setpoints(c, cfg.opcua.namespace_uri, cfg.material_names)
                assert sp["H1"]["SiMn"] == 1501.0 and sp["H2"]["ArcEnergy"] == 3002.0 and sp["H0"]["Samples"] == 2
                await c.disconnect()
            c = await connect(ep, dcs(pki))
            ns = await c.get_namespace_index(cfg.opcua.namespace_uri)
            node = c.get_node(space.setpoint(1, "H0", "SiMn").node_id(ns))
            assert (await node.read_data_type()) == ua.NodeId(ua.ObjectIds.Double)
            for analog in (space.setpoint(1, "H0", "SiMn"), space.heat_value(1, "H2", space.ARC_ENERGY)):
                type_def = await c.get_node(analog.node_id(ns)).read_type_definition()
                assert type_def == ua.NodeId(ua.ObjectIds.AnalogItemType), analog
            eu = await c.get_node((space.setpoint(1, "H0", "SiMn") / space.ENGINEERING_UNITS).node_id(ns)).read_value()
            rng = await c.get_node((space.setpoint(1, "H0", "SiMn") / space.EU_RANGE).node_id(ns)).read_value()
            assert eu.DisplayName.Text == "kg" and rng.High == cfg.material("SiMn").max_kg_per_heat
            second_generation = asyncio.Event()

            class Handler:
                def datachange_notification(self, node, val, data):  # noqa: ANN001
                    if val == 2:
                        second_generation.set()

            sub = await c.create_subscription(100, Handler())
            await sub.subscribe_data_change(c.get_node(space.header(space.GENERATION).node_id(ns)))
            await srv.publish(rec(simn=1200.0))
            await asyncio.wait_for(second_generation.wait(), timeout=300)  # a hang guard, not a speed expectation
            with pytest.raises(ua.UaStatusCodeError, match="BadUserAccessDenied"):  # anonymous may only read
                await call(c, ns, space.APPROVE, srv.current.recommendation_id, "x")
            await c.disconnect()
            with pytest.raises(ua.UaStatusCodeError, match="BadUserAccessDenied"):
                await connect(ep, dcs(pki, user="alice", password="wrong"))
            with pytest.raises(ua.UaStatusCodeError, match="BadCertificateUntrusted"):
                await connect(ep, Credentials(pki["intruder"][0], pki["intruder"][1], pki["server"][0],
                                              name="intruder"))
            with pytest.raises(ua.UaError):  # no None-security endpoint offered, and no session without a cert
                await connect(ep, Credentials())

    asyncio.run(scenario())
    assert setup_noise(caplog) == []  # certificates name this host, the session timeout is what servers grant


@pytest.fixture(scope="module")
def publishing(cfg, pki, tmp_path_factory) -> Iterator[SharedServer]:
    """The server as ``secure_server(cfg, pki, state)`` makes it, shared by tests that only publish and read."""
    state = tmp_path_factory.mktemp("publishing") / "state"
    srv, ep = secure_server(cfg, pki, state)
    with SharedServer(srv, ep, state).serving() as shared:
        yield shared


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_unsafe_recommendation_publishes_nothing(cfg, pki, publishing):
    srv = publishing.server
    good, bad = rec(), rec(simn=99999.0)

    async def scenario():
        shown = await publishing.on_server(srv.publish(good))
        with pytest.raises(UnsafeRecommendationError, match="SiMn"):
            await publishing.on_server(srv.publish(bad))
        c = await connect(publishing.endpoint, dcs(pki))
        gen, got = await read_snapshot(c, cfg.opcua.namespace_uri)
        assert gen == shown and got.recommendation_id == good.recommendation_id  # nothing switched
        assert got.heats[0].additions_kg["SiMn"] == 1500.0
        await c.disconnect()
        saved = Recommendation.from_json(publishing.state / "current.json")
        assert saved.recommendation_id == good.recommendation_id and saved.heats[0].additions_kg["SiMn"] == 1500.0
        assert bad.recommendation_id not in {e["recommendation_id"] for e in read_audit(publishing.state)}

    asyncio.run(scenario())


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_atomic_publish_under_concurrent_reads(cfg, pki, tmp_path):
    """A DCS polling node by node while recommendations change never sees two of them mixed. Its own server, on
    the test's loop, so its publishes interleave with the reads only where the client awaits. (On the shared
    server, publishes from another thread once dropped a generation between browsing it and reading its values:
    read_setpoints failed on float(None), fixed since and tested deterministically below.)"""
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


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_a_generation_dropped_between_browse_and_read_is_read_again(cfg, pki, publishing):
    """The race a DCS poll can lose: it browses generation g, two publishes drop g, then it reads g's values.
    asyncua answers that read with None values; the client raises the nodes' BadNodeIdUnknown (which
    read_setpoints retries on the current generation) instead of failing on float(None). Made to happen by
    publishing between the two steps, not by timing."""
    srv = publishing.server

    async def scenario():
        g = await publishing.on_server(srv.publish(rec(simn=1100.0)))
        c = await connect(publishing.endpoint, dcs(pki))
        ns = await c.get_namespace_index(cfg.opcua.namespace_uri)
        heats = await browse_heats(c, ns, g)
        assert heats and (await read_heats(c, ns, g, heats, ["SiMn"]))[heats[0]]["SiMn"] > 0
        for k in (1, 2):
            await publishing.on_server(srv.publish(rec(simn=1100.0 + k)))
        with pytest.raises(ua.UaStatusCodeError, match="BadNodeIdUnknown"):
            await read_heats(c, ns, g, heats, ["SiMn"])
        now = await read_setpoints(c, cfg.opcua.namespace_uri, ["SiMn"])
        assert {round(v["SiMn"] - int(h[1:]), 6) for h, v in now.items()} == {1102.0}
        await c.disconnect()

    asyncio.run(scenario())


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_approval_method_recorded_and_restart_reloads(cfg, pki, tmp_path):
    """Finding 9: Approve names the recommendation; a wrong id is refused; the decision survives a restart."""
    async def scenario():
        state = tmp_path / "state"
        srv, ep = secure_server(cfg, pki, state)
        async with srv:
            r = rec()
            await srv.publish(r)
            c = await connect(ep, dcs(pki, user="olga", password="op"))  # operator: read only
            ns = await c.get_namespace_index(cfg.opcua.namespace_uri)
            with pytest.raises(ua.UaStatusCodeError, match="BadUserAccessDenied"):
                await call(c, ns, space.APPROVE, r.recommendation_id, "x")
            await c.disconnect()
            c = await connect(ep, dcs(pki, user="alice", password="s3cret"))
            with pytest.raises(ua.UaStatusCodeError, match="BadInvalidArgument"):  # not the current one
                await call(c, ns, space.APPROVE, "an-older-id", "checked")
            assert await c.get_node(space.header(space.STATUS).node_id(ns)).read_value() == "proposed"
            assert await call(c, ns, space.APPROVE, r.recommendation_id, "checked Mn aims") == "approved"
            assert await c.get_node(space.header(space.STATUS).node_id(ns)).read_value() == "approved"
            assert await c.get_node(space.header(space.STATUS_BY).node_id(ns)).read_value() == "alice"
            shown = Recommendation.model_validate_json(
                await c.get_node(space.header(space.RECOMMENDATION_JSON).node_id(ns)).read_value())
            assert shown.status == "approved" and shown.status_by == "alice"
            await c.disconnect()
        decided = [e for e in read_audit(state) if e["event"] in ("approved", "rejected")]
        assert [(e["user"], e["event"], e["recommendation_id"], e["comment"], e["via"]) for e in decided] == [
            ("alice", "approved", r.recommendation_id, "checked Mn aims", "opcua")]
        srv2, ep2 = secure_server(cfg, pki, state)  # restart: the last recommendation and its decision come back
        async with srv2:
            c = await connect(ep2, dcs(pki, user="alice", password="s3cret"))
            gen, got = await read_snapshot(c, cfg.opcua.namespace_uri)
            assert got is not None and got.status == "approved" and len(got.heats) == 3
            assert await call(c, ns, space.REJECT, r.recommendation_id, "Lime too high") == "rejected"
            assert await c.get_node(space.header(space.STATUS).node_id(ns)).read_value() == "rejected"
            await c.disconnect()

    asyncio.run(scenario())


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_status_in_a_published_file_is_ignored(cfg, pki, tmp_path):
    """Finding 2: a file claiming "approved" by alice is shown as proposed, and the log holds no approval."""
    async def scenario():
        state = tmp_path / "state"
        srv, ep = secure_server(cfg, pki, state, inbox_poll_s=0.05)
        async with srv:
            forged = rec(status="approved", status_by="alice")
            path = tmp_path / "forged.json"
            forged.to_json(path)
            submit(path, state)
            for _ in range(6000):  # bounded: 5 minutes, a hang guard (the inbox is polled every 0.05 s)
                if read_verdict(state, forged.recommendation_id):
                    break
                await asyncio.sleep(0.05)
            assert read_verdict(state, forged.recommendation_id)["verdict"] == "published"
            c = await connect(ep, dcs(pki))
            status = await c.get_node(space.header(space.STATUS).node_id(srv.ns)).read_value()
            by = await c.get_node(space.header(space.STATUS_BY).node_id(srv.ns)).read_value()
            _, shown = await read_snapshot(c, cfg.opcua.namespace_uri)
            await c.disconnect()
            return status, by, shown

    status, by, shown = asyncio.run(scenario())
    assert (status, by, shown.status, shown.status_by) == ("proposed", "", "proposed", "")
    assert Recommendation.from_json(tmp_path / "state" / "current.json").status == "proposed"
    assert [e["event"] for e in read_audit(tmp_path / "state")] == ["published"]


def test_secure_mode_needs_certificates(cfg, tmp_path):
    with pytest.raises(ValueError, match="dosing certs create"):
        SetpointServer(cfg, "opc.tcp://127.0.0.1:4840/", tmp_path)


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_old_generations_are_dropped_completely(cfg, pki, publishing):
    """Generation n-2 disappears with every node below it and the folder's reference; n-1 and n stay, and the
    served tree has exactly the node ids and browse names docs/opcua.md lists (on the shared server: also
    nothing left of the generations earlier tests published)."""
    srv = publishing.server

    async def scenario():
        g1, g2, g3 = [await publishing.on_server(srv.publish(rec(simn=1400.0 + k))) for k in range(3)]
        assert (g2, g3) == (g1 + 1, g1 + 2)
        c = await connect(publishing.endpoint, dcs(pki))
        ns = await c.get_namespace_index(cfg.opcua.namespace_uri)
        for gone in (space.generation(g1), space.heat(g1, "H0"), space.setpoint(g1, "H0", "SiMn"),
                     space.setpoint(g1, "H0", "SiMn") / space.EU_RANGE, space.predicted_temperature(g1, "H2")):
            with pytest.raises(ua.UaStatusCodeError, match="BadNodeIdUnknown"):
                await c.get_node(gone.node_id(ns)).read_browse_name()
        assert await c.get_node(space.setpoint(g2, "H0", "SiMn").node_id(ns)).read_value() == 1401.0
        assert await c.get_node(space.setpoint(g3, "H0", "SiMn").node_id(ns)).read_value() == 1402.0
        root_children = [(await n.read_browse_name()).Name for n in await c.get_node(
            space.ROOT.node_id(ns)).get_children()]
        assert sorted(n for n in root_children if re.fullmatch(r"G\d+", n)) == sorted([f"G{g2}", f"G{g3}"])
        await c.disconnect()
        assert srv.server is not None
        served: dict[str, tuple[int, str]] = {}
        await publishing.on_server(walk(srv.server.get_node(space.ROOT.node_id(ns)), served))
        return ns, served, g3

    ns, served, g3 = asyncio.run(scenario())
    assert undocumented_names(served, ns) == []
    assert {f"Dosing.G{g3}.H0.Setpoints.{m}" for m in cfg.material_names} <= set(served)
    assert f"Dosing.G{g3}.H2.Predicted.Temperature" in served and f"Dosing.G{g3}.H1.ArcEnergy.EURange" in served
