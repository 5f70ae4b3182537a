"""``dosing advise``: the heat-by-heat advisor as a JSON-lines filter (one heat state in, one decision out).

A plant's level-2 system or a test harness drives it without Python: write one heat state per line on stdin
(arrival: only the arrival sample; after a sample: every sample and stage so far), read one decision per line on
stdout. A line that cannot be read gets an ``{"error": ...}`` line naming it; the next lines are still answered.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from connectors.cli.app import EXIT_BAD_INPUT, ConfigOption, app, config_or_exit, console, fail
from optimizer.errors import DataFileError, UnknownGradeError

if TYPE_CHECKING:
    from connectors.files import LoadedHeats
    from optimizer.advisor import Advisor
    from optimizer.config import PlantConfig


ShadowPricesOption = typer.Option(
    None, "--shadow-prices", help="The night's shadow prices of scarce materials: its recommendation JSON, the "
    "setpoint server's state directory (current.json) or the night's recommendations directory (latest.json). "
    "Each scarce material's price is added to its cost in every decision.")


def night_prices(path: Path | None) -> tuple[dict[str, float], str]:
    """The night's shadow prices from ``path`` (see ``--shadow-prices``) and a line saying where they came from."""
    if path is None:
        return {}, "no shadow prices (scarce materials not priced in)"
    from connectors.recommendations import read_shadow_prices

    prices, source = read_shadow_prices(path)
    listed = ", ".join(f"{m} {p:.3g}/kg" for m, p in prices.items()) or "none (no stock binds the night's plan)"
    return prices, f"shadow prices {listed} from {source}"


def learned_advisor(cfg: PlantConfig, data: Path, shadow_prices: Path | None) -> tuple[Advisor, LoadedHeats, str]:
    """The advisor learned from the history at ``data`` (its sample table is required) with the night's shadow
    prices; also the loaded history and where the prices came from. DataFileError/ValueError: bad input."""
    from connectors.files import load_heats
    from optimizer.advisor import advisor_from_history

    prices, source = night_prices(shadow_prices)
    loaded = load_heats(data, cfg)
    if loaded.samples.empty:
        fail(f"{data}: no sample table (samples*.csv); the advisor learns every stage from it", EXIT_BAD_INPUT)
    return advisor_from_history(cfg, loaded.heats, loaded.samples, shadow_price_per_kg=prices), loaded, source


@app.command("advise")
def advise(
    data: Path = typer.Option(..., "--data", help="History (file or directory) with the sample table and its "
                              "per-stage additions and energy: the stage models are learned from it."),
    config: Path = ConfigOption,
    shadow_prices: Path = ShadowPricesOption,
) -> None:
    """Decide heats stage by stage: reads one JSON heat state per line on stdin, writes one JSON decision per
    line on stdout (docs/advisor.md lists the fields)."""
    cfg = config_or_exit(config)
    try:
        advisor, _, source = learned_advisor(cfg, data, shadow_prices)
    except (DataFileError, ValueError) as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    console.print(f"advisor ready: {advisor.models.n_stages} stages of {advisor.models.n_heats} heats learned; "
                  f"{source}", highlight=False)
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        sys.stdout.write(json.dumps(answer(advisor, line, number)) + "\n")
        sys.stdout.flush()


def answer(advisor: Advisor, line: str, number: int) -> dict:
    """The decision for one input line, or an error naming the line and the field."""
    from optimizer.stages.state import HeatState

    try:
        state = HeatState.from_dict(json.loads(line))
        advisor.cfg.grade(state.grade)
        decision = advisor.on_arrival(state) if state.n_stages == 0 else advisor.on_sample(state)
    except json.JSONDecodeError as exc:
        return {"line": number, "error": f"not JSON: {exc}"}
    except (ValueError, UnknownGradeError) as exc:
        return {"line": number, "error": str(exc)}
    return {"line": number, "heat_id": state.heat_id, "after_sample": state.n_stages, **decision.to_dict()}
