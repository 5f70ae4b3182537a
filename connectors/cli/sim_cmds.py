"""``dosing simulate`` and ``dosing evaluate``: the plant simulator and closed-loop evaluation."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from connectors.cli.app import EXIT_BAD_INPUT, ConfigOption, app, config_or_exit, fail, out, progress_bar
from optimizer.errors import DataFileError, UnknownGradeError

if TYPE_CHECKING:
    from optimizer.simulator import Estimate, EvaluationResult
    from optimizer.simulator.physics import Physics

LABELS = {
    "material_cost_per_t": "material cost per t", "ferroalloy_kg_per_t": "ferroalloy kg per t",
    "energy_kWh_per_t": "arc energy kWh per t", "co2_kg_per_t": "CO2 kg per t", "off_spec_rate": "off-spec rate",
    "samples_per_heat": "chemistry samples per heat", "dips_per_heat": "temperature dips alone per heat",
    "treatment_min_per_heat": "treatment min per heat",
}
GradeOption = typer.Option(None, "--grade", "-g", help="Only this grade (repeat for several); default: the "
                           "config's grade mix.")
PhysicsOption = typer.Option("standard", "--physics", help="Plant physics the heats run in (and its operators' "
                             "trims); `dosing evaluate --list-physics` lists the names.")


def _physics_or_exit(name: str) -> Physics:
    from optimizer.simulator import get_physics

    try:
        return get_physics(name)
    except ValueError as exc:
        fail(f"--physics: {exc}", EXIT_BAD_INPUT)


def _list_physics(value: bool) -> None:
    from optimizer.simulator import physics_names

    if value:
        print("\n".join(physics_names()))
        raise typer.Exit(0)


@app.command("simulate")
def simulate(
    heats: int = typer.Option(2000, "--heats", "-n", help="Number of heats to simulate."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same heats)."),
    out_dir: Path = typer.Option(..., "--out", help="Directory to write heats.parquet, heats.csv, samples.csv."),
    schedule_only: bool = typer.Option(False, "--schedule-only", help="Write only schedule.csv: the fresh heats "
                                       "that `dosing evaluate --heats N --seed S` replays, as a schedule to optimize."),
    start: str = typer.Option(None, "--start", help="Time of the first heat (ISO, UTC; default: the simulator's "
                              "first heat time)."),
    grade: list[str] = GradeOption,
    physics: str = PhysicsOption,
    config: Path = ConfigOption,
) -> None:
    """Simulate historical heats under today's practice with the built-in plant simulator (digital twin)."""
    import pandas as pd

    from optimizer.simulator import EVALUATION_STREAM, draw_heats, schedule_frame, simulate_history
    from optimizer.simulator.heats import DEFAULT_START

    cfg = config_or_exit(config)
    plant = _physics_or_exit(physics)
    if heats <= 0:
        fail(f"--heats must be a positive number of heats, got {heats}", EXIT_BAD_INPUT)
    try:
        t0 = pd.Timestamp(start or DEFAULT_START.isoformat())
    except ValueError:
        fail(f"--start {start!r} is not a date/time; use ISO format, e.g. 2026-01-05T06:00", EXIT_BAD_INPUT)
    t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")
    try:
        if schedule_only:
            frame = schedule_frame(cfg, draw_heats(cfg, heats, seed, EVALUATION_STREAM, start=t0, grades=grade,
                                                   physics=plant))
        else:
            table, samples = simulate_history(cfg, heats, seed, start=t0, grades=grade, physics=plant)
    except UnknownGradeError as exc:
        fail(f"--grade: {exc}", EXIT_BAD_INPUT)
    out_dir.mkdir(parents=True, exist_ok=True)
    if schedule_only:
        frame.to_csv(out_dir / "schedule.csv", index=False)
        out.print(f"schedule of {heats} planned heats written to {out_dir / 'schedule.csv'}")
        return
    table.to_parquet(out_dir / "heats.parquet", index=False)
    table.to_csv(out_dir / "heats.csv", index=False)
    samples.to_csv(out_dir / "samples.csv", index=False)
    out.print(f"{len(table)} heats and {len(samples)} samples ({plant.name} physics) written to {out_dir}")


