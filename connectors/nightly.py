"""The nightly run: validate inputs -> train and promote -> optimize -> report -> publish -> log the night.

Every input is read and validated before any side effect (training, registering): the schedule first, then the
history (ingested incrementally, connectors/ingest.py: only new or changed files are read). A schedule or
history that cannot be used exits 2 (bad input) before anything is trained. Schedule heats planned in the past
or already in the history are warned about (and still planned). Safe to repeat: a night is identified by the
ingested history and the schedule; a night already completed is not run again, and a night interrupted after
registering models reuses the versions it registered (model-version tag ``night_id``), so nothing is duplicated
in MLflow or on the server. A lock file stops two runs at once. A failed publish keeps the recommendation and
exits 4 (`dosing publish --retry` sends it later); any other failed step exits 1 and leaves the previously
published recommendation in place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from filelock import FileLock, Timeout

from connectors.ingest import Ingested, ingest
from connectors.model_registry import load_champions, log_and_register
from connectors.opcua.inbox import submit
from connectors.recommendations import write_recommendation
from connectors.report.flags import binding_limits, extrapolation
from connectors.report.html import NightReport, render
from connectors.tracking import TrackingStore, open_store
from optimizer.config import PlantConfig
from optimizer.costs import CostCoefficients, plan_cost
from optimizer.dosing import optimize_heats, to_recommendation
from optimizer.dosing.pareto import pareto_front
from optimizer.dosing.ranges import DRAWS_PER_HEAT, expected_day_use
from optimizer.errors import ConfigError, DataFileError
from optimizer.recommendation import Recommendation
from optimizer.savings import Savings, day_line, day_savings, practice_from_frame
from optimizer.schedule import Schedule, read_schedule
from optimizer.schema import KEY, material_col
from optimizer.simulator.policies import Level2Policy
from optimizer.stages.arrival import HistoryArrivals, learn_expected_arrival
from optimizer.surrogates import train_surrogates
from optimizer.surrogates.train import MIN_HEATS
from optimizer.validation import rejected_rows, schedule_warnings

log = logging.getLogger("dosing.nightly")


EXIT_FAILED, EXIT_BAD_INPUT, EXIT_PUBLISH = 1, 2, 4
SHOWN_PROBLEMS = 10  # schedule problems and warnings printed in the progress lines (all are in the report)


class NightlyError(RuntimeError):
    """A step failed; ``exit_code`` says how the command ends (1 failed step, 2 bad input, 4 publish failed)."""

    def __init__(self, step: str, message: str, exit_code: int = 1) -> None:
        super().__init__(f"step '{step}' failed: {message}")
        self.step, self.exit_code = step, exit_code


@dataclass
class NightResult:
    night_id: str
    skipped: bool
    recommendation_file: Path
    report_file: Path
    published: bool = False
    schedule_problems: pd.DataFrame | None = None  # rejected schedule rows and warnings (report columns)
    summary: str = ""  # one line for a cron mail: planned, without a plan, published where, savings (summary_line)
    savings: Savings | None = None  # against today's practice (optimizer.savings, the report's figure)


def night_id(history_digest: str, schedule: Path) -> str:
    """Hash of the ingested history (file digests) and the schedule: the same inputs are the same night."""
    h = hashlib.sha256(history_digest.encode())
    h.update(schedule.read_bytes() if schedule.is_file() else str(schedule).encode())
    return h.hexdigest()[:16]


def run_nightly(cfg: PlantConfig, history: Path, schedule: Path, workdir: Path, state_dir: Path | None = None,
                tracking_uri: TrackingStore | str | None = None, pareto: bool = True, progress=print,  # noqa: ANN001
                now: pd.Timestamp | None = None, day_draws: int = DRAWS_PER_HEAT) -> NightResult:
    """One night (see module doc); ``now`` (default: the clock, UTC) is what 'planned in the past' means;
    ``day_draws`` arrival states per heat for the day's ranges (0: no ranges, the point plan only)."""
    workdir.mkdir(parents=True, exist_ok=True)
    now = pd.Timestamp.now(tz="UTC") if now is None else now
    try:
        with FileLock(str(workdir / "nightly.lock"), timeout=0):
            return _run(cfg, history, schedule, workdir, state_dir, tracking_uri, pareto, progress, now, day_draws)
    except Timeout:
        raise NightlyError("lock", f"another nightly run holds {workdir / 'nightly.lock'}") from None


