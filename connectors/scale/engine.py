"""Run independent units of work (a furnace's night, a price scenario) on Dask, or inline for reference.

* ``scheduler=None``: a local Dask cluster started here (``workers`` processes, one thread each, loopback only);
  ``scheduler="tcp://host:port"``: an existing cluster; ``scheduler="inline"``: a plain loop in this process,
  the single-machine reference the Dask results are compared against.
* Every unit is submitted with ``retries``: if the worker running it dies, the scheduler reruns it elsewhere.
* A unit that raises is reported by its key (e.g. ``LF2/co2-200``) with the error; the others go on.
* Units carry plain data (config dict, heats, model URIs), never fitted models: workers load models from
  MLflow by URI, so a worker needs the package and the tracking server, not this process's memory.
"""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("dosing.scale")
INLINE = "inline"


@dataclass
class UnitOutcome:
    """What became of one unit: its value, or the error that stopped it (with the worker it ran on)."""

    key: str
    ok: bool
    value: Any = None
    error: str = ""
    seconds: float = 0.0


@dataclass
class RunSummary:
    """All outcomes in submission order, where they ran and how long the whole run took (s)."""

    outcomes: list[UnitOutcome]
    engine: str
    workers: int
    wall_s: float
    startup_s: float = 0.0  # starting (or connecting to) the cluster, part of wall_s

    @property
    def failed(self) -> list[UnitOutcome]:
        return [o for o in self.outcomes if not o.ok]


def run_units(fn: Callable[[Any], Any], units: Mapping[str, Any], scheduler: str | None = None, workers: int = 2,
              retries: int = 2, progress: Callable[[str], None] = lambda m: None) -> RunSummary:
    """Apply ``fn`` to every unit (see module doc); never raises for a failing unit."""
    t0 = time.perf_counter()
    if scheduler == INLINE:
        outcomes = [_inline(fn, key, unit, progress) for key, unit in units.items()]
        return RunSummary(outcomes, INLINE, 1, time.perf_counter() - t0)
    with dask_client(scheduler, workers) as client:
        startup = time.perf_counter() - t0
        n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
        engine = client.scheduler.address
        progress(f"Dask scheduler {engine} with {n_workers} workers: {len(units)} units")
        outcomes = _on_dask(client, fn, units, retries, progress)
    return RunSummary(outcomes, engine, n_workers, time.perf_counter() - t0, startup)


def _inline(fn: Callable[[Any], Any], key: str, unit: Any, progress: Callable[[str], None]) -> UnitOutcome:
    t = time.perf_counter()
    try:
        value = fn(unit)
    except Exception as exc:  # one failing unit must not stop the others
        progress(f"{key}: FAILED {type(exc).__name__}: {exc}")
        return UnitOutcome(key, False, error=f"{type(exc).__name__}: {exc}", seconds=time.perf_counter() - t)
    progress(f"{key}: done")
    return UnitOutcome(key, True, value, seconds=time.perf_counter() - t)


def _on_dask(client, fn: Callable[[Any], Any], units: Mapping[str, Any], retries: int,  # noqa: ANN001
             progress: Callable[[str], None]) -> list[UnitOutcome]:
    from distributed import as_completed

    run = uuid.uuid4().hex[:8]
    futures = {client.submit(_timed, fn, unit, key=f"{key}-{run}", retries=retries, pure=False): key
               for key, unit in units.items()}
    done: dict[str, UnitOutcome] = {}
    for fut in as_completed(futures):
        key = futures[fut]
        try:
            value, seconds = fut.result()
            done[key] = UnitOutcome(key, True, value, seconds=seconds)
            progress(f"{key}: done")
        except Exception as exc:  # the unit's own error, re-raised by Dask; or KilledWorker after retries
            done[key] = UnitOutcome(key, False, error=f"{type(exc).__name__}: {exc}")
            progress(f"{key}: FAILED {type(exc).__name__}: {exc}")
            log.debug("unit %s failed:\n%s", key, "".join(traceback.format_exception(exc)))
        fut.release()
    return [done[key] for key in units]


def _timed(fn: Callable[[Any], Any], unit: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    return fn(unit), time.perf_counter() - t


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A client of ``scheduler``, or of a local cluster of ``workers`` single-threaded processes on 127.0.0.1."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    with LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=logging.WARNING) as cluster, Client(cluster) as client:
        yield client