@app.command("evaluate")
def evaluate_cmd(
    policy: str = typer.Option("baseline", "--policy", "-p", help="baseline | better | worse | optimizer | advisor | "
                               "a recommendations .json made from `dosing simulate --schedule-only`."),
    heats: int = typer.Option(500, "--heats", "-n", help="Number of fresh heats."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fresh heats (evaluation stream, disjoint from the "
                             "history `dosing simulate` writes)."),
    compare_to: str = typer.Option(None, "--compare", help="Also evaluate this policy on the same heats and show "
                                   "paired differences (e.g. baseline)."),
    fallback: str = typer.Option(None, "--fallback", help="Policy for heats a recommendations file has no "
                                 "feasible setpoints for (e.g. baseline); they are listed. Default: error."),
    grade: list[str] = GradeOption,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout instead of tables."),
    physics: str = PhysicsOption,
    list_physics: bool = typer.Option(False, "--list-physics", callback=_list_physics, is_eager=True,
                                      help="Print the plant physics names, one per line, and exit."),
    config: Path = ConfigOption,
) -> None:
    """Apply a dosing policy to fresh simulated heats and report cost, energy, CO2, off-spec rate, samples and
    treatment time per heat, with 95 % confidence intervals."""
    from optimizer.simulator import compare, evaluate, make_policy

    cfg = config_or_exit(config)
    plant = _physics_or_exit(physics)
    if heats <= 0:
        fail(f"--heats must be a positive number of heats, got {heats}", EXIT_BAD_INPUT)
    try:
        with progress_bar(heats) as tell:
            # a policy that learns from history (optimizer) learns from this plant's history
            tell(f"{policy}: prepare (a learning policy simulates history and trains)", 0, heats)
            result = evaluate(cfg, make_policy(policy, cfg, fallback=fallback, physics=plant.name), heats, seed,
                              grades=grade, physics=plant, progress=_named(tell, policy))
            if compare_to:
                tell(f"{compare_to}: prepare", 0, heats)
            other = (evaluate(cfg, make_policy(compare_to, cfg, fallback=fallback, physics=plant.name), heats, seed,
                              grades=grade, physics=plant, progress=_named(tell, compare_to)) if compare_to else None)
    except UnknownGradeError as exc:
        fail(f"--grade: {exc}", EXIT_BAD_INPUT)
    except (ValueError, FileNotFoundError, LookupError, DataFileError) as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    payload = result.to_dict()
    if other is not None:
        payload["compare"] = other.to_dict()
        payload["paired"] = {k: (v if isinstance(v, float) else {"value": v.value, "ci95": [v.low, v.high]})
                             for k, v in compare(result, other).items()}
    if as_json:
        print(json.dumps(_finite(payload), allow_nan=False))
        return
    _print_tables(result, other)


def _named(tell: Callable[[str, int, int], None], policy: str) -> Callable[[str, int, int], None]:
    """The progress of one policy's evaluation, its phases prefixed by the policy's name."""
    return lambda phase, done, total: tell(f"{policy}: {phase}", done, total)


def _finite(v: object) -> object:
    """JSON-safe copy: NaN/inf (e.g. a CI of a single heat) become null."""
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_finite(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _print_tables(result: EvaluationResult, other: EvaluationResult | None) -> None:
    from rich.table import Table

    from optimizer.simulator import compare

    out.print(f"Closed-loop evaluation on {result.n_heats} fresh heats (seed {result.seed}, {result.physics} "
              "physics), 95 % CI", highlight=False, soft_wrap=True)  # one line: not wrapped to the table's width
    table = Table("figure", result.policy, *([other.policy, "paired difference"] if other else []))
    sa, sb = result.summary(), other.summary() if other else None
    diffs = compare(result, other) if other else {}
    for key, label in LABELS.items():
        cells = [label, _fmt(sa[key])]
        if sb is not None:
            cells += [_fmt(sb[key]), _fmt(diffs[f"diff_{key}"])]  # type: ignore[arg-type]
        table.add_row(*cells)
    out.print(table)
    for r in (result, other):
        if r is not None and r.fallbacks:
            out.print(f"{r.policy}: {len(r.fallbacks)} heats had no feasible setpoints and ran the fallback policy: "
                      f"{', '.join(r.fallbacks[:10])}{' ...' if len(r.fallbacks) > 10 else ''}")
    if other:
        out.print(f"against {other.policy}: material cost {diffs['pct_material_cost']:+.1f} %, off-spec "
                  f"{diffs['pct_off_spec']:+.1f} %, energy {diffs['pct_energy']:+.1f} %, productivity "
                  f"{diffs['pct_productivity']:+.1f} % (heats per hour of treatment)")


def _fmt(e: Estimate) -> str:
    return f"{e.value:.3f} [{e.low:.3f}, {e.high:.3f}]"
