"""``dosing serve``, ``dosing publish``, ``dosing certs``, ``dosing users``: the OPC UA side."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import typer

from connectors.cli.app import EXIT_BAD_INPUT, EXIT_PUBLISH, ConfigOption, app, config_or_exit, console, fail, out
from connectors.opcua import SetpointServer, add_user, create_certificate
from connectors.opcua.inbox import submit

certs_app = typer.Typer(help="Application certificates for OPC UA (Basic256Sha256).")
users_app = typer.Typer(help="Users of the setpoint server (engineers may approve/reject; operators read).")
app.add_typer(certs_app, name="certs")
app.add_typer(users_app, name="users")
StateDir = typer.Option(Path(".dosing/opcua"), "--state-dir", help="Where the server keeps the current "
                        "recommendation, the audit log and the inbox.")


@certs_app.command("create")
def certs_create(out_dir: Path = typer.Option(..., "--out", help="Directory for NAME.der and NAME.pem (key)."),
                 name: str = typer.Option("dosing-server", help="Application name (URI urn:steel-dosing:NAME)."),
                 hostname: str = typer.Option("localhost", help="Host name written into the certificate."),
                 client: bool = typer.Option(False, help="A client certificate (e.g. for a DCS test client).")) -> None:
    """Create a self-signed application certificate and private key. Give peers the .der; keep the .pem."""
    cert, key = asyncio.run(create_certificate(out_dir, name, hostname, client=client))
    out.print(f"certificate {cert}\nprivate key {key} (keep it secret; trust {cert.name} on the peers)")


@users_app.command("add")
def users_add(file: Path = typer.Option(..., "--file", help="Users file (JSON; only salted hashes are stored)."),
              name: str = typer.Option(..., help="User name."),
              role: str = typer.Option("engineer", help="engineer (may approve/reject) or operator (read only)."),
              password_env: str = typer.Option("DOSING_PASSWORD", help="Environment variable holding the password "
                                               "(asked for when unset).")) -> None:
    """Add or replace a user of the setpoint server."""
    password = os.environ.get(password_env) or typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        add_user(file, name, password, role)
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
    cfg = config_or_exit(config)
    insecure = insecure_demo or cfg.opcua.allow_none_security
    user_db = json.loads(users.read_text()) if users is not None and users.exists() else {}
    try:
        srv = SetpointServer(cfg, endpoint or cfg.opcua.endpoint, state_dir, users=user_db, certificate=certificate,
                             private_key=private_key, trusted_dir=trusted, insecure=insecure)
    except ValueError as exc:
        fail(str(exc), EXIT_BAD_INPUT)

    async def run() -> None:
        async with srv:
            console.print(f"serving on {srv.endpoint} (namespace {cfg.opcua.namespace_uri}); state in {state_dir}")
            await asyncio.sleep(duration_s if duration_s > 0 else 10**9)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        console.print("stopped")


@app.command("publish")
def publish(recommendation: Path = typer.Argument(None, help="Recommendation JSON from `dosing optimize` "
                                                  "(default: the latest one)."),
            state_dir: Path = StateDir,
            recs_dir: Path = typer.Option(Path(".dosing/recommendations"), help="Where `dosing optimize` writes."),
            retry: bool = typer.Option(False, "--retry", help="Re-send the latest recommendation (after a failed "
                                       "publish).")) -> None:
    """Hand a recommendation to the running setpoint server; it publishes it after the safety check."""
    path = recommendation or recs_dir / "latest.json"
    if not path.exists():
        fail(f"{path}: no recommendation to publish (run `dosing optimize` first)", EXIT_PUBLISH)
    try:
        placed = submit(path, state_dir)
    except (OSError, ValueError) as exc:
        fail(f"cannot publish {path}: {exc}", EXIT_PUBLISH)
    out.print(f"{'re-sent' if retry else 'queued'} {path.name} for the setpoint server ({placed})")