def _run(cfg, history, schedule, workdir, state_dir, tracking_uri, pareto, progress,  # noqa: ANN001
         now, day_draws) -> NightResult:  # noqa: ANN001
    progress("1/6 validate the inputs: the schedule, then the history added since the last night")
    sched = _step("schedule", lambda: read_schedule(schedule, cfg, arrival_optional=True))
    if not sched.heats:
        raise NightlyError("schedule", f"{schedule}: no valid heats to plan ({len(sched.report)} problems: "
                           f"{_first_problems(sched.report)})", EXIT_BAD_INPUT)
    loaded = _step("ingest", lambda: ingest(history, cfg, workdir))
    _report_ingest(loaded, progress)
    if len(loaded.heats) < MIN_HEATS:
        raise NightlyError("ingest", f"{history}: {len(loaded.heats)} valid heats in the history, training needs at "
                           f"least {MIN_HEATS} (problems this time: {_first_problems(loaded.report)})", EXIT_BAD_INPUT)
    forecast = set(sched.missing_arrival)  # heats whose arrival is the grade's expectation (drawn for the ranges)
    if sched.missing_arrival:  # the night knows grade, time and weight; the arrival is the grade's expectation
        n_expected = len(sched.missing_arrival)
        sched = sched.fill_arrival(learn_expected_arrival(cfg, loaded.heats))
        progress(f"    {n_expected} of {len(sched.heats)} heats planned from the grade's expected arrival state "
                 "(learned from the history; the real one is known only when the heat arrives)")
    problems = _schedule_problems(sched, str(schedule), loaded, now)
    _report_schedule(problems, progress)
    nid = night_id(loaded.digest, schedule)
    night_dir = workdir / "nights" / nid
    done = night_dir / "done.json"
    if done.exists():
        info = json.loads(done.read_text())
        progress(f"night {nid} already completed at {info['finished']}: nothing to do")
        return NightResult(nid, True, Path(info["recommendation"]), Path(info["report"]), info["published"],
                           problems, info.get("summary", f"night {nid}: already completed earlier"))
    night_dir.mkdir(parents=True, exist_ok=True)
    progress("2/6 train challengers, apply the champion rule")
    sset, report = _step("train", lambda: train_surrogates(cfg, loaded.heats))
    store = open_store(cfg, tracking_uri)  # one explicit client for the whole night
    promotions = _step("register", lambda: log_and_register(cfg, sset, report, loaded.heats, store, nid))
    progress(f"    promoted: {[p.outcome for p in promotions if p.promoted] or 'none'}")
    progress("3/6 load champions and optimize the schedule")
    champions = _step("load champions", lambda: load_champions(cfg, store))
    result = _step("optimize", lambda: optimize_heats(cfg, sched.heats, champions))
    day = None
    if day_draws > 0:
        progress(f"    the day's ranges: {day_draws} arrival states per heat, each planned (from the grade's history "
                 "where the schedule has no arrival; a given arrival with its sd columns, or once without them)")
        day = _step("day plan", lambda: expected_day_use(cfg, sched.heats, champions, result,
                                                         HistoryArrivals.learn(cfg, loaded.heats), forecast,
                                                         draws=day_draws, workers=_workers(len(sched.heats))))
    rec = to_recommendation(cfg, sched.heats, result, champions.versions, day_use=day)
    _report_day(rec, progress)
    rec_json, _ = _step("write", lambda: write_recommendation(rec, cfg, workdir / "recommendations"))
    progress("4/6 write the report")
    base = baseline_frame(cfg, sched.heats)
    points = pareto_front(cfg, sched.heats, champions) if pareto else []
    page = render(NightReport(f"{cfg.plant.name}: nightly recommendation", rec, base, points,
                              report.test_predictions, report.test, loaded.report, cfg.plant.currency,
                              schedule=problems, cfg=cfg, baseline_mae=report.baseline_test_mae,
                              chosen=report.chosen, binding=binding_limits(result),
                              extrapolation=extrapolation(sched.heats, result, champions)))
    report_file = night_dir / "report.html"
    report_file.write_text(page, encoding="utf-8")
    progress(f"    {report_file}")
    saved = day_savings(cfg, rec, practice_from_frame(cfg, base))  # the report's figure
    placed = None
    if state_dir is None:
        progress("5/6 publish to the setpoint server: skipped (no --state-dir given)")
    else:
        progress("5/6 publish to the setpoint server")
        try:
            placed = submit(rec_json, state_dir)
        except OSError as exc:
            raise NightlyError("publish", f"{exc}; the recommendation is kept in {rec_json}, send it later with "
                               "`dosing publish --retry`", exit_code=4) from None
    progress("6/6 log the night to MLflow")
    _log_night(cfg, rec, saved, loaded, store, nid)
    line = summary_line(nid, rec, saved, cfg.plant.currency, placed, rec_json)
    done.write_text(json.dumps({"finished": pd.Timestamp.now(tz="UTC").isoformat(), "recommendation": str(rec_json),
                                "report": str(report_file), "published": placed is not None, "summary": line}))
    return NightResult(nid, False, rec_json, report_file, placed is not None, problems, line, saved)


