"""Client connector against a real stand-in DCS server: checked writes with read-back, refusals, reconnect."""

from __future__ import annotations

import asyncio
import json

import pytest
from asyncua import Server, ua

from connectors.opcua import address_space as space
from connectors.opcua.plant_client import PlantWriter, RefusedWrite
from optimizer.recommendation import HeatRecommendation, Recommendation
from tests.connectors.opcua.conftest import PlantPki
from tests.ports import free_port

CLIENT = "dosing-client"  # the name `dosing write-plant` connects with


def setpoint_node(cfg, heat_id: str, leaf: str) -> ua.NodeId:  # noqa: ANN001
    """The plant's setpoint node of ``heat_id`` (a material, ArcEnergy or Samples)."""
    return ua.NodeId.from_string(space.plant_setpoint_id(cfg.opcua.node_map.setpoint_prefix, heat_id, leaf))


async def dcs_server(cfg, endpoint: str, pki: PlantPki) -> Server:
    """A plant DCS stand-in exposing the node map's nodes (ns=2 string ids), secured like ours."""
    srv = Server()
    await srv.init()
    srv.set_endpoint(endpoint)
    srv.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    await srv.load_certificate(str(pki.server[0]))
    await srv.load_private_key(str(pki.server[1]))
    idx = await srv.register_namespace("urn:plant:dcs")
    assert idx == 2
    obj = await srv.nodes.objects.add_object(idx, "LF1")
    nm = cfg.opcua.node_map
    await obj.add_variable(ua.NodeId.from_string(nm.current_heat_id), "CurrentHeat", "H1")
    await obj.add_variable(ua.NodeId.from_string(nm.measured_temperature_degC), "Temperature", 1587.5)
    for h in ("H1", "H2"):
        for m in [*cfg.material_names, space.PLANT_ARC_ENERGY]:
            v = await obj.add_variable(setpoint_node(cfg, h, m), f"{h}.{m}", 0.0)
            await v.set_writable(True)
        v = await obj.add_variable(setpoint_node(cfg, h, space.PLANT_SAMPLES), f"{h}.{space.PLANT_SAMPLES}",
                                   ua.Variant(0, ua.VariantType.UInt16))
        await v.set_writable(True)
    await srv.start()
    return srv


