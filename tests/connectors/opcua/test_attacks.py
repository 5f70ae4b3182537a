"""An attacker on the plant network against the real setpoint server (issue 17, finding 1).

The attacker uses asyncua by hand the way ECOSYSTEM.md describes: ``connect_socket``, ``send_hello``,
``open_secure_channel``, then CreateSession/ActivateSession requests built by hand (no endpoint matching), over a
SecurityPolicy None channel or over a secured channel with a certificate the server does not trust. Every
variant must fail to read setpoints and to approve, and nothing may reach the audit log.

The attacks on a default server share one (``attacked``, a ``SharedServer``): each publishes its own
recommendation first, none may change anything, and the audit log checked is the whole module's.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from asyncua import Client, ua
from asyncua.common.utils import create_nonce
from asyncua.crypto import security_policies

from connectors.opcua import address_space as space
from connectors.opcua import connect
from connectors.opcua.approvals import read_audit
from connectors.opcua.security import application_uri
from tests.connectors.opcua.conftest import SharedServer, dated_certificate, dcs, rec, secure_server

REFUSED = (ua.UaError, ConnectionError, TimeoutError, asyncio.TimeoutError)


async def hand_made_session(ep: str, app: str = "attacker", user: str | None = None, password: str = "",
                            activate: bool = True, channel: tuple | None = None,
                            claimed_certificate: bytes | None = None) -> Client:
    """A session without endpoint matching. ``channel``: (cert, key, server cert) for a Basic256Sha256
    SignAndEncrypt channel, else a None channel. ``claimed_certificate``: sent in CreateSession instead of the
    channel's certificate (a trusted DCS certificate is public)."""
    c = Client(ep, timeout=120)  # a hang guard: load must not turn a slow answer into a refusal
    if channel is not None:
        await c.set_security(security_policies.SecurityPolicyBasic256Sha256, str(channel[0]), str(channel[1]),
                             server_certificate=str(channel[2]), mode=ua.MessageSecurityMode.SignAndEncrypt)
    await c.connect_socket()
    await c.send_hello()
    await c.open_secure_channel()
    desc = ua.ApplicationDescription(ApplicationUri=application_uri(app), ApplicationName=ua.LocalizedText(app),
                                     ApplicationType=ua.ApplicationType.Client)
    params = ua.CreateSessionParameters(ClientDescription=desc, EndpointUrl=ep, SessionName="s",
                                        ClientNonce=create_nonce(32), RequestedSessionTimeout=60000,
                                        ClientCertificate=claimed_certificate)
    res = await c.uaclient.create_session(params)
    if activate:
        act = ua.ActivateSessionParameters()
        challenge = (c.security_policy.peer_certificate or b"") + (res.ServerNonce or b"")
        act.ClientSignature.Algorithm = c.security_policy.AsymmetricSignatureURI or None
        act.ClientSignature.Signature = c.security_policy.asymmetric_cryptography.signature(challenge)
        if user is None:
            act.UserIdentityToken = ua.AnonymousIdentityToken(PolicyId="anonymous")
        else:  # the password in clear, as a None-channel client sends it
            act.UserIdentityToken = ua.UserNameIdentityToken(PolicyId="username", UserName=user,
                                                             Password=password.encode())
        await c.uaclient.activate_session(act)
    return c


async def attempt(ep: str, ns: int, rec_id: str, **kw) -> list[str]:
    """What the attacker got through: 'session', 'read', 'approve' (empty list = all refused)."""
    got = []
    try:
        c = await hand_made_session(ep, **kw)
    except REFUSED:
        c = None
    if c is None:
        return got
    got.append("session")
    try:
        try:
            await c.get_node(space.setpoint(1, "H0", "SiMn").node_id(ns)).read_value()
            got.append("read")
        except REFUSED:
            pass
        try:
            approve = space.method(space.APPROVE).node_id(ns)
            await c.get_node(space.ROOT.node_id(ns)).call_method(approve, rec_id, "pwned")
            got.append("approve")
        except REFUSED:
            pass
    finally:
        c.disconnect_socket()
    return got


@pytest.fixture(scope="module")
def attacked(cfg, pki, tmp_path_factory) -> Iterator[SharedServer]:
    """The server as ``secure_server(cfg, pki, state)`` makes it, shared by the attacks that must change nothing."""
    state = tmp_path_factory.mktemp("attacked") / "state"
    srv, ep = secure_server(cfg, pki, state)
    with SharedServer(srv, ep, state).serving() as shared:
        yield shared


