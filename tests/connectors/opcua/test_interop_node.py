"""Interoperability: node-opcua (an independent OPC UA stack) as the DCS against our asyncua setpoint server.

node-opcua 2.186.4 is installed once with npm into ``.dosing/node-opcua`` (git-ignored). The test is skipped,
saying why, where Node.js/npm are missing or the npm registry cannot be reached.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from filelock import FileLock

from connectors.opcua import SetpointServer, create_certificate
from connectors.opcua.security import application_uri
from tests.connectors.opcua.conftest import rec
from tests.ports import free_port

pytestmark = pytest.mark.slow  # a node-opcua client in Node.js

NODE_OPCUA = "node-opcua@2.186.4"
HERE = Path(__file__).parent
CACHE = Path(__file__).resolve().parents[3] / ".dosing" / "node-opcua"
INSTALL_BOUND_S = 300


@pytest.fixture(scope="module")
def node_opcua() -> Path:
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("Node.js/npm not installed: no independent OPC UA client to test against")
    CACHE.mkdir(parents=True, exist_ok=True)
    # one install at a time into the shared cache (parallel workers, a second run in the same checkout); the
    # check is inside the lock so nobody uses a half-installed node_modules
    with FileLock(str(CACHE / "install.lock"), timeout=INSTALL_BOUND_S + 60):
        if not (CACHE / "node_modules" / "node-opcua").is_dir():
            proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(CACHE),
                                   NODE_OPCUA], capture_output=True, text=True, timeout=INSTALL_BOUND_S)
            if proc.returncode != 0:
                pytest.skip(f"npm install {NODE_OPCUA} failed: {proc.stderr[-500:]}")
    return CACHE / "node_modules"


def test_node_opcua_dcs_reads_setpoints_and_only_engineers_approve(cfg, pki, node_opcua, tmp_path):
    cert_der, key = asyncio.run(create_certificate(tmp_path / "node", "node-dcs", "localhost", client=True))
    cert_pem = tmp_path / "node" / "node-dcs.crt.pem"
    cert_pem.write_bytes(x509.load_der_x509_certificate(cert_der.read_bytes()).public_bytes(Encoding.PEM))
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    shutil.copy(cert_der, trusted)

    async def scenario() -> dict:
        ep = f"opc.tcp://127.0.0.1:{free_port()}/dosing/"
        srv = SetpointServer(cfg, ep, tmp_path / "state", users=pki["users"], certificate=pki["server"][0],
                             private_key=pki["server"][1], trusted_dir=trusted)
        async with srv:
            await srv.publish(rec())
            spec = {"endpoint": ep, "namespace": cfg.opcua.namespace_uri, "pki": str(tmp_path / "node-pki"),
                    "certificate": str(cert_pem), "privateKey": str(key), "serverCertificate": str(pki["server"][0]),
                    "name": "node-dcs", "applicationUri": application_uri("node-dcs"), "user": "alice",
                    "password": "s3cret"}
            (tmp_path / "spec.json").write_text(json.dumps(spec))
            proc = await asyncio.create_subprocess_exec(
                "node", str(HERE / "interop_client.js"), str(tmp_path / "spec.json"),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={"NODE_PATH": str(node_opcua),
                                                                                   "PATH": "/usr/bin:/bin"})
            out, err = await asyncio.wait_for(proc.communicate(), 120)
            assert proc.returncode == 0, err.decode()[-3000:]
            lines = [ln for ln in out.decode().splitlines() if ln.startswith("RESULT ")]  # node-opcua logs too
            assert lines, out.decode()[-3000:]
            return json.loads(lines[-1].removeprefix("RESULT "))

    got = asyncio.run(scenario())
    assert got["generation"] == 1
    assert got["simn_kg"] == 1500.0 and got["arc_kWh"] == 3001.0 and got["simn_unit"] == "kg"
    assert got["simn_range"] == [cfg.material("SiMn").min_kg_per_heat, cfg.material("SiMn").max_kg_per_heat]
    assert got["simn_type"] == got["arc_type"] == ["ns=0;i=2368"]  # AnalogItemType, as another stack sees it
    assert got["status_before"] == "proposed"
    assert got["anonymous_call"] == "BadUserAccessDenied" and got["anonymous_write"] == "BadUserAccessDenied"
    assert got["engineer_wrong_id"] == "BadInvalidArgument"
    assert got["engineer_call"] == "Good" and got["engineer_call_output"] == "approved"
    assert got["status_after"] == "approved"
    assert got["wrong_password"] == "BadUserAccessDenied"
