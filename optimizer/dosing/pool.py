"""Worker processes that keep every heat's model and HiGHS instance between solves.

Price coordination (coordinate.py) re-solves a heat several times with only the shadow prices changed. A
process pool that forgets the model would rebuild the Pyomo model, re-write it into HiGHS and search for a first
incumbent each time; here each heat is solved by one worker that keeps its model (``KeptSolve``): a re-solve
updates the price parameters and starts HiGHS from the heat's last plan.

    with HeatPool(cfg, surrogates, workers=2) as pool:
        first = pool.solve(heats, DosingOptions(inventory=False), explain=True)     # builds and keeps
        again = pool.solve(some, DosingOptions(inventory=False, shadow_price_per_kg={"SiMn": 4.0}))
        why = pool.diagnose(infeasible, DosingOptions(inventory=False))              # on any idle worker

A heat goes to whichever worker is idle the first time and to the same worker afterwards. ``workers=0``
serves in this process (same code path, for small days and tests). A worker that dies or raises is reported
with the heat it was solving; nothing is retried silently.

Watchdog: HiGHS honours its time limit, but a solver that never returns must not stall the night's plan (HiGHS
1.15.1 was seen looping inside a sub-MIP with probing switched off, docs/dosing.md). A job that has not
answered within ``deadline_s`` (the config's ``[solver] worker_deadline_s``, else three solver time limits plus
30 s: room for the build, the solve, the explanation LPs and a diagnosis's second solve) gets its worker killed
and replaced; the heat has no plan, with status ``NO_ANSWER`` and a diagnosis saying so, and the other heats go
on. Inline serving has no watchdog.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

from pyomo.common import dependencies

from optimizer.config import PlantConfig
from optimizer.dosing.diagnose import diagnose
from optimizer.dosing.extract import plan_results
from optimizer.dosing.model import DosingOptions, build_model
from optimizer.dosing.results import HeatPlanResult
from optimizer.dosing.solve import KeptSolve
from optimizer.schedule import HeatContext
from optimizer.surrogates.surrogate import Surrogates

JOIN_TIMEOUT_S = 10.0
NO_ANSWER = "no answer from the solver"
OnAnswer = Callable[[str], None]  # called with a heat id when its answer arrives


def _ignore(heat_id: str) -> None:
    """The default ``on_answer``: nobody is watching."""


def default_deadline_s(cfg: PlantConfig) -> float:
    """How long one job may take before its worker is replaced: the config's ``worker_deadline_s``, else three
    solver time limits plus 30 s (module doc)."""
    if cfg.solver.worker_deadline_s is not None:
        return cfg.solver.worker_deadline_s
    return 3.0 * cfg.solver.time_limit_s + 30.0


@dataclass
class _Kept:
    solver: KeptSolve
    structure: tuple  # the options the model was built with, apart from the prices


@dataclass(frozen=True)
class SolveJob:
    """Solve one heat with ``opts`` (keeping its model); the answer is its :class:`HeatPlanResult`."""

    heat: HeatContext
    opts: DosingOptions
    explain: bool = False


@dataclass(frozen=True)
class DiagnoseJob:
    """Say why one heat has no plan; the answer is the diagnosis text."""

    heat: HeatContext
    opts: DosingOptions


@dataclass(frozen=True)
class JobFailed:
    """A worker's answer when the job raised: the traceback, raised by the parent with the heat's id."""

    traceback: str


Job = SolveJob | DiagnoseJob


def _structure(opts: DosingOptions, heat_id: str) -> tuple:
    return (opts.co2_price_per_t, opts.co2_cap_kg, opts.inventory, opts.elastic,
            opts.confidence_by_heat.get(heat_id), tuple(sorted(opts.inventory_used_kg.items())))


class HeatServer:
    """Solves single heats and keeps their models (runs inside a worker process, or inline); with
    ``keep_models=False`` a model lives for one solve (days without re-solves: bounded memory)."""

    def __init__(self, cfg: PlantConfig, surrogates: Surrogates, keep_models: bool = True) -> None:
        self.cfg, self.surrogates, self.keep_models = cfg, surrogates, keep_models
        self.kept: dict[str, _Kept] = {}

    def solve(self, heat: HeatContext, opts: DosingOptions, explain: bool) -> HeatPlanResult:
        t0 = time.perf_counter()
        kept = self.kept.get(heat.heat_id)
        structure = _structure(opts, heat.heat_id)
        if kept is None or kept.structure != structure:
            kept = _Kept(KeptSolve(build_model(self.cfg, [heat], self.surrogates, opts), self.cfg), structure)
            self.kept[heat.heat_id] = kept
        m = kept.solver.model
        for mat in m.SP:
            m.shadow_price[mat].set_value(opts.shadow_price_per_kg.get(mat, 0.0))
        t1 = time.perf_counter()
        out = kept.solver.solve()
        if not out.feasible or not self.keep_models:
            self.kept.pop(heat.heat_id, None)
        return plan_results(m, self.cfg, [heat.heat_id], self.surrogates, out, explain, t1 - t0, t1)[0]

    def diagnose(self, heat: HeatContext, opts: DosingOptions) -> str:
        """Why the heat has no plan (the elastic program, optimizer/dosing/diagnose.py)."""
        return diagnose(self.cfg, [heat], self.surrogates, opts)[heat.heat_id]

    def run(self, job: Job) -> HeatPlanResult | str:
        if isinstance(job, SolveJob):
            return self.solve(job.heat, job.opts, job.explain)
        return self.diagnose(job.heat, job.opts)


def _serve(conn: Connection, cfg: PlantConfig, surrogates: Surrogates, keep_models: bool) -> None:
    """Worker loop: a :class:`SolveJob` or :class:`DiagnoseJob` in, the HeatPlanResult, the diagnosis or a
    :class:`JobFailed` out; None stops."""
    _own_capture_lock()
    server = HeatServer(cfg, surrogates, keep_models)
    while True:
        job = conn.recv()
        if job is None:
            break
        try:
            conn.send(server.run(job))
        except Exception:  # noqa: BLE001 (sent to the parent, which raises it with the heat's id)
            conn.send(JobFailed(traceback.format_exc()))
    conn.close()


def _own_capture_lock() -> None:
    """Give this worker its own lock for Pyomo's output capture. Pyomo shares one multiprocessing lock between a
    process and every child forked from it, held while a solve's output capture starts and stops; a worker
    killed by the watchdog inside that window would leave it held and stall every other process's next solve
    (Pyomo gives up after 200 s: "Deadlock starting capture_output"). The capture redirects this process's own
    file descriptors, so a per-process lock is all it needs."""
    dependencies.capture_output_lock = threading.Lock()


class HeatPool:
    """``workers`` processes, each keeping the models of the heats it solved (see module doc)."""

    def __init__(self, cfg: PlantConfig, surrogates: Surrogates, workers: int, deadline_s: float | None = None,
                 keep_models: bool = True) -> None:
        self.cfg, self.surrogates, self.keep_models = cfg, surrogates, keep_models
        self.deadline_s = default_deadline_s(cfg) if deadline_s is None else deadline_s
        self.inline = HeatServer(cfg, surrogates, keep_models) if workers <= 0 else None
        self.conns: list[Connection] = []
        self.procs: list[mp.process.BaseProcess] = []
        self.owner: dict[str, int] = {}
        self.replaced = 0  # workers killed by the watchdog
        for _ in range(max(workers, 0)):
            conn, proc = self._spawn()
            self.conns.append(conn)
            self.procs.append(proc)

    def _spawn(self) -> tuple[Connection, mp.process.BaseProcess]:
        """A fresh worker process with no kept models, and the parent's end of its pipe."""
        ctx = mp.get_context()
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child, self.cfg, self.surrogates, self.keep_models), daemon=True)
        proc.start()
        child.close()
        return parent, proc

    def _start(self, w: int) -> None:
        """Start worker ``w`` afresh (a new process with no kept models)."""
        self.conns[w], self.procs[w] = self._spawn()

    def __enter__(self) -> HeatPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def solve(self, heats: list[HeatContext], opts: DosingOptions, explain: bool = False,
              on_answer: OnAnswer | None = None) -> dict:
        """Solve every heat of ``heats`` with ``opts``; returns {heat id: HeatPlanResult}. ``on_answer`` is called
        with each heat id as its answer arrives (progress display)."""
        return self._dispatch([SolveJob(h, opts, explain) for h in heats], sticky=True, on_answer=on_answer)

    def diagnose(self, heats: list[HeatContext], opts: DosingOptions,
                 on_answer: OnAnswer | None = None) -> dict[str, str]:
        """Diagnose every heat of ``heats`` (no plan) on whichever worker is idle; returns {heat id: text}."""
        return self._dispatch([DiagnoseJob(h, opts) for h in heats], sticky=False, on_answer=on_answer)

    def _dispatch(self, jobs: list[Job], sticky: bool, on_answer: OnAnswer | None = None) -> dict:
        """Run the jobs, each heat's on the worker that owns its model (``sticky``) or else on any idle one."""
        done = on_answer or _ignore
        if self.inline is not None:
            inline = {}
            for job in jobs:
                inline[job.heat.heat_id] = self.inline.run(job)
                done(job.heat.heat_id)
            return inline
        queues: list[deque[Job]] = [deque() for _ in self.conns]
        free: deque[Job] = deque()
        for job in jobs:
            owned = sticky and job.heat.heat_id in self.owner
            (queues[self.owner[job.heat.heat_id]] if owned else free).append(job)
        busy: dict[int, tuple[Job, float]] = {}  # worker: (job, sent at)
        out = {}
        while free or any(queues) or busy:
            for w in range(len(self.conns)):
                if w not in busy and (queues[w] or free):
                    job = queues[w].popleft() if queues[w] else free.popleft()
                    if sticky:
                        self.owner[job.heat.heat_id] = w
                    self._send(w, job)
                    busy[w] = (job, time.monotonic())
            first_due = min(sent for _, sent in busy.values()) + self.deadline_s
            for conn in wait([self.conns[w] for w in busy], timeout=max(0.0, first_due - time.monotonic())):
                w = next(w for w in busy if self.conns[w] is conn)
                job, _ = busy.pop(w)
                out[job.heat.heat_id] = self._receive(w, job.heat)
                done(job.heat.heat_id)
            now = time.monotonic()
            for w in [w for w, (_, sent) in busy.items() if now - sent > self.deadline_s]:
                job, _ = busy.pop(w)
                out[job.heat.heat_id] = self._no_answer(w, job)
                done(job.heat.heat_id)
        return out

    def _no_answer(self, w: int, job: Job) -> HeatPlanResult | str:
        """Kill and replace worker ``w``, stuck on ``job``; what its heat gets instead of an answer."""
        self.procs[w].kill()
        self.procs[w].join(JOIN_TIMEOUT_S)
        self.conns[w].close()
        self._start(w)
        self.replaced += 1
        why = (f"{NO_ANSWER} within {self.deadline_s:.0f} s (HiGHS time limit {self.cfg.solver.time_limit_s:.0f} s);"
               f" its worker was replaced")
        if isinstance(job, DiagnoseJob):
            return f"not diagnosed: {why}"
        return HeatPlanResult(job.heat.heat_id, False, status=NO_ANSWER, diagnosis=f"no plan: {why}")

    def _died(self, w: int, heat: HeatContext) -> RuntimeError:
        code = self.procs[w].exitcode
        return RuntimeError(f"dosing worker {w} died while solving heat {heat.heat_id} (exit code {code})")

    def _send(self, w: int, job: Job) -> None:
        try:
            self.conns[w].send(job)
        except (BrokenPipeError, OSError):
            raise self._died(w, job.heat) from None

    def _receive(self, w: int, heat: HeatContext):  # noqa: ANN202
        try:
            got = self.conns[w].recv()
        except EOFError:
            raise self._died(w, heat) from None
        if isinstance(got, JobFailed):
            raise RuntimeError(f"dosing worker {w} failed on heat {heat.heat_id}:\n{got.traceback}")
        return got

    def close(self) -> None:
        """Stop the workers (bounded wait, then terminate)."""
        for conn in self.conns:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for proc in self.procs:
            proc.join(JOIN_TIMEOUT_S)
            if proc.is_alive():
                proc.terminate()
                proc.join(JOIN_TIMEOUT_S)
        for conn in self.conns:
            conn.close()
        self.conns, self.procs = [], []