async def published(shared: SharedServer) -> tuple[str, int]:
    """Publish a fresh ``rec()`` on the shared server: its recommendation id and generation."""
    r = rec()
    generation = await shared.on_server(shared.server.publish(r))
    return r.recommendation_id, generation


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_none_channel_attacker(attacked, pki):
    """Finding 1: None channel, no endpoint matching, anonymous / with a password / never activated."""
    async def scenario():
        ep, ns = attacked.endpoint, attacked.ns
        rec_id, gen = await published(attacked)
        anon = await attempt(ep, ns, rec_id)
        with_pw = await attempt(ep, ns, rec_id, user="alice", password="s3cret")
        not_activated = await attempt(ep, ns, rec_id, activate=False)
        # a trusted DCS, through the front door, still works after all that
        c = await connect(ep, dcs(pki))
        status = await c.get_node(space.header(space.STATUS).node_id(ns)).read_value()
        simn = await c.get_node(space.setpoint(gen, "H0", "SiMn").node_id(ns)).read_value()
        await c.disconnect()
        return anon, with_pw, not_activated, status, simn

    anon, with_pw, not_activated, status, simn = asyncio.run(scenario())
    assert anon == [], anon  # activation refused, and no request of that session is served
    assert with_pw == [], with_pw
    # CreateSession without ActivateSession is answered (asyncua), but no read or call is served on that session
    assert not_activated in ([], ["session"]), not_activated
    assert status == "proposed" and simn == 1500.0
    assert [e for e in read_audit(attacked.state) if e["event"] == "approved"] == []


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_untrusted_channel_certificate_attacker(attacked, pki):
    """A secured channel opened with an untrusted certificate, which CreateSession does not send, or where
    CreateSession claims the (public) trusted DCS certificate: refused at activation (asyncua validates only the
    CreateSession certificate, if any)."""
    async def scenario():
        ep, ns = attacked.endpoint, attacked.ns
        rec_id, _ = await published(attacked)
        intruder = (pki["intruder"][0], pki["intruder"][1], pki["server"][0])
        silent = await attempt(ep, ns, rec_id, channel=intruder, user="alice", password="s3cret")
        claimed = await attempt(ep, ns, rec_id, app="dcs", channel=intruder,
                                claimed_certificate=pki["dcs"][0].read_bytes(), user="alice", password="s3cret")
        anon_claimed = await attempt(ep, ns, rec_id, app="dcs", channel=intruder,
                                     claimed_certificate=pki["dcs"][0].read_bytes())
        return silent, claimed, anon_claimed

    silent, claimed, anon_claimed = asyncio.run(scenario())
    assert silent == [] and claimed == [] and anon_claimed == [], (silent, claimed, anon_claimed)
    assert [e for e in read_audit(attacked.state) if e["event"] == "approved"] == []


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_insecure_demo_offers_none_and_only_then(cfg, pki, tmp_path):
    """With --insecure-demo a plain client reads over None security (a local demo); that is the only way."""
    async def scenario():
        srv, ep = secure_server(cfg, pki, tmp_path / "state", insecure=True)
        async with srv:
            await srv.publish(rec())
            c = Client(ep, timeout=120)  # a hang guard: load must not turn a slow answer into a refusal
            await c.connect()
            value = await c.get_node(space.setpoint(1, "H0", "SiMn").node_id(srv.ns)).read_value()
            await c.disconnect()
        return value

    assert asyncio.run(scenario()) == 1500.0


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
@pytest.mark.parametrize("who", ["anonymous", "operator"])
def test_only_engineers_may_call_approve(attacked, pki, who):
    async def scenario():
        ep, ns = attacked.endpoint, attacked.ns
        rec_id, gen = await published(attacked)
        creds = dcs(pki) if who == "anonymous" else dcs(pki, user="olga", password="op")
        c = await connect(ep, creds)
        with pytest.raises(ua.UaStatusCodeError, match="BadUserAccessDenied"):
            await c.get_node(space.ROOT.node_id(ns)).call_method(space.method(space.APPROVE).node_id(ns), rec_id, "x")
        with pytest.raises(ua.UaStatusCodeError, match="BadUserAccessDenied"):  # nothing is writable
            await c.get_node(space.header(space.STATUS).node_id(ns)).write_value("approved")
        with pytest.raises(ua.UaStatusCodeError, match="BadUserAccessDenied"):  # a setpoint least of all
            await c.get_node(space.setpoint(gen, "H0", "SiMn").node_id(ns)).write_value(9999.0)
        status = await c.get_node(space.header(space.STATUS).node_id(ns)).read_value()
        await c.disconnect()
        return status

    assert asyncio.run(scenario()) == "proposed"
    assert [e for e in read_audit(attacked.state) if e["event"] == "approved"] == []


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_expired_trusted_channel_certificate_without_createsession_certificate(cfg, pki, tmp_path):
    """A trusted but expired certificate on the channel, not repeated in CreateSession (so asyncua's validator
    never sees it): refused at activation by the channel-certificate check."""
    now = datetime.now(UTC)
    cert, key = dated_certificate(tmp_path / "c", "old-dcs", now - timedelta(days=400), now - timedelta(days=1))
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    shutil.copy(cert, trusted)
    shutil.copy(pki["dcs"][0], trusted)

    async def scenario():
        srv, ep = secure_server(cfg, pki, tmp_path / "state", trusted_dir=trusted)
        async with srv:
            r = rec()
            await srv.publish(r)
            return await attempt(ep, srv.ns, r.recommendation_id, app="old-dcs", channel=(cert, key, pki["server"][0]),
                                 user="alice", password="s3cret")

    assert asyncio.run(scenario()) == []