def summary_line(nid: str, rec: Recommendation, saved: Savings, currency: str, placed: Path | None,
                 rec_json: Path) -> str:
    """The night in one line (cron mail): heats planned and without a plan, published or not and where, and the
    saving against today's practice (money; CO2 separately)."""
    where = (f"published: yes, in the setpoint server's inbox {placed}" if placed is not None else
             f"published: no (no --state-dir; send {rec_json} with `dosing publish`)")
    return f"night {nid}: {day_line(rec, saved, currency)}; {where}"


def _workers(n_heats: int) -> int:
    """Worker processes for the day's draws (as optimize_heats: inline for a small day)."""
    return min(os.cpu_count() or 1, 4) if n_heats >= 4 else 0


def _report_day(rec, progress) -> None:  # noqa: ANN001
    prices = ", ".join(f"{m} {p:.3g} {rec.currency}/kg" for m, p in rec.shadow_price_per_kg.items())
    progress(f"    shadow prices of scarce materials (for the advisor): {prices or 'none (no stock binds the plan)'}")
    day = rec.day_use
    if day is None:
        return
    lo, hi = day.quantiles
    if day.energy_kWh is not None:
        e = day.energy_kWh
        progress(f"    arc energy for the day: plan {e.plan:,.0f} kWh, expected {e.expected:,.0f} "
                 f"({e.low:,.0f}-{e.high:,.0f}, {lo:.0%}-{hi:.0%})")
    for risk in day.risks:
        progress(f"    INVENTORY RISK {risk}")
    if day.no_plan_draws:
        progress(f"    {day.no_plan_draws} drawn arrival states had no plan (not in the ranges)")


def _step(name: str, fn):  # noqa: ANN001, ANN202
    try:
        return fn()
    except (DataFileError, ConfigError) as exc:  # an input that cannot be used at all: bad input, exit 2
        raise NightlyError(name, str(exc), EXIT_BAD_INPUT) from exc
    except Exception as exc:  # every step's failure becomes one clear message naming the step
        raise NightlyError(name, f"{type(exc).__name__}: {exc}", EXIT_FAILED) from exc


def _first_problems(report: pd.DataFrame, n: int = 3) -> str:
    rows = [f"{Path(str(r.source)).name} row {r.row} {r.field}: {r.reason}" for r in report.head(n).itertuples()]
    return "; ".join(rows) + (f"; ... {len(report) - n} more" if len(report) > n else "") if rows else "none"


