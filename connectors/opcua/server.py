"""The setpoint server the plant's DCS reads: one immutable subtree per published recommendation.

Address space: ``address_space`` (the ``Dosing`` object with its header variables and the Approve/Reject
Methods; one folder ``G<gen>`` per generation, one object per heat with its setpoints and predictions;
docs/opcua.md section 3). ``Generation`` is bumped last on every publish: the switch clients watch; it is
persisted and never goes back (also not across restarts).

Atomicity: a new generation's subtree is complete before ``Generation`` and the header change, so a client
reading Generation, then the subtree, then Generation again never mixes two recommendations. The previous
generation's subtree is kept until the next publish. Status comes only from authenticated decisions
(``approvals``); nothing in the address space is writable. Security: see ``access`` and docs/opcua.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

from asyncua import Node, Server, ua
from asyncua.crypto.security_policies import SecurityPolicyFactory, SecurityPolicyNone
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions

from connectors.opcua import address_space as space
from connectors.opcua import approvals, inbox
from connectors.opcua.access import CALLER, DosingRules, DosingUserManager, RefuseAll, is_engineer
from connectors.opcua.checks import publish_problems, read_recommendation, summary
from connectors.opcua.security import PeerCertificateCheck, application_uri, load_trust_store, policy_types
from connectors.opcua.subtree import SubtreeBuilder
from optimizer.config import PlantConfig
from optimizer.recommendation import Recommendation

log = logging.getLogger(__name__)
STRING_TYPE = space.standard_node_id(ua.ObjectIds.String)
METHOD_ARGS = [ua.Argument(Name=name, DataType=STRING_TYPE, ValueRank=-1, Description=ua.LocalizedText(text))
               for name, text in space.METHOD_INPUTS]
METHOD_OUT = [ua.Argument(Name=space.METHOD_OUTPUT, DataType=STRING_TYPE, ValueRank=-1)]


class UnsafeRecommendationError(ValueError):
    """A recommendation failed the checks (safety, structure, expiry): nothing was published."""


class SetpointServer:
    """asyncua server publishing recommendations (see module doc). Use ``async with``."""

    def __init__(self, cfg: PlantConfig, endpoint: str, state_dir: str | Path, users: dict | None = None,
                 certificate: Path | None = None, private_key: Path | None = None,
                 trusted_dir: Path | None = None, insecure: bool = False, inbox_poll_s: float = 1.0) -> None:
        if not insecure and (certificate is None or private_key is None):
            raise ValueError("secure mode needs --certificate and --private-key (create them with "
                             "`dosing certs create`), or --insecure-demo for a local demo")
        if not insecure and trusted_dir is None:
            raise ValueError("secure mode needs --trusted DIR with the DCS client certificates: without a trust "
                             "list any self-signed client certificate would be accepted")
        self.policies = policy_types(list(cfg.opcua.security_policies), insecure)
        self.cfg, self.endpoint, self.insecure, self.inbox_poll_s = cfg, endpoint, insecure, inbox_poll_s
        self.state_dir = Path(state_dir)
        self.users, self.certificate, self.private_key, self.trusted_dir = users or {}, certificate, private_key, \
            trusted_dir
        self.server: Server | None = None
        self.current: Recommendation | None = None
        self.generation = 0
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []
        self._audit_seen: float | None = None

    async def __aenter__(self) -> SetpointServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start serving; reload the last published recommendation and generation from the state directory."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.generation = _read_generation(self.state_dir)
        store = await load_trust_store(self.trusted_dir) if self.trusted_dir is not None else None
        check = PeerCertificateCheck(store) if store is not None else None
        srv = Server(user_manager=DosingUserManager(self.users, check, allow_no_certificate=self.insecure))
        await srv.init()
        srv.set_endpoint(self.endpoint)
        srv.set_server_name("steel-dosing setpoint server")
        await srv.set_application_uri(application_uri("dosing-server"))
        # asyncua annotates SimpleRoleRuleset but takes any PermissionRuleset (it calls only check_validity)
        srv.set_security_policy(self.policies, permission_ruleset=DosingRules())  # type: ignore[arg-type]
        srv.set_identity_tokens([ua.AnonymousIdentityToken, ua.UserNameIdentityToken])
        if self.certificate is not None:
            await srv.load_certificate(str(self.certificate))
            await srv.load_private_key(str(self.private_key))
        if store is not None:
            srv.set_certificate_validator(CertificateValidator(
                CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT, store))
        self.ns = await srv.register_namespace(self.cfg.opcua.namespace_uri)
        await self._build_header(srv)
        if not self.insecure:
            _refuse_none_channels(srv)  # before listening: no None channel without rules, ever
        await srv.start()
        gc.freeze()  # see _long_lived
        self.server = srv
        self.subtree = SubtreeBuilder(srv, self.root, self.ns, self.cfg)
        await self._reload()
        self._tasks.append(asyncio.create_task(self._heartbeat()))
        task = asyncio.create_task(self._watch_inbox())
        task.add_done_callback(self._publisher_died)
        self._tasks.append(task)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        self._tasks.clear()
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def _build_header(self, srv: Server) -> None:
        root = space.ROOT
        self.root = await srv.nodes.objects.add_object(root.node_id(self.ns), root.browse_name(self.ns))
        self.vars: dict[space.HeaderVariable, Node] = {}
        for var in space.HEADER:
            path = space.header(var)
            self.vars[var] = await self.root.add_variable(path.node_id(self.ns), path.browse_name(self.ns),
                                                          ua.Variant(var.initial, var.vtype))
        for m in space.METHODS:
            async def handler(parent, rec_id, comment, decision=m.decision):  # noqa: ANN001, ANN202, ARG001
                return await self._decision_method(decision, rec_id, comment)
            path = space.method(m)
            await self.root.add_method(path.node_id(self.ns), path.browse_name(self.ns), handler, METHOD_ARGS,
                                       METHOD_OUT)

    async def _set(self, var: space.HeaderVariable, value: object) -> None:
        await self.vars[var].write_value(ua.Variant(value, var.vtype))

    # ---- publishing ---------------------------------------------------------------------------------------------

    async def publish(self, rec: Recommendation) -> int:
        """Check, then show ``rec`` atomically and persist it; returns the new generation. The file's status is
        ignored: it is shown as proposed until an engineer decides."""
        if rec.status != "proposed" or rec.status_by:
            log.warning("recommendation %s: status %r/%r in the file ignored (only authenticated approvals count)",
                        rec.recommendation_id, rec.status, rec.status_by)
        rec = rec.model_copy(update={"status": "proposed", "status_by": ""})
        problems = publish_problems(rec, self.cfg, previous=self.current)
        if problems:
            raise UnsafeRecommendationError(f"recommendation {rec.recommendation_id} refused, nothing published: "
                                            f"{summary(problems)}")
        gen = await self._show(rec, persist=True)
        approvals.append_audit(self.state_dir, {"event": "published", "recommendation_id": rec.recommendation_id,
                                                "generation": gen, "heats": len(rec.heats)})
        return gen

    async def _show(self, rec: Recommendation, persist: bool) -> int:
        async with self._lock, _long_lived():
            gen = self.generation + 1
            await self.subtree.build(gen, rec)
            try:
                _atomic_write(self.state_dir / "generation", str(gen))  # before the switch: numbers never repeat
                if persist:
                    _atomic_write(self.state_dir / "current.json", rec.model_dump_json(indent=1))
            except OSError:
                await self.subtree.drop(gen)
                raise
            self.current = approvals.with_decided_status(rec, self.state_dir)
            await self._write_header(self.current)
            await self._set(space.GENERATION, gen)  # the switch
            old, self.generation = self.generation, gen
            if old >= 2:
                await self.subtree.drop(old - 1)
            return gen

    async def _write_header(self, rec: Recommendation) -> None:
        status = "expired" if rec.is_expired() else rec.status
        header: dict[space.HeaderVariable, object] = {
            space.RECOMMENDATION_ID: rec.recommendation_id, space.CREATED_AT: rec.created_at.isoformat(),
            space.VALID_UNTIL: rec.valid_until.isoformat(), space.STATUS: status, space.STATUS_BY: rec.status_by,
            space.MODEL_VERSIONS: json.dumps(rec.model_versions), space.RECOMMENDATION_JSON: rec.model_dump_json(),
            space.HEAT_COUNT: len(rec.heats)}
        for var, value in header.items():
            await self._set(var, value)

    async def _reload(self) -> None:
        saved = self.state_dir / "current.json"
        if not saved.exists():
            return
        try:
            await self._show(read_recommendation(saved), persist=False)
        except Exception as exc:  # noqa: BLE001 - a broken state file must not keep the server from starting
            log.error("could not re-publish %s after restart: %s", saved, exc)
            await self._set_health(False, f"{saved.name}: not re-published after restart: {exc}")

    async def _watch_inbox(self) -> None:
        """Publish recommendations dropped into ``<state>/inbox`` (``dosing publish``); refuse the others."""
        while True:
            for path in inbox.pending(self.state_dir):
                await self._publish_file(path)
            await asyncio.sleep(self.inbox_poll_s)

    async def _publish_file(self, path: Path) -> None:
        """Publish one inbox file, or refuse it with its reason; never raises (one bad file must not stop
        publishing)."""
        try:
            gen = await self.publish(read_recommendation(path))
        except Exception as exc:  # noqa: BLE001 - any failure refuses this file only (issue 17)
            reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            log.error("publisher: refused %s: %s", path.name, reason)
            await self._set_health(False, f"{path.name}: {reason}")
            try:
                inbox.refuse(path, reason)
                inbox.write_verdict(self.state_dir, path.stem, {"verdict": "refused", "reason": reason})
                approvals.append_audit(self.state_dir, {"event": "refused", "recommendation_id": path.stem,
                                                        "reason": reason})
            except OSError as move_exc:
                log.error("publisher: could not move %s aside (%s); removing it from the inbox", path, move_exc)
                path.unlink(missing_ok=True)
            return
        path.unlink(missing_ok=True)
        inbox.write_verdict(self.state_dir, path.stem, {"verdict": "published", "generation": gen})
        await self._set_health(True, "")
        log.info("published %s as generation %d", path.stem, gen)

    def _publisher_died(self, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        log.error("publisher stopped: %r; no further recommendations will be published", task.exception())
        self._tasks.append(asyncio.get_running_loop().create_task(
            self._set_health(False, f"publisher stopped: {task.exception()!r}")))

    async def _set_health(self, ok: bool, error: str) -> None:
        await self._set(space.PUBLISHER_OK, ok)
        await self._set(space.PUBLISHER_ERROR, error)

    async def _heartbeat(self) -> None:
        beat = 0
        while True:
            await asyncio.sleep(1.0)
            beat += 1
            await self._set(space.HEARTBEAT, beat)
            await self._refresh_status()

    # ---- approval -----------------------------------------------------------------------------------------------

    async def decide(self, recommendation_id: str, decision: approvals.Decision, user: str, comment: str,
                     via: str) -> dict:
        """Record an authenticated engineer's decision (see ``approvals.decide``) and show it."""
        entry = approvals.decide(self.state_dir, self.current, recommendation_id, decision, user, comment, via)
        await self._refresh_status(force=True)
        return entry

    async def _decision_method(self, decision: approvals.Decision, rec_id: ua.Variant, comment: ua.Variant):  # noqa: ANN202
        user = CALLER.get()
        if not is_engineer(user):  # the rules already refuse Call to non-engineers; checked again here
            log.warning("refused %s by %r: not an engineer", decision, user)
            return _status(ua.StatusCodes.BadUserAccessDenied)
        try:
            await self.decide(str(rec_id.Value or ""), decision, str(user.name), str(comment.Value or ""),
                              via="opcua")
        except approvals.ApprovalRefused as exc:
            log.warning("refused %s by %s: %s", decision, user.name, exc)
            wrong_id = self.current is not None and str(rec_id.Value) != self.current.recommendation_id
            return _status(ua.StatusCodes.BadInvalidArgument if wrong_id else ua.StatusCodes.BadInvalidState)
        return [ua.Variant(decision, ua.VariantType.String)]

    async def _refresh_status(self, force: bool = False) -> None:
        """Show the latest decision (also those made with ``dosing approve`` at the host) and expiry."""
        if self.current is None:
            return
        path = approvals.audit_file(self.state_dir)
        stamp = path.stat().st_mtime_ns if path.exists() else None
        if force or stamp != self._audit_seen:
            self._audit_seen = stamp
            self.current = approvals.with_decided_status(self.current, self.state_dir)
            await self._write_header(self.current)
        elif self.current.is_expired():
            await self._set(space.STATUS, "expired")


