"""The setpoint server the plant's DCS reads: one immutable subtree per published recommendation.

Address space (namespace ``cfg.opcua.namespace_uri``, string node ids):

    Dosing                                   object
      Generation            UInt32           bumped last on every publish: the switch clients watch
      RecommendationId, CreatedAt, ValidUntil, Status, StatusBy, ModelVersions (JSON), HeatCount
      RecommendationJson    String           the whole recommendation, written in one write
      Heartbeat             UInt32           +1 per second (watchdog)
      Approval              String, writable by engineers: "approve: <comment>" or "reject: <comment>"
      G<gen>                folder           immutable once Generation points at it
        <heat_id>           object
          HeatId, Grade, Feasible, Samples (UInt16), ArcEnergy (AnalogItem, kWh)
          Setpoints/<material>   AnalogItem Double, kg, EURange = material min..max
          Predicted/<element>    Double wt%;   Predicted/Temperature  Double degC

Node ids: ``ns=<ns>;s=Dosing.Generation``, ``ns=<ns>;s=Dosing.G<gen>.<heat_id>.Setpoints.<material>`` ...
Atomicity: a new generation's subtree is complete before ``Generation`` and the header change, so a client
reading Generation, then the subtree, then Generation again never mixes two recommendations. The previous
generation's subtree is kept until the next publish.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from asyncua import Server, ua
from asyncua.common.callback import CallbackType
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions

from connectors.opcua import inbox
from connectors.opcua.security import DosingUserManager, ReadOnlyAnonymous, application_uri
from optimizer.config import PlantConfig
from optimizer.recommendation import Recommendation
from optimizer.safety import check_recommendation

log = logging.getLogger(__name__)
KG = ua.EUInformation(NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact", UnitId=4933453,
                      DisplayName=ua.LocalizedText("kg"), Description=ua.LocalizedText("kilogram"))
KWH = ua.EUInformation(NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact", UnitId=4937544,
                       DisplayName=ua.LocalizedText("kWh"), Description=ua.LocalizedText("kilowatt hour"))


class UnsafeRecommendationError(ValueError):
    """A recommendation failed the safety check: nothing was published."""


class SetpointServer:
    """asyncua server publishing recommendations (see module doc). Use ``async with``."""

    def __init__(self, cfg: PlantConfig, endpoint: str, state_dir: str | Path, users: dict | None = None,
                 certificate: Path | None = None, private_key: Path | None = None,
                 trusted_dir: Path | None = None, insecure: bool = False) -> None:
        if not insecure and (certificate is None or private_key is None):
            raise ValueError("secure mode needs --certificate and --private-key (create them with "
                             "`dosing certs create`), or --insecure-demo for a local demo")
        self.cfg, self.endpoint, self.insecure = cfg, endpoint, insecure
        self.state_dir = Path(state_dir)
        self.users, self.certificate, self.private_key, self.trusted_dir = users or {}, certificate, private_key, \
            trusted_dir
        self.server: Server | None = None
        self.current: Recommendation | None = None
        self.generation = 0
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []

    async def __aenter__(self) -> SetpointServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start serving; reload the last published recommendation from the state directory."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        srv = Server(user_manager=DosingUserManager(self.users, require_certificate=not self.insecure))
        await srv.init()
        srv.set_endpoint(self.endpoint)
        srv.set_server_name("steel-dosing setpoint server")
        await srv.set_application_uri(application_uri("dosing-server"))
        policies = [ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt, ua.SecurityPolicyType.Basic256Sha256_Sign]
        if self.insecure:
            policies.insert(0, ua.SecurityPolicyType.NoSecurity)
        srv.set_security_policy(policies, permission_ruleset=ReadOnlyAnonymous())
        srv.set_identity_tokens([ua.AnonymousIdentityToken, ua.X509IdentityToken, ua.UserNameIdentityToken])
        if self.certificate is not None:
            await srv.load_certificate(str(self.certificate))
            await srv.load_private_key(str(self.private_key))
        if self.trusted_dir is not None:
            store = TrustStore([Path(self.trusted_dir)], [])
            await store.load()
            srv.set_certificate_validator(CertificateValidator(
                CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT, store))
        self.ns = await srv.register_namespace(self.cfg.opcua.namespace_uri)
        await self._build_header(srv)
        await srv.start()
        self.server = srv
        srv.iserver.subscribe_server_callback(CallbackType.PostWrite, self._on_write)
        self._tasks.append(asyncio.create_task(self._heartbeat()))
        self._tasks.append(asyncio.create_task(self._watch_inbox()))
        saved = self.state_dir / "current.json"
        if saved.exists():
            await self._show(Recommendation.from_json(saved), persist=False)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        self._tasks.clear()
        if self.server is not None:
            await self.server.stop()
            self.server = None

    def nid(self, path: str) -> ua.NodeId:
        return ua.NodeId(f"Dosing.{path}" if path else "Dosing", self.ns)

    async def _build_header(self, srv: Server) -> None:
        self.root = await srv.nodes.objects.add_object(self.nid(""), ua.QualifiedName("Dosing", self.ns))
        self.vars = {}
        for name, value, vtype in [
            ("Generation", 0, ua.VariantType.UInt32), ("RecommendationId", "", ua.VariantType.String),
            ("CreatedAt", "", ua.VariantType.String), ("ValidUntil", "", ua.VariantType.String),
            ("Status", "none", ua.VariantType.String), ("StatusBy", "", ua.VariantType.String),
            ("ModelVersions", "{}", ua.VariantType.String), ("HeatCount", 0, ua.VariantType.UInt32),
            ("RecommendationJson", "", ua.VariantType.String), ("Heartbeat", 0, ua.VariantType.UInt32),
            ("Approval", "", ua.VariantType.String),
        ]:
            self.vars[name] = await self.root.add_variable(self.nid(name), ua.QualifiedName(name, self.ns),
                                                           ua.Variant(value, vtype))
        await self.vars["Approval"].set_writable(True)

    async def publish(self, rec: Recommendation) -> int:
        """Check, then show ``rec`` atomically and persist it; returns the new generation."""
        problems = check_recommendation(rec, self.cfg, previous=self.current)
        if problems:
            lines = "; ".join(f"heat {p.heat_id} {p.field}={p.value}: {p.reason}" for p in problems[:10])
            raise UnsafeRecommendationError(f"recommendation {rec.recommendation_id} refused, nothing published: "
                                            f"{lines}")
        return await self._show(rec, persist=True)

    async def _show(self, rec: Recommendation, persist: bool) -> int:
        async with self._lock:
            gen = self.generation + 1
            await self._build_generation(gen, rec)
            if persist:
                _atomic_write(self.state_dir / "current.json", rec.model_dump_json(indent=1))
            status = "expired" if rec.is_expired() else rec.status
            header = {"RecommendationId": rec.recommendation_id, "CreatedAt": rec.created_at.isoformat(),
                      "ValidUntil": rec.valid_until.isoformat(), "Status": status, "StatusBy": rec.status_by,
                      "ModelVersions": json.dumps(rec.model_versions), "RecommendationJson": rec.model_dump_json()}
            for name, value in header.items():
                await self.vars[name].write_value(ua.Variant(value, ua.VariantType.String))
            await self.vars["HeatCount"].write_value(ua.Variant(len(rec.heats), ua.VariantType.UInt32))
            await self.vars["Generation"].write_value(ua.Variant(gen, ua.VariantType.UInt32))  # the switch
            old = self.generation
            self.generation, self.current = gen, rec
            if old >= 2:
                await self._drop_generation(old - 1)
            return gen

    async def _build_generation(self, gen: int, rec: Recommendation) -> None:
        folder = await self.root.add_folder(self.nid(f"G{gen}"), ua.QualifiedName(f"G{gen}", self.ns))
        for h in rec.heats:
            base = f"G{gen}.{h.heat_id}"
            obj = await folder.add_object(self.nid(base), ua.QualifiedName(h.heat_id, self.ns))
            for name, val, vt in [("HeatId", h.heat_id, ua.VariantType.String),
                                  ("Grade", h.grade, ua.VariantType.String),
                                  ("Feasible", h.feasible, ua.VariantType.Boolean),
                                  ("Samples", h.n_samples, ua.VariantType.UInt16),
                                  ("Diagnosis", h.diagnosis, ua.VariantType.String)]:
                await obj.add_variable(self.nid(f"{base}.{name}"), ua.QualifiedName(name, self.ns), ua.Variant(val, vt))
            await self._analog(obj, f"{base}.ArcEnergy", "ArcEnergy", h.arc_energy_kWh, KWH,
                               (0.0, self.cfg.safety.max_arc_energy_kWh))
            sp = await obj.add_folder(self.nid(f"{base}.Setpoints"), ua.QualifiedName("Setpoints", self.ns))
            for m in self.cfg.materials:
                await self._analog(sp, f"{base}.Setpoints.{m.name}", m.name, h.additions_kg.get(m.name, 0.0), KG,
                                   (m.min_kg_per_heat, m.max_kg_per_heat))
            pr = await obj.add_folder(self.nid(f"{base}.Predicted"), ua.QualifiedName("Predicted", self.ns))
            for el, iv in h.predicted_wt_pct.items():
                await pr.add_variable(self.nid(f"{base}.Predicted.{el}"), ua.QualifiedName(el, self.ns), iv.predicted)
            if h.predicted_temperature_degC is not None:
                await pr.add_variable(self.nid(f"{base}.Predicted.Temperature"),
                                      ua.QualifiedName("Temperature", self.ns), h.predicted_temperature_degC.predicted)

    async def _analog(self, parent, path: str, name: str, value: float, unit: ua.EUInformation,
                      eu_range: tuple[float, float]) -> None:
        node = await parent.add_variable(self.nid(path), ua.QualifiedName(name, self.ns),
                                         ua.Variant(float(value), ua.VariantType.Double),
                                         varianttype=ua.NodeId(ua.ObjectIds.AnalogItemType),
                                         datatype=ua.NodeId(ua.ObjectIds.Double))
        await node.add_property(self.nid(f"{path}.EngineeringUnits"), "EngineeringUnits", unit)
        await node.add_property(self.nid(f"{path}.EURange"), "EURange",
                                ua.Range(Low=float(eu_range[0]), High=float(eu_range[1])))

    async def _drop_generation(self, gen: int) -> None:
        node = self.server.get_node(self.nid(f"G{gen}"))
        try:
            # Only the generation folder is referenced from outside its subtree. Deleting the children without
            # "delete target references" avoids asyncua's scan of the whole address space per deleted node
            # (measured: 6-15 s for a 20-heat generation; experiments/bench_opcua.py).
            for child in await node.get_children():
                await child.delete(delete_references=False, recursive=True)
            await node.delete()
        except ua.UaError as exc:  # a missing old subtree is not worth failing a publish for
            log.warning("could not delete generation %s: %s", gen, exc)

    async def _heartbeat(self) -> None:
        beat = 0
        while True:
            await asyncio.sleep(1.0)
            beat += 1
            await self.vars["Heartbeat"].write_value(ua.Variant(beat, ua.VariantType.UInt32))
            if self.current is not None and self.current.is_expired():
                await self.vars["Status"].write_value(ua.Variant("expired", ua.VariantType.String))

    async def _watch_inbox(self) -> None:
        """Publish recommendations dropped into ``<state>/inbox`` (``dosing publish``); refuse unsafe ones."""
        while True:
            for path in inbox.pending(self.state_dir):
                try:
                    await self.publish(Recommendation.from_json(path))
                    path.unlink()
                except (UnsafeRecommendationError, ValueError) as exc:
                    inbox.refuse(path, str(exc))
            await asyncio.sleep(1.0)

    async def _on_write(self, event, dispatcher) -> None:  # noqa: ANN001
        """Engineer approval: "approve: ..." or "reject: ..." written to Dosing.Approval."""
        for item in event.request_params.NodesToWrite:
            if item.NodeId != self.nid("Approval") or self.current is None:
                continue
            text = str(item.Value.Value.Value or "")
            verb = text.split(":", 1)[0].strip().lower()
            status = {"approve": "approved", "reject": "rejected"}.get(verb)
            if status is None:
                continue
            user = getattr(event.user, "name", None) or "unknown"
            self.current = self.current.model_copy(update={"status": status, "status_by": user})
            _atomic_write(self.state_dir / "current.json", self.current.model_dump_json(indent=1))
            with open(self.state_dir / "audit.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps({"time": datetime.now(UTC).isoformat(), "user": user, "status": status,
                                    "recommendation_id": self.current.recommendation_id, "comment": text}) + "\n")
            await self.vars["Status"].write_value(ua.Variant(status, ua.VariantType.String))
            await self.vars["StatusBy"].write_value(ua.Variant(user, ua.VariantType.String))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