def _report_ingest(loaded: Ingested, progress) -> None:  # noqa: ANN001
    progress(f"    history: new files {loaded.new_files or 'none'}; {len(loaded.heats)} good heats in all, "
             f"{rejected_rows(loaded.report)} rows rejected this time")
    for note in loaded.notes:
        progress(f"    {note}")
    for r in loaded.report[loaded.report["field"] == "<file>"].itertuples():
        progress(f"    file error: {r.reason}")
    if loaded.rejected_files:
        progress(f"    rejected files (not read again until they change): {loaded.rejected_files}")


def _schedule_problems(sched: Schedule, source: str, loaded: Ingested, now: pd.Timestamp) -> pd.DataFrame:
    ids = loaded.heats[KEY].astype(str).tolist() if not loaded.heats.empty else []
    warn = schedule_warnings(sched.heats, now, ids, source, sched.lines)
    return pd.concat([f for f in (sched.report, warn) if not f.empty] or [sched.report], ignore_index=True)


def _report_schedule(problems: pd.DataFrame, progress) -> None:  # noqa: ANN001
    if problems.empty:
        return
    n_warn = int(problems["reason"].str.startswith("warning:").sum())
    progress(f"    schedule: {len(problems) - n_warn} rows rejected (not planned), {n_warn} warnings (planned)")
    for r in problems.head(SHOWN_PROBLEMS).itertuples():
        progress(f"    {Path(str(r.source)).name} row {r.row} heat {r.heat_id!r}: {r.field}: {r.reason}")
    if len(problems) > SHOWN_PROBLEMS:
        progress(f"    ... and {len(problems) - SHOWN_PROBLEMS} more (see the night's report)")


def baseline_frame(cfg: PlantConfig, heats) -> pd.DataFrame:  # noqa: ANN001
    """Today's practice (level-2 calculation) for the same heats: its decisions, and its money and CO2 by
    :func:`optimizer.costs.plan_cost` (the report reads the decisions back with ``practice_from_frame``)."""
    pol, coef = Level2Policy(cfg), CostCoefficients.from_config(cfg)
    rows = []
    for h in heats:
        p = pol.decide(h)
        c = plan_cost(coef, p.additions_kg, p.arc_energy_kWh, p.n_samples)
        rows.append({"heat_id": h.heat_id, "cost": c.money, "co2_kg": 1000 * c.co2_t, "energy_kWh": p.arc_energy_kWh,
                     "samples": p.n_samples, **{material_col(m): kg for m, kg in p.additions_kg.items()}})
    return pd.DataFrame(rows)


def _log_night(cfg: PlantConfig, rec: Recommendation, saved: Savings, loaded, store: TrackingStore,  # noqa: ANN001
               nid: str) -> None:
    """The night's run in MLflow: the savings as the report shows them (money, CO2 separate), heat counts."""
    if store.client.search_runs([store.experiment_id], f"tags.night_id = '{nid}'", max_results=1):
        return  # an earlier attempt of this night logged it and was stopped before writing done.json
    with store.run(f"nightly-{nid}") as run:
        run.set_tags({"night_id": nid, "recommendation_id": rec.recommendation_id})
        run.log_params({f"model_{k}": v for k, v in rec.model_versions.items()})
        run.log_metrics({
            "expected_money": saved.ours.money, "expected_co2_kg": 1000 * saved.ours.co2_t,
            "baseline_money": saved.today.money, "baseline_co2_kg": 1000 * saved.today.co2_t,
            "savings_vs_practice": saved.saved("money"), "co2_saved_kg": 1000 * saved.saved("co2_t"),
            "energy_saved_kWh": saved.saved("energy_kWh"), "samples_saved": saved.saved("samples"),
            "heats": len(rec.heats), "infeasible_heats": len(rec.heats) - saved.heats,
            "good_history_rows": len(loaded.heats), "rejected_history_rows": len(loaded.report),
            **{f"shadow_price_{m}": p for m, p in rec.shadow_price_per_kg.items()},
            **({f"inventory_risk_{m}": u.p_over_stock for m, u in rec.day_use.materials_kg.items() if u.at_risk}
               if rec.day_use else {})})