def _status(code: int) -> ua.StatusCode:
    """A Method's refusal (``ua.StatusCodes.*``)."""
    return ua.StatusCode(ua.UInt32(code))


@contextlib.asynccontextmanager
async def _long_lived() -> AsyncIterator[None]:
    """No cyclic-GC passes while a generation is built, then its nodes are frozen (like the standard address
    space at start): a full GC pass over asyncua's ~10^6 node objects held the event loop 0.4-1.2 s, the longest
    read gaps of a 200-heat publish. Dropped generations are still freed (by reference counting: memory stayed
    flat over 8 publishes of 200 heats)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.freeze()


def _refuse_none_channels(srv: Server) -> None:
    """Give SecurityPolicy None channels a rule set that refuses every session request.

    asyncua keeps a None channel with no rules for clients that skip endpoint matching even when None security
    is not offered (ECOSYSTEM.md); adding a None policy *without an endpoint* (``Server.start`` only appends the
    configured ones) makes such channels carry ``RefuseAll``. GetEndpoints/FindServers (no session) stay
    answered. Uses asyncua's policy list (private); test_none_channel_attacker fails if that changes."""
    srv._policies.append(SecurityPolicyFactory(SecurityPolicyNone, ua.MessageSecurityMode.None_,  # noqa: SLF001
                                               permission_ruleset=RefuseAll()))


def _read_generation(state_dir: Path) -> int:
    p = state_dir / "generation"
    try:
        return int(p.read_text().strip()) if p.exists() else 0
    except ValueError:
        raise ValueError(f"{p}: not a generation number; restore it (the last published generation) or delete "
                         "it only if no DCS relies on the numbering") from None


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
