"""Several furnaces in one file: each furnace's nightly run (and scenario sweep) is one unit of work.

A fleet file (TOML); paths are relative to the file and must be readable by every Dask worker (shared storage)::

    tracking_uri = "http://mlflow.plant:5000"   # optional; default: a local store in each furnace's workdir

    [[furnace]]
    name = "LF1"
    config = "lf1/plant.toml"
    history = "lf1/history"
    schedule = "lf1/schedule.csv"
    workdir = "lf1/work"
    state_dir = "lf1/opcua"        # optional: the setpoint server's state directory (publish step)

Furnaces that share a tracking server must use different ``mlflow.model_prefix`` in their configs, or their
models would overwrite each other; that is checked at load.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from optimizer.config import PlantConfig, load_config, read_toml, validate_as
from optimizer.errors import ConfigError

log = logging.getLogger("dosing.fleet")


class FurnaceEntry(BaseModel):
    """One furnace's files."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    config: Path
    history: Path
    schedule: Path
    workdir: Path
    state_dir: Path | None = None


class _FleetFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tracking_uri: str | None = None
    furnace: Annotated[list[FurnaceEntry], Field(min_length=1)]


@dataclass(frozen=True)
class Furnace:
    """A furnace with its validated config and absolute paths."""

    entry: FurnaceEntry
    cfg: PlantConfig
    tracking_uri: str

    @property
    def name(self) -> str:
        return self.entry.name


def load_fleet(path: str | Path) -> list[Furnace]:
    """Read a fleet file, load every furnace's plant config; ConfigError names the file, furnace and key."""
    p = Path(path)
    fleet = validate_as(_FleetFile, read_toml(p), str(p))
    base = p.resolve().parent
    furnaces, problems = [], []
    for i, e in enumerate(fleet.furnace):
        abs_entry = e.model_copy(update={k: (base / v).resolve() for k in ("config", "history", "schedule",
                                                                            "workdir", "state_dir")
                                         if (v := getattr(e, k)) is not None})
        try:
            cfg = load_config(abs_entry.config)
        except ConfigError as exc:
            problems.append((f"furnace[{i}]({e.name}).config", str(exc)))
            continue
        uri = fleet.tracking_uri or f"sqlite:///{abs_entry.workdir / 'mlflow.db'}"
        furnaces.append(Furnace(abs_entry, cfg, uri))
    problems += _clashes(fleet, furnaces)
    if problems:
        raise ConfigError(str(p), problems)
    return furnaces


def _clashes(fleet: _FleetFile, furnaces: list[Furnace]) -> list[tuple[str, str]]:
    problems = []
    names = [f.name for f in fleet.furnace]
    problems += [(f"furnace({n})", "name used twice") for n in sorted({n for n in names if names.count(n) > 1})]
    if fleet.tracking_uri:
        prefixes: dict[str, str] = {}
        for f in furnaces:
            pre = f.cfg.mlflow.model_prefix
            if pre in prefixes:
                problems.append((f"furnace({f.name}).config", f"mlflow.model_prefix {pre!r} is also used by "
                                 f"{prefixes[pre]}; furnaces sharing a tracking server need their own prefix"))
            prefixes.setdefault(pre, f.name)
    return problems


@dataclass(frozen=True)
class NightUnit:
    """One furnace's night for a worker: paths on shared storage and the tracking URI."""

    furnace: str
    config_path: str
    history: str
    schedule: str
    workdir: str
    state_dir: str | None
    tracking_uri: str


def night_unit(f: Furnace) -> NightUnit:
    e = f.entry
    return NightUnit(f.name, str(e.config), str(e.history), str(e.schedule), str(e.workdir),
                     str(e.state_dir) if e.state_dir else None, f.tracking_uri)


def run_furnace_night(unit: NightUnit) -> dict[str, Any]:
    """The nightly run of one furnace (connectors.nightly), on whichever worker gets it."""
    from connectors.nightly import run_nightly
    from connectors.tracking import open_store
    from optimizer.recommendation import Recommendation

    cfg = load_config(unit.config_path)
    workdir = Path(unit.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    store = open_store(cfg, unit.tracking_uri, workdir=workdir)  # a local store keeps its artifacts in workdir
    res = run_nightly(cfg, Path(unit.history), Path(unit.schedule), workdir,
                      Path(unit.state_dir) if unit.state_dir else None, store, pareto=False,
                      day_draws=0,  # a fleet night measures training and planning; no day ranges
                      progress=lambda m: log.info("%s: %s", unit.furnace, m))
    row: dict[str, Any] = {"furnace": unit.furnace, "night_id": res.night_id, "skipped": res.skipped,
                           "published": res.published, "recommendation": str(res.recommendation_file),
                           "report": str(res.report_file), "summary": res.summary}
    if res.savings is not None:  # the night's saving against today's practice (optimizer.savings, the report's)
        row.update(money=res.savings.ours.money, money_saved=res.savings.saved("money"),
                   co2_saved_t=res.savings.saved("co2_t"))
    if res.recommendation_file and res.recommendation_file.exists():
        rec = Recommendation.from_json(res.recommendation_file)
        ok = [h for h in rec.heats if h.feasible]
        row.update(recommendation_id=rec.recommendation_id, heats=len(rec.heats),
                   infeasible_heats=len(rec.heats) - len(ok), expected_cost=sum(h.expected_cost for h in ok),
                   expected_co2_kg=sum(h.expected_co2_kg for h in ok))
    return row
