"""``dosing publish`` (checks before queuing, --wait for the verdict) and ``dosing approve|reject`` at the optimizer
host, against a real setpoint server on 127.0.0.1 (issue 17, findings 8 and 9)."""

from __future__ import annotations

import asyncio
import os
import stat

import pytest
from typer.testing import CliRunner

from connectors.cli import app
from connectors.opcua import address_space as space
from connectors.opcua import connect
from connectors.opcua.approvals import read_audit
from connectors.opcua.inbox import read_verdict
from tests.connectors.opcua.conftest import dcs, rec, secure_server

MAX_WAIT_S = 30


def invoke(*args: str, password: str | None = None):  # noqa: ANN201
    env = {"DOSING_PASSWORD": password} if password is not None else {}
    return CliRunner().invoke(app, list(args), env=env)


async def status(ep: str, pki, ns: int) -> tuple[str, str]:  # noqa: ANN001
    c = await connect(ep, dcs(pki))
    try:
        return (await c.get_node(space.header(space.STATUS).node_id(ns)).read_value(),
                await c.get_node(space.header(space.STATUS_BY).node_id(ns)).read_value())
    finally:
        await c.disconnect()


def test_publish_refuses_what_the_server_would_refuse(tmp_path):
    state = tmp_path / "state"
    unsafe = rec(simn=99999.0)
    unsafe.to_json(tmp_path / "unsafe.json")
    res = invoke("publish", str(tmp_path / "unsafe.json"), "--state-dir", str(state))
    assert res.exit_code == 4, res.output
    assert "would refuse" in res.output and "SiMn" in res.output
    dup = rec()
    dup = dup.model_copy(update={"heats": [*dup.heats, dup.heats[1]]})
    dup.to_json(tmp_path / "dup.json")
    res = invoke("publish", str(tmp_path / "dup.json"), "--state-dir", str(state))
    assert res.exit_code == 4 and "'H1' is listed 2 times" in res.output, res.output
    (tmp_path / "junk.json").write_text('{"plant": "LF-1"}')
    res = invoke("publish", str(tmp_path / "junk.json"), "--state-dir", str(state))
    assert res.exit_code == 4 and "not a recommendation" in res.output and "valid_until" in res.output, res.output
    expired = rec().model_copy(update={"valid_until": rec().created_at.replace(year=2020)})
    expired.to_json(tmp_path / "expired.json")
    res = invoke("publish", str(tmp_path / "expired.json"), "--state-dir", str(state))
    assert res.exit_code == 4 and "expired" in res.output, res.output
    assert not list((state / "inbox").glob("*.json"))  # nothing was queued


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_publish_wait_reports_the_verdict(tmp_path, cfg, pki):
    """A file queued while no server runs is published when one starts; ``--wait`` then reports the verdict of
    the next one. (Sending the queued file again instead would race with the server's first inbox scan.)"""
    state = tmp_path / "state"
    first, second = rec(), rec(simn=1400.0)
    first.to_json(tmp_path / "first.json")
    second.to_json(tmp_path / "second.json")
    res = invoke("publish", str(tmp_path / "first.json"), "--state-dir", str(state), "--wait", "--timeout", "0.5")
    assert res.exit_code == 4 and "no verdict within 0.5 s" in res.output, res.output  # no server running
    assert (state / "inbox" / f"{first.recommendation_id}.json").exists()  # still queued

    async def scenario():
        srv, ep = secure_server(cfg, pki, state, inbox_poll_s=0.05)
        async with srv:
            verdict = None
            for _ in range(MAX_WAIT_S * 20):  # bounded: the queued file is the server's first publish
                verdict = read_verdict(state, first.recommendation_id)
                if verdict is not None:
                    break
                await asyncio.sleep(0.05)
            res = await asyncio.to_thread(invoke, "publish", str(tmp_path / "second.json"), "--state-dir",
                                          str(state), "--wait", "--timeout", str(MAX_WAIT_S))
            return verdict, res

    verdict, res = asyncio.run(scenario())
    assert verdict == {"verdict": "published", "generation": 1}
    assert res.exit_code == 0, res.output
    assert f"published {second.recommendation_id} as generation 2" in res.output


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_approve_and_reject_at_the_host(tmp_path, cfg, pki):
    state = tmp_path / "state"
    users = str(pki["users_file"])

    async def scenario():
        srv, ep = secure_server(cfg, pki, state)
        async with srv:
            r = rec()
            await srv.publish(r)
            rid = r.recommendation_id
            outcomes = {
                "wrong password": await asyncio.to_thread(invoke, "approve", rid, "--users", users, "--user", "alice",
                                                          "--state-dir", str(state), password="nope"),
                "operator": await asyncio.to_thread(invoke, "approve", rid, "--users", users, "--user", "olga",
                                                    "--state-dir", str(state), password="op"),
                "other id": await asyncio.to_thread(invoke, "approve", "0123456789ab", "--users", users, "--user",
                                                    "alice", "--state-dir", str(state), password="s3cret"),
            }
            before = await status(ep, pki, srv.ns)
            ok = await asyncio.to_thread(invoke, "approve", rid, "--comment", "checked at the host", "--users", users,
                                         "--user", "alice", "--state-dir", str(state), password="s3cret")
            seen = before
            for _ in range(MAX_WAIT_S * 10):  # the server picks host decisions up from the audit log
                seen = await status(ep, pki, srv.ns)
                if seen[0] == "approved":
                    break
                await asyncio.sleep(0.1)
            rejected = await asyncio.to_thread(invoke, "reject", rid, "--users", users, "--user", "alice",
                                               "--state-dir", str(state), password="s3cret")
            await srv._refresh_status()  # noqa: SLF001 (what the heartbeat does every second)
            after = await status(ep, pki, srv.ns)
        return rid, outcomes, before, ok, seen, rejected, after

    rid, outcomes, before, ok, seen, rejected, after = asyncio.run(scenario())
    assert all(res.exit_code == 1 for res in outcomes.values()), {k: v.output for k, v in outcomes.items()}
    assert "wrong password" in outcomes["wrong password"].output
    assert "only engineers" in outcomes["operator"].output
    assert "not the current one" in outcomes["other id"].output
    assert before == ("proposed", "")
    assert ok.exit_code == 0, ok.output
    assert seen == ("approved", "alice")
    assert rejected.exit_code == 0 and after == ("rejected", "alice")
    events = [(e["event"], e.get("user"), e.get("via")) for e in read_audit(state)]
    assert events == [("published", None, None), ("decision-refused", "alice", "cli"),
                      ("decision-refused", "olga", "cli"), ("decision-refused", "alice", "cli"),
                      ("approved", "alice", "cli"), ("rejected", "alice", "cli")]


def test_users_add_writes_the_file_0600(tmp_path):
    res = invoke("users", "add", "--file", str(tmp_path / "users.json"), "--name", "bob", password="pw")
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE(os.stat(tmp_path / "users.json").st_mode) == 0o600
