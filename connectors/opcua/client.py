"""Reading our setpoint server as a DCS does: a consistent snapshot of the current recommendation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from asyncua import Client, ua

from connectors.opcua import address_space as space
from connectors.opcua.security import application_uri
from optimizer.recommendation import Recommendation

MAX_SNAPSHOT_TRIES = 10
# asked of the server: asyncua servers grant at most 10 min (asking for its default 1 h only logs a warning);
# the session is kept alive by our own reads and subscriptions well within that
SESSION_TIMEOUT_MS = 600_000
SUMMARY = (space.ARC_ENERGY, space.SAMPLES, space.FEASIBLE)
"""The per-heat values ``read_setpoints`` returns beside the setpoints."""


@dataclass(frozen=True)
class Credentials:
    """How a client connects: certificate/key (with the server's certificate) and optional user."""

    certificate: Path | None = None
    private_key: Path | None = None
    server_certificate: Path | None = None
    mode: str = "SignAndEncrypt"  # or "Sign"
    policy: str = "Basic256Sha256"  # or "Aes256Sha256RsaPss", "Aes128Sha256RsaOaep"
    user: str | None = None
    password: str | None = None
    name: str = "dosing-client"


async def connect(endpoint: str, creds: Credentials) -> Client:
    """An open, secured client session (close it with ``await client.disconnect()``)."""
    client = Client(endpoint, timeout=10)
    client.session_timeout = SESSION_TIMEOUT_MS
    client.application_uri = application_uri(creds.name)
    if creds.certificate is not None:
        parts = [creds.policy, creds.mode, str(creds.certificate), str(creds.private_key)]
        if creds.server_certificate is not None:
            parts.append(str(creds.server_certificate))
        await client.set_security_string(",".join(parts))
    if creds.user:
        client.set_user(creds.user)
        client.set_password(creds.password or "")
    await client.connect()
    return client


async def read_snapshot(client: Client, namespace_uri: str) -> tuple[int, Recommendation | None]:
    """(generation, recommendation) read consistently: Generation before and after must agree."""
    ns = await client.get_namespace_index(namespace_uri)
    gen_node = client.get_node(space.header(space.GENERATION).node_id(ns))
    json_node = client.get_node(space.header(space.RECOMMENDATION_JSON).node_id(ns))
    for _ in range(MAX_SNAPSHOT_TRIES):
        before = await gen_node.read_value()
        text = await json_node.read_value()
        after = await gen_node.read_value()
        if before == after:
            return int(after), (Recommendation.model_validate_json(text) if text else None)
    raise RuntimeError(f"the recommendation changed {MAX_SNAPSHOT_TRIES} times while reading; try again")


async def read_setpoints(client: Client, namespace_uri: str, materials: list[str]) -> dict[str, dict[str, float]]:
    """Per heat id, the setpoints read node by node from the current generation's subtree (a DCS's view):
    ``{heat: {material: kg, "ArcEnergy": kWh, "Samples": n, "Feasible": 0/1}}`` (the browse names of
    ``SUMMARY``); retried if a publish happens meanwhile."""
    ns = await client.get_namespace_index(namespace_uri)
    gen_node = client.get_node(space.header(space.GENERATION).node_id(ns))
    for _ in range(MAX_SNAPSHOT_TRIES):
        gen = await gen_node.read_value()
        try:
            out = await _read_generation(client, ns, gen, materials)
        except ua.UaStatusCodeError as exc:  # two publishes meanwhile: the generation read was dropped
            if not isinstance(exc, ua.uaerrors.BadNodeIdUnknown):
                raise
            continue
        if await gen_node.read_value() == gen:
            return out
    raise RuntimeError("the recommendation kept changing while reading its setpoints")


async def _read_generation(client: Client, ns: int, gen: int, materials: list[str]) -> dict[str, dict[str, float]]:
    return await read_heats(client, ns, gen, await browse_heats(client, ns, gen), materials)


async def browse_heats(client: Client, ns: int, gen: int) -> list[str]:
    """The heat ids under generation ``gen``'s folder (none for generation 0, before the first publish)."""
    folder = client.get_node(space.generation(gen).node_id(ns))
    return [(await c.read_browse_name()).Name for c in await folder.get_children()] if gen else []


async def read_heats(client: Client, ns: int, gen: int, heats: list[str],
                     materials: list[str]) -> dict[str, dict[str, float]]:
    """The setpoints of ``heats`` in generation ``gen``, in one read. A node that is gone (the generation was
    dropped since it was browsed) raises its status (``BadNodeIdUnknown``): asyncua's ``read_values`` would give
    ``None`` for it instead."""
    nodes, keys = [], []
    for h in heats:
        for m in materials:
            nodes.append(client.get_node(space.setpoint(gen, h, m).node_id(ns)))
            keys.append((h, m))
        for leaf in SUMMARY:
            nodes.append(client.get_node(space.heat_value(gen, h, leaf).node_id(ns)))
            keys.append((h, leaf.name))
    results = await client.read_attributes(nodes, ua.AttributeIds.Value) if nodes else []
    out: dict[str, dict[str, float]] = {h: {} for h in heats}
    for (h, k), dv in zip(keys, results, strict=True):
        if dv.StatusCode is not None:
            dv.StatusCode.check()
        if dv.Value is None or dv.Value.Value is None:
            raise ValueError(f"generation {gen}, heat {h}: {k} has no value")
        out[h][k] = float(dv.Value.Value)
    return out
