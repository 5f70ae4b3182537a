"""``dosing serve``, ``dosing publish``, ``dosing approve|reject``, ``dosing certs``, ``dosing users``: the OPC UA
side."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import typer

from connectors.cli.app import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_PUBLISH,
    ConfigOption,
    app,
    config_or_exit,
    console,
    fail,
    out,
    stop_on_signals,
)
from connectors.opcua.users import AuthenticationError, add_user, authenticate_engineer, load_users

certs_app = typer.Typer(help="Application certificates for OPC UA (Basic256Sha256).")
users_app = typer.Typer(help="Users of the setpoint server (engineers may approve/reject; operators read).")
app.add_typer(certs_app, name="certs")
app.add_typer(users_app, name="users")
StateDir = typer.Option(Path(".dosing/opcua"), "--state-dir", help="Where the server keeps the current "
                        "recommendation, the audit log and the inbox.")
PasswordEnv = typer.Option("DOSING_PASSWORD", help="Environment variable holding the password (asked for when "
                           "unset).")
WAIT_POLL_S = 0.2


@certs_app.command("create")
def certs_create(out_dir: Path = typer.Option(..., "--out", help="Directory for NAME.der and NAME.pem (key)."),
                 name: str = typer.Option("dosing-server", help="Application name (URI urn:steel-dosing:NAME)."),
                 hostname: str = typer.Option("localhost", help="Host name written into the certificate."),
                 client: bool = typer.Option(False, help="A client certificate (e.g. for a DCS test client).")) -> None:
    """Create a self-signed application certificate and private key. Give peers the .der; keep the .pem."""

    from connectors.opcua.security import create_certificate

    cert, key = asyncio.run(create_certificate(out_dir, name, hostname, client=client))
    out.print(f"certificate {cert}\nprivate key {key} (keep it secret; trust {cert.name} on the peers)")


@users_app.command("add")
def users_add(file: Path = typer.Option(..., "--file", help="Users file (JSON; only salted hashes are stored)."),
              name: str = typer.Option(..., help="User name."),
              role: str = typer.Option("engineer", help="engineer (may approve/reject) or operator (read only)."),
              password_env: str = PasswordEnv) -> None:
    """Add or replace a user of the setpoint server."""

    password = os.environ.get(password_env) or typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        add_user(file, name, password, role)  # written 0600
    except ValueError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    out.print(f"user {name} ({role}) saved in {file}")


@app.command("serve")
def serve(
    endpoint: str = typer.Option(None, help="opc.tcp://HOST:PORT/PATH (default: the config's)."),
    config: Path = ConfigOption,
    state_dir: Path = StateDir,
    certificate: Path = typer.Option(None, help="Server certificate (.der) from `dosing certs create`."),
    private_key: Path = typer.Option(None, help="Server private key (.pem)."),
    trusted: Path = typer.Option(None, help="Directory of trusted client certificates."),
    users: Path = typer.Option(None, help="Users file from `dosing users add`."),
    insecure_demo: bool = typer.Option(False, "--insecure-demo", help="Also offer None security (local demo only)."),
    duration_s: float = typer.Option(0.0, help="Stop after this many seconds (0 = until Ctrl-C)."),
) -> None:
    """Serve the current recommendation to the DCS over OPC UA. New recommendations arrive with
    `dosing publish FILE` (or `dosing optimize` + publish) and appear atomically after the safety check."""
    from connectors.opcua.server import SetpointServer

    cfg = config_or_exit(config)
    insecure = insecure_demo or cfg.opcua.allow_none_security
    try:
        srv = SetpointServer(cfg, endpoint or cfg.opcua.endpoint, state_dir, users=load_users(users),
                             certificate=certificate, private_key=private_key, trusted_dir=trusted, insecure=insecure)
    except ValueError as exc:
        fail(str(exc), EXIT_BAD_INPUT)

    async def run() -> None:
        try:
            await srv.start()
        except ValueError as exc:  # e.g. an empty trust list
            fail(str(exc), EXIT_BAD_INPUT)
        try:
            console.print(f"serving on {srv.endpoint} (namespace {cfg.opcua.namespace_uri}, policies "
                          f"{', '.join(p.name for p in srv.policies)}); state in {state_dir}")
            stop = asyncio.Event()
            stop_on_signals(stop)
            try:
                await asyncio.wait_for(stop.wait(), duration_s if duration_s > 0 else None)
            except TimeoutError:  # --duration elapsed
                pass
        finally:
            await srv.stop()

    asyncio.run(run())
    console.print("stopped")


def _recommendation_file(recommendation: Path | None, recs_dir: Path, verb: str, code: int) -> Path:
    """The given recommendation file, else the latest one; exits with ``code`` if there is none."""
    path = recommendation or recs_dir / "latest.json"
    if not path.exists():
        fail(f"{path}: no recommendation to {verb} (run `dosing optimize` first)", code)
    return path


@app.command("publish")
def publish(recommendation: Path = typer.Argument(None, help="Recommendation JSON from `dosing optimize` "
                                                  "(default: the latest one)."),
            config: Path = ConfigOption,
            state_dir: Path = StateDir,
            recs_dir: Path = typer.Option(Path(".dosing/recommendations"), help="Where `dosing optimize` writes."),
            retry: bool = typer.Option(False, "--retry", help="Re-send the latest recommendation (after a failed "
                                       "publish)."),
            wait: bool = typer.Option(False, "--wait", help="Wait for the server's verdict (published or refused)."),
            timeout_s: float = typer.Option(30.0, "--timeout", help="With --wait: give up after this many seconds.")
            ) -> None:
    """Hand a recommendation to the running setpoint server. It is checked here first (schema, expiry, hard
    limits against the published one, heat ids) exactly as the server checks it; exit 4 with the reason if the
    server would refuse it. With --wait, exit 0 once published, 4 if refused or no verdict within --timeout."""
    from connectors.opcua.checks import publish_problems, read_recommendation, summary
    from connectors.opcua.inbox import submit
    from optimizer.recommendation import Recommendation

    cfg = config_or_exit(config)
    path = _recommendation_file(recommendation, recs_dir, "publish", EXIT_PUBLISH)
    try:
        rec = read_recommendation(path)
        current = state_dir / "current.json"
        previous = Recommendation.from_json(current) if current.exists() else None
    except ValueError as exc:
        fail(f"cannot publish: {exc}", EXIT_PUBLISH)
    problems = publish_problems(rec, cfg, previous)
    if problems:
        fail(f"not queued, the setpoint server would refuse {path.name}: {summary(problems)}", EXIT_PUBLISH)
    try:
        placed = submit(path, state_dir)
    except (OSError, ValueError) as exc:
        fail(f"cannot publish {path}: {exc}", EXIT_PUBLISH)
    out.print(f"{'re-sent' if retry else 'queued'} {path.name} for the setpoint server ({placed})")
    if wait:
        _wait_for_verdict(state_dir, rec.recommendation_id, timeout_s, placed)


def _wait_for_verdict(state_dir: Path, recommendation_id: str, timeout_s: float, placed: Path) -> None:
    from connectors.opcua.inbox import read_verdict

    deadline = time.monotonic() + timeout_s
    while (verdict := read_verdict(state_dir, recommendation_id)) is None:
        if time.monotonic() >= deadline:
            fail(f"no verdict within {timeout_s:g} s: is `dosing serve --state-dir {state_dir}` running? The file "
                 f"stays queued in {placed}", EXIT_PUBLISH)
        time.sleep(WAIT_POLL_S)
    if verdict["verdict"] != "published":
        fail(f"the setpoint server refused {recommendation_id}: {verdict['reason']}", EXIT_PUBLISH)
    out.print(f"published {recommendation_id} as generation {verdict['generation']}")


def _decide(verb: str, recommendation_id: str, comment: str, users: Path, user: str, state_dir: Path,
            password_env: str, recommendation: Path | None = None) -> None:
    """``dosing approve|reject``: authenticate against the users file, then the same ``approvals.decide`` the
    OPC UA Method calls; refusals are audited too. The recommendation decided about is the server's current one,
    or ``recommendation`` (a file) where no setpoint server runs (``dosing write-plant`` plants)."""
    from connectors.opcua.approvals import VERBS, ApprovalRefused, append_audit, decide, with_decided_status
    from optimizer.recommendation import Recommendation

    decision = VERBS[verb]
    password = os.environ.get(password_env) or typer.prompt(f"password of {user}", hide_input=True)
    try:
        authenticate_engineer(load_users(users), user, password)
        saved = recommendation if recommendation is not None else state_dir / "current.json"
        current = with_decided_status(Recommendation.from_json(saved), state_dir) if saved.exists() else None
        decide(state_dir, current, recommendation_id, decision, user, comment, via="cli")
    except (AuthenticationError, ApprovalRefused, ValueError) as exc:
        append_audit(state_dir, {"event": "decision-refused", "recommendation_id": recommendation_id,
                                 "user": user, "decision": decision, "via": "cli", "reason": str(exc)})
        fail(f"{verb} {recommendation_id}: {exc}", EXIT_FAILED)
    out.print(f"{recommendation_id} {decision} by {user} (audit: {state_dir / 'audit.jsonl'}); the running server "
              "shows it within a second")


UsersOption = typer.Option(..., "--users", help="Users file from `dosing users add` (the server's).")
UserOption = typer.Option(..., "--user", help="Your user name (an engineer).")
CommentOption = typer.Option("", "--comment", help="Why (kept in the audit log).")
RecFileOption = typer.Option(None, "--recommendation", help="Decide about this recommendation file instead of the "
                             "setpoint server's current one (plants whose DCS hosts the server: `dosing "
                             "write-plant` then reads the decision from the same --state-dir audit log).")


@app.command("approve")
def approve(recommendation_id: str = typer.Argument(..., help="Id of the current recommendation."),
            comment: str = CommentOption, users: Path = UsersOption, user: str = UserOption,
            state_dir: Path = StateDir, password_env: str = PasswordEnv,
            recommendation: Path = RecFileOption) -> None:
    """Approve the current recommendation as an engineer at the optimizer host (same check and audit as the
    OPC UA Method Dosing.Approve)."""
    _decide("approve", recommendation_id, comment, users, user, state_dir, password_env, recommendation)


@app.command("reject")
def reject(recommendation_id: str = typer.Argument(..., help="Id of the current recommendation."),
           comment: str = CommentOption, users: Path = UsersOption, user: str = UserOption,
           state_dir: Path = StateDir, password_env: str = PasswordEnv,
           recommendation: Path = RecFileOption) -> None:
    """Reject the current recommendation as an engineer at the optimizer host (as Dosing.Reject)."""
    _decide("reject", recommendation_id, comment, users, user, state_dir, password_env, recommendation)


@app.command("write-plant")
def write_plant(
    recommendation: Path = typer.Argument(None, help="Recommendation JSON (default: the latest one)."),
    config: Path = ConfigOption,
    recs_dir: Path = typer.Option(Path(".dosing/recommendations"), help="Where `dosing optimize` writes."),
    endpoint: str = typer.Option(None, help="The plant DCS OPC UA server (default: [opcua] endpoint)."),
    certificate: Path = typer.Option(..., help="Our client certificate (DER), trusted by the DCS server."),
    private_key: Path = typer.Option(..., help="Our client private key (PEM)."),
    server_certificate: Path = typer.Option(..., help="The DCS server's certificate (DER)."),
    user: str = typer.Option(None, help="DCS user name; the password is read from $DOSING_PASSWORD."),
    require_approved: bool = typer.Option(True, help="Write only recommendations an engineer approved."),
    state_dir: Path = StateDir,
) -> None:
    """For plants whose DCS hosts the OPC UA server: write an approved, safe recommendation to the node ids of
    the config's [opcua.node_map], read every value back, and print the plant's current heat and temperature.
    Nothing is written if any setpoint fails the hard limits or the recommendation is stale or unapproved. The
    approval comes from the --state-dir audit log (`dosing approve ID --recommendation FILE`), never from the
    file's own status field."""
    from asyncua import ua

    from connectors.opcua.approvals import with_decided_status
    from connectors.opcua.client import Credentials
    from connectors.opcua.plant_client import PlantWriter, RefusedWrite, WriteVerificationError
    from optimizer.recommendation import Recommendation

    cfg = config_or_exit(config)
    path = _recommendation_file(recommendation, recs_dir, "write", EXIT_BAD_INPUT)
    try:
        rec = Recommendation.from_json(path)
    except (OSError, ValueError) as exc:  # unreadable, not JSON, or not a recommendation
        fail(f"{path}: not a readable recommendation: {exc}", EXIT_BAD_INPUT)
    if rec.status != "proposed":
        out.print(f"note: {path.name} says status {rec.status!r}; a file's status is not used, the decision comes "
                  f"from the audit log in {state_dir}", highlight=False)
    rec = with_decided_status(rec, state_dir)
    endpoint = endpoint or cfg.opcua.endpoint
    creds = Credentials(certificate, private_key, server_certificate, user=user,
                        password=os.environ.get("DOSING_PASSWORD") if user else None, name="dosing-client")
    writer = PlantWriter(cfg, endpoint, creds, require_approved=require_approved)

    async def run() -> tuple[int, dict]:
        try:
            return await writer.write_recommendation(rec), await writer.read_plant_values()
        finally:
            await writer.close()

    try:
        n, plant = asyncio.run(run())
    except RefusedWrite as exc:
        hint = (f" (approve it: `dosing approve {rec.recommendation_id} --recommendation {path} --state-dir "
                f"{state_dir} --users ... --user ...`)" if rec.status != "approved" else "")
        fail(f"nothing written: {exc}{hint}", EXIT_FAILED)
    except (WriteVerificationError, OSError, TimeoutError, ua.UaError) as exc:
        fail(f"writing {path.name} to {endpoint} failed: {type(exc).__name__}: {exc}", EXIT_PUBLISH)
    out.print(f"wrote and read back {n} setpoints of {rec.recommendation_id}; plant now: {plant}")
