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
from optimizer.dosing import optimize_heats, to_recommendation
from optimizer.dosing.pareto import pareto_front
from optimizer.errors import ConfigError, DataFileError
from optimizer.schedule import Schedule, read_schedule
from optimizer.schema import KEY, material_col
from optimizer.simulator.policies import Level2Policy
from optimizer.stages.arrival import learn_expected_arrival
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
    recommendation_file: Path | None = None
    report_file: Path | None = None
    published: bool = False
    schedule_problems: pd.DataFrame | None = None  # rejected schedule rows and warnings (report columns)


def night_id(history_digest: str, schedule: Path) -> str:
    """Hash of the ingested history (file digests) and the schedule: the same inputs are the same night."""
    h = hashlib.sha256(history_digest.encode())
    h.update(schedule.read_bytes() if schedule.is_file() else str(schedule).encode())
    return h.hexdigest()[:16]


def run_nightly(cfg: PlantConfig, history: Path, schedule: Path, workdir: Path, state_dir: Path | None = None,
                tracking_uri: TrackingStore | str | None = None, pareto: bool = True, progress=print,  # noqa: ANN001
                now: pd.Timestamp | None = None) -> NightResult:
    """One night (see module doc); ``now`` (default: the clock, UTC) is what 'planned in the past' means."""
    workdir.mkdir(parents=True, exist_ok=True)
    now = pd.Timestamp.now(tz="UTC") if now is None else now
    try:
        with FileLock(str(workdir / "nightly.lock"), timeout=0):
            return _run(cfg, history, schedule, workdir, state_dir, tracking_uri, pareto, progress, now)
    except Timeout:
        raise NightlyError("lock", f"another nightly run holds {workdir / 'nightly.lock'}") from None


def _run(cfg, history, schedule, workdir, state_dir, tracking_uri, pareto, progress,  # noqa: ANN001
         now) -> NightResult:  # noqa: ANN001
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
                           problems)
    night_dir.mkdir(parents=True, exist_ok=True)
    progress("2/6 train challengers, apply the champion rule")
    sset, report = _step("train", lambda: train_surrogates(cfg, loaded.heats))
    store = open_store(cfg, tracking_uri)  # one explicit client for the whole night
    promotions = _step("register", lambda: log_and_register(cfg, sset, report, loaded.heats, store, nid))
    progress(f"    promoted: {[p.outcome for p in promotions if p.promoted] or 'none'}")
    progress("3/6 load champions and optimize the schedule")
    champions = _step("load champions", lambda: load_champions(cfg, store))
    result = _step("optimize", lambda: optimize_heats(cfg, sched.heats, champions))
    rec = to_recommendation(cfg, sched.heats, result, champions.versions)
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
    progress("5/6 publish to the setpoint server")
    published = False
    if state_dir is not None:
        try:
            submit(rec_json, state_dir)
            published = True
        except OSError as exc:
            raise NightlyError("publish", f"{exc}; the recommendation is kept in {rec_json}, send it later with "
                               "`dosing publish --retry`", exit_code=4) from None
    progress("6/6 log the night to MLflow")
    _log_night(cfg, rec, base, loaded, store, nid)
    done.write_text(json.dumps({"finished": pd.Timestamp.now(tz="UTC").isoformat(), "recommendation": str(rec_json),
                                "report": str(report_file), "published": published}))
    return NightResult(nid, False, rec_json, report_file, published, problems)


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
    """Today's practice (level-2 calculation) for the same heats, costed like the optimizer's plans."""
    pol = Level2Policy(cfg)
    rows = []
    w = cfg.objective
    for h in heats:
        p = pol.decide(h)
        mat = sum(cfg.material(m).price_per_kg * kg for m, kg in p.additions_kg.items())
        co2 = sum(cfg.material(m).co2_kg_per_kg * kg for m, kg in p.additions_kg.items()) \
            + cfg.energy.co2_kg_per_kWh * p.arc_energy_kWh
        cost = (w.weight_material * mat + w.weight_energy * cfg.energy.price_per_kWh * p.arc_energy_kWh
                + w.weight_sampling * cfg.sampling.cost_per_sample * p.n_samples
                + w.weight_co2 * w.co2_price_per_t / 1000 * co2)
        rows.append({"heat_id": h.heat_id, "cost": cost, "co2_kg": co2, "energy_kWh": p.arc_energy_kWh,
                     "samples": p.n_samples, **{material_col(m): kg for m, kg in p.additions_kg.items()}})
    return pd.DataFrame(rows)


def _log_night(cfg: PlantConfig, rec, base: pd.DataFrame, loaded, store: TrackingStore,  # noqa: ANN001
               nid: str) -> None:
    ok = [h for h in rec.heats if h.feasible]
    base_ok = base[base["heat_id"].isin([h.heat_id for h in ok])]
    if store.client.search_runs([store.experiment_id], f"tags.night_id = '{nid}'", max_results=1):
        return  # an earlier attempt of this night logged it and was stopped before writing done.json
    with store.run(f"nightly-{nid}") as run:
        run.set_tags({"night_id": nid, "recommendation_id": rec.recommendation_id})
        run.log_params({f"model_{k}": v for k, v in rec.model_versions.items()})
        run.log_metrics({
            "expected_cost": sum(h.expected_cost for h in ok), "expected_co2_kg": sum(h.expected_co2_kg for h in ok),
            "baseline_cost": float(base_ok["cost"].sum()), "baseline_co2_kg": float(base_ok["co2_kg"].sum()),
            "savings_vs_practice": float(base_ok["cost"].sum() - sum(h.expected_cost for h in ok)),
            "heats": len(rec.heats), "infeasible_heats": len(rec.heats) - len(ok),
            "good_history_rows": len(loaded.heats), "rejected_history_rows": len(loaded.report)})