def rec(status: str = "approved", simn: float = 1500.0) -> Recommendation:
    heats = [HeatRecommendation(heat_id=h, grade="S355J2", steel_weight_t=100.0,
                                additions_kg={"SiMn": simn, "Lime": 450.0}, arc_energy_kWh=3900.0, n_samples=2)
             for h in ("H1", "H2")]
    return Recommendation.new("LF-1", heats, 12.0).model_copy(update={"status": status})


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_write_read_back_refusals_and_reconnect(cfg, plant_pki):
    pki = plant_pki(CLIENT)

    async def scenario():
        ep = f"opc.tcp://127.0.0.1:{free_port()}/plant/"
        srv = await dcs_server(cfg, ep, pki)
        creds = pki.credentials()
        # 10 attempts = up to ~150 s of backoff: the stand-in restart took longer than 6 attempts (9 s) under load
        writer = PlantWriter(cfg, ep, creds, attempts=10, backoff_s=0.3)
        assert (await writer.read_plant_values()) == {"current_heat_id": "H1", "measured_temperature_degC": 1587.5}
        n = await writer.write_recommendation(rec())
        assert n == 2 * (len(cfg.material_names) + 2)
        node = srv.get_node(setpoint_node(cfg, "H2", "SiMn"))
        assert await node.read_value() == 1500.0
        with pytest.raises(RefusedWrite, match="must approve"):
            await writer.write_recommendation(rec(status="proposed", simn=1600.0))
        with pytest.raises(RefusedWrite, match="min/max"):
            await writer.write_recommendation(rec(simn=99999.0))
        assert await node.read_value() == 1500.0  # nothing written by the refused ones
        await srv.stop()  # the DCS server goes away ...

        async def restart():
            await asyncio.sleep(1.0)
            return await dcs_server(cfg, ep, pki)

        restarting = asyncio.create_task(restart())
        n = await writer.write_recommendation(rec(simn=1700.0))  # ... the writer retries and reconnects
        srv2 = await restarting
        assert n > 0
        node2 = srv2.get_node(setpoint_node(cfg, "H1", "SiMn"))
        assert await node2.read_value() == 1700.0
        await writer.close()
        await srv2.stop()

    asyncio.run(scenario())


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_write_plant_command(cfg, plant_pki, tmp_path):
    pki = plant_pki(CLIENT)
    """`dosing write-plant` against the stand-in DCS: a file that says "approved" by itself is refused (a forged
    status); after `dosing approve ID --recommendation FILE` (users file, audit log) the same file lands; a
    proposed one is refused."""
    from typer.testing import CliRunner

    from connectors.cli import app
    from connectors.opcua import add_user

    state, users = tmp_path / "state", tmp_path / "users.json"
    add_user(users, "alice", "s3cret", "engineer")

    async def run(*argv: str) -> tuple[int, str]:  # the CLI in a thread; the stand-in DCS serves on this loop
        res = await asyncio.to_thread(CliRunner().invoke, app, list(argv), env={"DOSING_PASSWORD": "s3cret"})
        return res.exit_code, res.output

    async def scenario():
        ep = f"opc.tcp://127.0.0.1:{free_port()}/plant/"
        srv = await dcs_server(cfg, ep, pki)
        args = ["--endpoint", ep, "--certificate", str(pki.client[0]), "--private-key", str(pki.client[1]),
                "--server-certificate", str(pki.server[0]), "--state-dir", str(state)]
        node = srv.get_node(setpoint_node(cfg, "H1", "SiMn"))
        results = []
        forged = rec(status="approved", simn=1400.0)
        f = forged.to_json(tmp_path / "forged.json")
        results.append((*await run("write-plant", str(f), *args), await node.read_value()))
        results.append((*await run("approve", forged.recommendation_id, "--recommendation", str(f), "--users",
                                   str(users), "--user", "alice", "--state-dir", str(state)), None))
        results.append((*await run("write-plant", str(f), *args), await node.read_value()))
        g = rec(status="proposed", simn=1700.0).to_json(tmp_path / "proposed.json")
        results.append((*await run("write-plant", str(g), *args), await node.read_value()))
        await srv.stop()
        return results

    (rc0, text0, v0), (rca, texta, _), (rc1, text1, v1), (rc2, text2, v2) = asyncio.run(scenario())
    assert rc0 == 1 and "nothing written" in text0 and "a file's status is not used" in text0, text0
    assert v0 != 1400.0 and "dosing approve" in text0
    assert rca == 0 and "approved by alice" in texta, texta
    assert rc1 == 0 and "read back" in text1 and "H1" in text1 and v1 == 1400.0, text1
    assert rc2 == 1 and "nothing written" in text2 and v2 == 1400.0, text2
    events = [json.loads(x) for x in (state / "audit.jsonl").read_text().splitlines()]
    assert [(e["event"], e["user"], e["via"]) for e in events] == [("approved", "alice", "cli")]


def test_write_plant_refuses_a_malformed_file_before_connecting(tmp_path):
    from typer.testing import CliRunner

    from connectors.cli import app

    bad = tmp_path / "rec.json"
    bad.write_text('{"recommendation_id": ')
    args = ["write-plant", str(bad), "--endpoint", "opc.tcp://127.0.0.1:1/none/", "--certificate", "c.der",
            "--private-key", "k.pem", "--server-certificate", "s.der"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and "not a readable recommendation" in res.output
    res = CliRunner().invoke(app, ["write-plant", "--recs-dir", str(tmp_path / "none"), *args[2:]])
    assert res.exit_code == 2 and "no recommendation to write" in res.output
