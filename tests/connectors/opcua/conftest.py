"""Shared OPC UA fixtures: a PKI (server, trusted DCS, untrusted intruder), users, recommendations, servers.

A server start costs ~2.3 s of CPU (asyncua builds the standard address space) and its stop ~1 s of waiting, so
tests that need only an identically configured server and leave no state that matters to another test share
one per module: ``SharedServer`` (see its rules). Every other test starts its own with ``secure_server``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from connectors.opcua import Credentials, SetpointServer, add_user, create_certificate
from connectors.opcua.security import application_uri
from optimizer.recommendation import HeatRecommendation, Interval, Recommendation
from tests.ports import free_port

T = TypeVar("T")

# asyncua warnings a correctly set up session never logs (issue 21: the demo printed them)
SETUP_NOISE = ("DNSNames", "does not contain the application uri", "Requested session timeout",
               "Revised values returned differ")


def setup_noise(caplog) -> list[str]:  # noqa: ANN001
    """asyncua's set-up warnings captured in ``caplog`` (empty when certificates and session match)."""
    return [r.getMessage() for r in caplog.records if any(n in r.getMessage() for n in SETUP_NOISE)]


def rec(n_heats: int = 3, simn: float = 1500.0, **kw: object) -> Recommendation:
    heats = [HeatRecommendation(heat_id=f"H{i}", grade="S355J2", steel_weight_t=100.0,
                                additions_kg={"SiMn": simn + i, "Lime": 500.0}, arc_energy_kWh=3000.0 + i, n_samples=2,
                                predicted_temperature_degC=Interval(predicted=1590, low=1585, high=1595))
             for i in range(n_heats)]
    return Recommendation.new("LF-1", heats, 12.0, **kw)


@pytest.fixture(scope="session")
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
    return {"dir": d, "server": server, "dcs": dcs, "intruder": intruder, "users_file": d / "users.json",
            "users": json.loads((d / "users.json").read_text())}


@dataclass(frozen=True)
class PlantPki:
    """A plant DCS server's certificate and key, and ours for connecting to it as ``client_name``."""

    server: tuple[Path, Path]
    client: tuple[Path, Path]
    client_name: str

    def credentials(self, **kw: object) -> Credentials:
        """A secured channel to the plant's server with our client certificate."""
        return Credentials(self.client[0], self.client[1], self.server[0], name=self.client_name, **kw)


@pytest.fixture(scope="session")
def plant_pki(tmp_path_factory) -> Callable[[str], PlantPki]:
    """``plant_pki(client_name)``: the plant DCS server's certificate (made once) and a client certificate named
    as the command that connects names itself (``dosing-advisor``, ``dosing-client``; made once per name)."""
    d = tmp_path_factory.mktemp("plant-pki")
    server = asyncio.run(create_certificate(d / "dcs", "plant-dcs", "localhost"))
    clients: dict[str, tuple[Path, Path]] = {}

    def make(client_name: str) -> PlantPki:
        if client_name not in clients:
            clients[client_name] = asyncio.run(create_certificate(d / client_name, client_name, "localhost",
                                                                  client=True))
        return PlantPki(server, clients[client_name], client_name)

    return make


def secure_server(cfg, pki, state: Path, **kw) -> tuple[SetpointServer, str]:
    ep = f"opc.tcp://127.0.0.1:{free_port()}/dosing/"
    kw.setdefault("trusted_dir", pki["dir"] / "trusted")
    return SetpointServer(cfg, ep, state, users=pki["users"], certificate=pki["server"][0],
                          private_key=pki["server"][1], **kw), ep


class SharedServer:
    """One real ``SetpointServer`` for the tests of a module, on its own event loop in a background thread.

    Each test still runs its client side with ``asyncio.run``; a coroutine that touches the server's objects
    (``publish``, its nodes) runs on the server's loop through ``on_server``. Rules for sharing one:

    * only tests that need the server exactly as ``secure_server(cfg, pki, state)`` configures it (the module's
      fixture says how) and that change nothing another test relies on: each publishes its own recommendation
      and reads what it needs after that; absolute generation numbers, the exact audit log, approvals and
      restarts, inbox files and start-up log records (``setup_noise``) need a server of their own;
    * publishes here run on another thread than the test's reads, truly concurrent with them: a test whose
      reads race publishes (test_atomic_publish_under_concurrent_reads) keeps its server on its own loop;
    * the module goes into one group of tests/xdist_groups.py, else xdist spreads its tests over the workers
      and each starts the server again.
    """

    def __init__(self, server: SetpointServer, endpoint: str, state: Path) -> None:
        self.server, self.endpoint, self.state = server, endpoint, state
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="shared-opcua-server", daemon=True)

    async def on_server(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the server's loop (from a test's own loop)."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    @property
    def ns(self) -> int:
        return self.server.ns

    @contextmanager
    def serving(self) -> Iterator[SharedServer]:
        """Start the thread and the server; stop both (bounded waits: hang guards, not speed expectations)."""
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(timeout=300)
            try:
                yield self
            finally:
                asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout=300)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=60)
            self.loop.close()


def dcs(pki, **kw) -> Credentials:
    return Credentials(pki["dcs"][0], pki["dcs"][1], pki["server"][0], name="dcs", **kw)


def dated_certificate(d: Path, name: str, not_before: datetime, not_after: datetime) -> tuple[Path, Path]:
    """A client certificate complete in every other respect (URI, key usages), made with cryptography."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(application_uri(name)),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=True,
                                         data_encipherment=True, key_agreement=False, key_cert_sign=True,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.der").write_bytes(cert.public_bytes(serialization.Encoding.DER))
    (d / f"{name}.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
    return d / f"{name}.der", d / f"{name}.pem"
