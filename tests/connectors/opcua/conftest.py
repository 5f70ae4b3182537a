"""Shared OPC UA fixtures: a PKI (server, trusted DCS, untrusted intruder), users, recommendations, servers."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from pathlib import Path

import pytest

from connectors.opcua import Credentials, SetpointServer, add_user, create_certificate
from optimizer.recommendation import HeatRecommendation, Interval, Recommendation


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def secure_server(cfg, pki, state: Path, **kw) -> tuple[SetpointServer, str]:
    ep = f"opc.tcp://127.0.0.1:{free_port()}/dosing/"
    kw.setdefault("trusted_dir", pki["dir"] / "trusted")
    return SetpointServer(cfg, ep, state, users=pki["users"], certificate=pki["server"][0],
                          private_key=pki["server"][1], **kw), ep


def dcs(pki, **kw) -> Credentials:
    return Credentials(pki["dcs"][0], pki["dcs"][1], pki["server"][0], name="dcs", **kw)
