"""``dosing advise-serve``: the heat-by-heat advisor as a service beside the plant's DCS (OPC UA client).

Learns the stage models from the history, connects to the DCS server, answers every arrival and sample posted
at the node ids of ``[opcua.node_map.heat]`` by writing to ``[opcua.node_map.advice]``, and logs one JSON line
per decision (docs/advisor.md, "In the plant").
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from connectors.cli.advise_cmds import ShadowPricesOption, learned_advisor
from connectors.cli.app import (
    EXIT_BAD_INPUT,
    EXIT_PUBLISH,
    ConfigOption,
    app,
    config_or_exit,
    console,
    fail,
    stop_on_signals,
)
from optimizer.errors import DataFileError

# Lazy imports (the CLI's entry-point pattern): asyncua, pandas and the advisor (over 4 s of CPU) are imported inside
# the command, after its arguments are checked, so `dosing --help` and a bad argument (exit 2) answer at once.
if TYPE_CHECKING:
    import pandas as pd

    from connectors.opcua.client import Credentials


def history_version(heats: pd.DataFrame, samples: pd.DataFrame) -> str:
    """A short content digest of the history the stage models were learned from (logged with every decision)."""
    import pandas as pd

    digest = hashlib.sha256(pd.util.hash_pandas_object(heats, index=False).to_numpy().tobytes())
    digest.update(pd.util.hash_pandas_object(samples, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:12]


def _credentials(certificate: Path | None, private_key: Path | None, server_certificate: Path | None,
                 insecure_demo: bool, user: str | None) -> Credentials:
    given = [p for p in (certificate, private_key, server_certificate) if p is not None]
    if insecure_demo and given:
        fail("give either --certificate/--private-key/--server-certificate or --insecure-demo, not both",
             EXIT_BAD_INPUT)
    if not insecure_demo and len(given) != 3:
        fail("a secured channel needs --certificate, --private-key and --server-certificate (or --insecure-demo "
             "for a local demo)", EXIT_BAD_INPUT)
    missing = [str(p) for p in given if not p.exists()]
    if missing:
        fail(f"file not found: {', '.join(missing)}", EXIT_BAD_INPUT)
    from connectors.opcua.client import Credentials  # asyncua: only once the arguments are known to be good

    if insecure_demo:
        return Credentials(user=user, password=os.environ.get("DOSING_PASSWORD") if user else None)
    return Credentials(certificate, private_key, server_certificate, user=user,
                       password=os.environ.get("DOSING_PASSWORD") if user else None, name="dosing-advisor")


@app.command("advise-serve")
def advise_serve(
    data: Path = typer.Option(..., "--data", help="History (file or directory) with the sample table: the stage "
                              "models are learned from it."),
    endpoint: str = typer.Option(None, help="The DCS OPC UA server, opc.tcp://HOST:PORT/PATH (default: the "
                                 "config's [opcua] endpoint)."),
    config: Path = ConfigOption,
    certificate: Path = typer.Option(None, help="Our client certificate (DER), trusted by the DCS server."),
    private_key: Path = typer.Option(None, help="Our client private key (PEM)."),
    server_certificate: Path = typer.Option(None, help="The DCS server's certificate (DER)."),
    insecure_demo: bool = typer.Option(False, "--insecure-demo", help="No security (local demo only)."),
    user: str = typer.Option(None, help="DCS user name; the password is read from $DOSING_PASSWORD."),
    log_file: Path = typer.Option(Path(".dosing/advisor/decisions.jsonl"), "--log",
                                  help="Decision log: one JSON line per decision (appended)."),
    duration_s: float = typer.Option(0.0, help="Stop after this many seconds (0 = until Ctrl-C)."),
    shadow_prices: Path = ShadowPricesOption,
) -> None:
    """Advise heats where they are: answer every arrival and sample the DCS posts (setpoints only for safe,
    approved decisions; status and reason always), within the [advisor] deadline, and log each decision."""
    cfg = config_or_exit(config)
    creds = _credentials(certificate, private_key, server_certificate, insecure_demo, user)
    endpoint = endpoint or cfg.opcua.endpoint
    if not endpoint.startswith("opc.tcp://"):
        fail(f"--endpoint must start with opc.tcp://, got {endpoint!r}", EXIT_BAD_INPUT)
    from connectors.opcua.advisor_service import AdvisorService, DcsUnreachable  # after the checks (see above)
    from connectors.opcua.heat_nodes import NodeMapError
    try:
        advisor, loaded, source = learned_advisor(cfg, data, shadow_prices)
        versions = {"stage_models": f"history {history_version(loaded.heats, loaded.samples)} "
                                    f"({advisor.models.n_heats} heats, {advisor.models.n_stages} stages)",
                    "history": str(data), "shadow_prices": source}
        service = AdvisorService(cfg, advisor, endpoint, creds, log_file, model_versions=versions)
    except (DataFileError, NodeMapError, ValueError) as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    console.print(f"advisor ready ({versions['stage_models']}); serving {endpoint}, log {log_file}",
                  highlight=False)

    async def run() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        task = asyncio.create_task(service.run(stop))
        if duration_s > 0:
            done, _ = await asyncio.wait({task}, timeout=duration_s)
            if not done:
                stop.set()
        await task

    try:
        asyncio.run(run())
        console.print("stopped")
    except DcsUnreachable as exc:
        fail(f"{exc}; heats go on with today's practice", EXIT_PUBLISH)
    except ValueError as exc:  # the node map does not match the DCS (a node missing)
        fail(str(exc), EXIT_BAD_INPUT)
    console.print(f"answered {service.answered} posts in {service.sessions} DCS sessions", highlight=False)


@app.command("advice-report")
def advice_report(
    log_file: Path = typer.Argument(Path(".dosing/advisor/decisions.jsonl"), help="The service's decision log."),
    config: Path = ConfigOption,
    html_out: Path = typer.Option(None, "--html", help="Also write the page here (self-contained HTML)."),
) -> None:
    """The advised heats of a decision log: answers per status, flags (extrapolated first), refusals, heats that
    went on with today's practice and last samples outside their window. Exit 1 when a heat needs attention."""
    from connectors.report.advice import read_decision_log, render_html, text_summary, window_misses

    cfg = config_or_exit(config)
    try:
        day = read_decision_log(log_file)
    except OSError as exc:
        fail(f"{log_file}: cannot read the decision log: {exc}", EXIT_BAD_INPUT)
    for line in text_summary(day, cfg):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if html_out is not None:
        html_out.parent.mkdir(parents=True, exist_ok=True)
        html_out.write_text(render_html(day, cfg), encoding="utf-8")
        console.print(f"page: {html_out}", highlight=False)
    if any(h.needs_attention() or window_misses(h, cfg) for h in day.heats.values()):
        raise typer.Exit(1)
