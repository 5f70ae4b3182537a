"""The nightly run: ingest -> validate -> train and promote -> optimize -> report -> publish -> log the night.

History is ingested incrementally (connectors/ingest.py: only new or changed files are read). Safe to repeat:
a night is identified by the ingested history and the schedule; a night already completed is not run again
(nothing duplicated in MLflow or on the server). A lock file stops two runs at once. A failed publish keeps the
recommendation and exits 4 (`dosing publish --retry` sends it later); any other failed step exits 1 and leaves
the previously published recommendation in place.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
from filelock import FileLock, Timeout

from connectors.ingest import ingest
from connectors.model_registry import load_champions, log_and_register
from connectors.opcua.inbox import submit
from connectors.recommendations import write_recommendation
from connectors.report.flags import binding_limits, extrapolation
from connectors.report.html import NightReport, render
from connectors.tracking import configure_mlflow
from optimizer.config import PlantConfig
from optimizer.dosing import optimize_heats, read_schedule, to_recommendation
from optimizer.dosing.pareto import pareto_front
from optimizer.simulator.policies import Level2Policy
from optimizer.surrogates import train_surrogates

log = logging.getLogger("dosing.nightly")


class NightlyError(RuntimeError):
    """A step failed; ``exit_code`` says how the command ends (1 failed step, 4 publish failed)."""

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


def night_id(history_digest: str, schedule: Path) -> str:
    """Hash of the ingested history (file digests) and the schedule: the same inputs are the same night."""
    h = hashlib.sha256(history_digest.encode())
    h.update(schedule.read_bytes() if schedule.is_file() else str(schedule).encode())
    return h.hexdigest()[:16]


def run_nightly(cfg: PlantConfig, history: Path, schedule: Path, workdir: Path, state_dir: Path | None = None,
                tracking_uri: str | None = None, pareto: bool = True, progress=print) -> NightResult:  # noqa: ANN001
    """One night (see module doc)."""
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(workdir / "nightly.lock"), timeout=0):
            return _run(cfg, history, schedule, workdir, state_dir, tracking_uri, pareto, progress)
    except Timeout:
        raise NightlyError("lock", f"another nightly run holds {workdir / 'nightly.lock'}") from None


def _run(cfg, history, schedule, workdir, state_dir, tracking_uri, pareto, progress) -> NightResult:  # noqa: ANN001
    progress("1/6 ingest and validate history added since the last night")
    loaded = _step("ingest", lambda: ingest(history, cfg, workdir))
    nid = night_id(loaded.digest, schedule)
    night_dir = workdir / "nights" / nid
    done = night_dir / "done.json"
    if done.exists():
        info = json.loads(done.read_text())
        progress(f"night {nid} already completed at {info['finished']}: nothing to do")
        return NightResult(nid, True, Path(info["recommendation"]), Path(info["report"]), info["published"])
    night_dir.mkdir(parents=True, exist_ok=True)
    progress(f"    new files: {loaded.new_files or 'none'}; {len(loaded.heats)} good heats in all, "
             f"{len(loaded.report)} rows rejected this time")
    progress("2/6 train challengers, apply the champion rule")
    sset, report = _step("train", lambda: train_surrogates(cfg, loaded.heats))
    uri = configure_mlflow(cfg, tracking_uri)
    promotions = _step("register", lambda: log_and_register(cfg, sset, report, loaded.heats, tracking_uri))
    progress(f"    promoted: {[p.outcome for p in promotions if p.promoted] or 'none'}")
    progress("3/6 load champions and optimize the schedule")
    sched = _step("schedule", lambda: read_schedule(schedule, cfg))
    champions = _step("load champions", lambda: load_champions(cfg, tracking_uri))
    result = _step("optimize", lambda: optimize_heats(cfg, sched.heats, champions))
    rec = to_recommendation(cfg, sched.heats, result, champions.versions)
    rec_json, _ = _step("write", lambda: write_recommendation(rec, cfg, workdir / "recommendations"))
    progress("4/6 write the report")
    base = baseline_frame(cfg, sched.heats)
    points = pareto_front(cfg, sched.heats, champions) if pareto else []
    page = render(NightReport(f"{cfg.plant.name}: nightly recommendation", rec, base, points,
                              report.test_predictions, report.test, loaded.report, cfg.plant.currency, cfg=cfg,
                              baseline_mae=report.baseline_test_mae, chosen=report.chosen,
                              binding=binding_limits(result), extrapolation=extrapolation(sched.heats, result,
                                                                                          champions)))
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
    _log_night(cfg, rec, base, loaded, uri, nid)
    done.write_text(json.dumps({"finished": pd.Timestamp.now(tz="UTC").isoformat(), "recommendation": str(rec_json),
                                "report": str(report_file), "published": published}))
    return NightResult(nid, False, rec_json, report_file, published)


def _step(name: str, fn):  # noqa: ANN001, ANN202
    try:
        return fn()
    except Exception as exc:  # every step's failure becomes one clear message naming the step
        raise NightlyError(name, f"{type(exc).__name__}: {exc}") from exc


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
                     "samples": p.n_samples, **{f"add_{m}_kg": kg for m, kg in p.additions_kg.items()}})
    return pd.DataFrame(rows)


def _log_night(cfg: PlantConfig, rec, base: pd.DataFrame, loaded, uri: str, nid: str) -> None:  # noqa: ANN001
    ok = [h for h in rec.heats if h.feasible]
    base_ok = base[base["heat_id"].isin([h.heat_id for h in ok])]
    with mlflow.start_run(run_name=f"nightly-{nid}"):
        mlflow.set_tags({"night_id": nid, "recommendation_id": rec.recommendation_id})
        mlflow.log_params({f"model_{k}": v for k, v in rec.model_versions.items()})
        mlflow.log_metrics({
            "expected_cost": sum(h.expected_cost for h in ok), "expected_co2_kg": sum(h.expected_co2_kg for h in ok),
            "baseline_cost": float(base_ok["cost"].sum()), "baseline_co2_kg": float(base_ok["co2_kg"].sum()),
            "savings_vs_practice": float(base_ok["cost"].sum() - sum(h.expected_cost for h in ok)),
            "heats": len(rec.heats), "infeasible_heats": len(rec.heats) - len(ok),
            "good_history_rows": len(loaded.heats), "rejected_history_rows": len(loaded.report)})
