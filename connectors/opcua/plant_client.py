"""Client connector for plants whose DCS hosts the OPC UA server: write setpoints, read plant values.

Node ids come from the config's versioned node map: ``setpoint_prefix + "<heat_id>.<material>"`` (kg),
``"<heat_id>.ArcEnergy"`` (kWh) and ``"<heat_id>.Samples"`` (``address_space.plant_setpoint_id``);
``current_heat_id`` and ``measured_temperature_degC`` are read. Every write is preceded by the hard-limit check
(nothing is written if any setpoint fails it, or if the recommendation is expired or not approved) and followed
by a read-back; lost connections are retried with bounded exponential backoff and a fresh session.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from asyncua import Client, ua

from connectors.opcua import address_space as space
from connectors.opcua.client import Credentials, connect
from optimizer.config import PlantConfig
from optimizer.recommendation import Recommendation
from optimizer.safety import check_recommendation

log = logging.getLogger(__name__)


class RefusedWrite(ValueError):
    """The recommendation may not be written (safety, expiry or approval); nothing was written."""


class WriteVerificationError(RuntimeError):
    """A value read back differs from the value written."""


@dataclass
class PlantWriter:
    """Writes approved, safe recommendations to the plant's OPC UA server (see module doc)."""

    cfg: PlantConfig
    endpoint: str
    creds: Credentials
    attempts: int = 4
    backoff_s: float = 0.5
    require_approved: bool = True
    _client: Client | None = None

    async def close(self) -> None:
        if self._client is not None:
            try:
                await self._client.disconnect()
            except (TimeoutError, OSError, ua.UaError, RuntimeError):
                pass  # the server may already be gone
            self._client = None

    async def _session(self) -> Client:
        if self._client is None:
            self._client = await connect(self.endpoint, self.creds)
        return self._client

    async def _retry(self, action):  # noqa: ANN001, ANN202
        delay = self.backoff_s
        for attempt in range(1, self.attempts + 1):
            try:
                return await action(await self._session())
            except (TimeoutError, OSError, ConnectionError, ua.UaError) as exc:
                if isinstance(exc, ua.UaStatusCodeError) and "BadUserAccessDenied" in str(exc):
                    raise
                log.warning("OPC UA attempt %d/%d failed: %s", attempt, self.attempts, exc)
                await self.close()
                if attempt == self.attempts:
                    raise
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def _targets(self, rec: Recommendation) -> list[tuple[str, float | int, ua.VariantType]]:
        p = self.cfg.opcua.node_map.setpoint_prefix
        out: list[tuple[str, float | int, ua.VariantType]] = []
        for h in rec.heats:
            if not h.feasible:
                continue
            for m in self.cfg.material_names:
                out.append((space.plant_setpoint_id(p, h.heat_id, m), float(h.additions_kg.get(m, 0.0)),
                            ua.VariantType.Double))
            out.append((space.plant_setpoint_id(p, h.heat_id, space.PLANT_ARC_ENERGY), float(h.arc_energy_kWh),
                        ua.VariantType.Double))
            out.append((space.plant_setpoint_id(p, h.heat_id, space.PLANT_SAMPLES), int(h.n_samples),
                        ua.VariantType.UInt16))
        return out

    async def write_recommendation(self, rec: Recommendation, previous: Recommendation | None = None) -> int:
        """Check, write, read back; returns the number of values written."""
        problems = [p.reason for p in check_recommendation(rec, self.cfg, previous)]
        if self.require_approved and rec.status != "approved":
            problems.append(f"status is {rec.status!r}: an engineer must approve it first")
        if problems:
            raise RefusedWrite(f"recommendation {rec.recommendation_id} not written: " + "; ".join(problems[:10]))
        targets = self._targets(rec)

        async def write(client: Client) -> int:
            nodes = [client.get_node(ua.NodeId.from_string(n)) for n, _, _ in targets]
            await client.write_values(nodes, [ua.Variant(v, t) for _, v, t in targets])
            back = await client.read_values(nodes)
            wrong = [(n, v, b) for (n, v, _), b in zip(targets, back, strict=True) if b != v]
            if wrong:
                raise WriteVerificationError(f"read-back differs for {len(wrong)} nodes, e.g. {wrong[:3]}")
            return len(nodes)

        return await self._retry(write)

    async def read_plant_values(self) -> dict[str, object]:
        """Current heat id and measured temperature from the plant's server."""
        nm = self.cfg.opcua.node_map

        async def read(client: Client) -> dict[str, object]:
            nodes = [client.get_node(ua.NodeId.from_string(n)) for n in (nm.current_heat_id,
                                                                          nm.measured_temperature_degC)]
            heat, temp = await client.read_values(nodes)
            return {"current_heat_id": heat, "measured_temperature_degC": temp}

        return await self._retry(read)
