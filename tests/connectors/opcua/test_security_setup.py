"""Secure-mode set-up (issue 17, findings 5, 6, 7): a trust list is required, only the configured policies are
offered, client certificates outside their validity dates are refused, secret files are written 0600."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
from datetime import UTC, datetime, timedelta

import pytest
from asyncua import Client, ua
from typer.testing import CliRunner

from connectors.cli import app
from connectors.opcua import Credentials, SetpointServer, add_user, connect, create_certificate
from connectors.opcua import address_space as space
from tests.connectors.opcua.conftest import dated_certificate, dcs, rec, secure_server
from tests.ports import free_port


def test_secure_mode_needs_a_trust_list(cfg, pki, tmp_path):
    with pytest.raises(ValueError, match="needs --trusted DIR.*any self-signed client certificate"):
        SetpointServer(cfg, "opc.tcp://127.0.0.1:4840/", tmp_path, certificate=pki["server"][0],
                       private_key=pki["server"][1])
    (tmp_path / "empty").mkdir()
    srv, _ = secure_server(cfg, pki, tmp_path / "state", trusted_dir=tmp_path / "empty")
    with pytest.raises(ValueError, match="holds no certificates"):
        asyncio.run(srv.start())


def test_cli_serve_without_trust_list_exits_2(pki, tmp_path):
    res = CliRunner().invoke(app, ["serve", "--endpoint", f"opc.tcp://127.0.0.1:{free_port()}/", "--state-dir",
                                   str(tmp_path), "--certificate", str(pki["server"][0]), "--private-key",
                                   str(pki["server"][1]), "--duration-s", "1"])
    assert res.exit_code == 2 and "needs --trusted DIR" in res.output, res.output


async def offered(ep: str) -> list[tuple[str, str]]:
    c = Client(ep, timeout=120)  # a hang guard: load must not turn a slow answer into a refusal
    eps = await c.connect_and_get_server_endpoints()
    return sorted((e.SecurityPolicyUri.rsplit("#", 1)[1], e.SecurityMode.name) for e in eps)


@pytest.mark.parametrize(("configured", "expected"), [
    (None, [("Aes128_Sha256_RsaOaep", "SignAndEncrypt"), ("Aes256_Sha256_RsaPss", "SignAndEncrypt"),
            ("Basic256Sha256", "SignAndEncrypt")]),
    (["Basic256Sha256_SignAndEncrypt"], [("Basic256Sha256", "SignAndEncrypt")]),
])
@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_only_configured_policies_are_offered(cfg, pki, tmp_path, configured, expected):
    if configured is not None:
        cfg = cfg.model_copy(update={"opcua": cfg.opcua.model_copy(update={"security_policies": configured})})

    async def scenario():
        srv, ep = secure_server(cfg, pki, tmp_path / "state")
        async with srv:
            got = await offered(ep)
            if configured is not None:  # Sign is not offered, so a Sign client is refused
                with pytest.raises((ua.UaError, TimeoutError, ConnectionError)):
                    await connect(ep, dcs(pki, mode="Sign"))
        return got

    assert asyncio.run(scenario()) == expected


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_client_certificates_outside_their_dates_are_refused(cfg, pki, tmp_path):
    now = datetime.now(UTC)
    day, d = timedelta(days=1), tmp_path / "c"
    certs = {"expired": dated_certificate(d, "old-dcs", now - 400 * day, now - day),
             "future": dated_certificate(d, "new-dcs", now + day, now + 400 * day),
             "valid": dated_certificate(d, "ok-dcs", now - day, now + 400 * day)}
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    for cert, _ in certs.values():
        shutil.copy(cert, trusted)

    async def scenario():
        srv, ep = secure_server(cfg, pki, tmp_path / "state", trusted_dir=trusted)
        out = {}
        async with srv:
            await srv.publish(rec())
            for label, (cert, key) in certs.items():
                name = cert.stem
                try:
                    c = await connect(ep, Credentials(cert, key, pki["server"][0], name=name))
                except ua.UaStatusCodeError as exc:
                    out[label] = type(exc).__name__
                    continue
                out[label] = await c.get_node(space.setpoint(1, "H0", "SiMn").node_id(srv.ns)).read_value()
                await c.disconnect()
        return out

    assert asyncio.run(scenario()) == {"expired": "BadCertificateTimeInvalid", "future": "BadCertificateTimeInvalid",
                                       "valid": 1500.0}


def test_secret_files_are_written_0600(tmp_path):
    _, key = asyncio.run(create_certificate(tmp_path / "pki", "dosing-server", "localhost"))
    add_user(tmp_path / "users.json", "alice", "pw")
    add_user(tmp_path / "users.json", "bob", "pw2", "operator")  # rewriting keeps 0600
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "users.json").st_mode) == 0o600
    key.chmod(0o644)  # an old key from before the fix gets its mode fixed when reused
    asyncio.run(create_certificate(tmp_path / "pki", "dosing-server", "localhost"))
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
