"""A real Dask cluster for tests: ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from distributed import Client

from tests.ports import free_port

DASK = str(Path(sys.executable).parent / "dask")


@dataclass
class Cluster:
    address: str
    workers: dict[str, subprocess.Popen]  # worker name -> its process (no nanny: killing it loses the worker)


@contextlib.contextmanager
def dask_cluster(n_workers: int, logdir: Path) -> Iterator[Cluster]:
    """Start a scheduler and ``n_workers`` single-threaded workers; wait (bounded) until all registered."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs: list[subprocess.Popen] = []
    log = open(logdir / "dask.log", "w")  # noqa: SIM115 (closed below)
    try:
        procs.append(subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                       "--no-dashboard", "--no-show"], stdout=log, stderr=subprocess.STDOUT))
        workers = {f"w{i}": _worker(address, f"w{i}", logdir, log) for i in range(n_workers)}
        procs.extend(workers.values())
        _wait_for_workers(address, n_workers)
        yield Cluster(address, workers)
    finally:
        _stop(procs)
        log.close()


@contextlib.contextmanager
def extra_worker(cluster: Cluster, name: str, logdir: Path) -> Iterator[subprocess.Popen]:
    """One more worker ``name`` on ``cluster`` for the block (to kill, say); stopped, if still alive, after it.
    The cluster's own workers are not touched."""
    log = open(logdir / f"dask_{name}.log", "w")  # noqa: SIM115 (closed below)
    proc = _worker(cluster.address, name, logdir, log)
    try:
        _wait_for_workers(cluster.address, len(cluster.workers) + 1)
        yield proc
    finally:
        _stop([proc])
        log.close()


def _worker(address: str, name: str, logdir: Path, log: IO[str]) -> subprocess.Popen:
    """A single-threaded worker process without a nanny (killing it loses the worker)."""
    return subprocess.Popen(
        [DASK, "worker", address, "--name", name, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
         "--no-dashboard", "--memory-limit", "4GiB", "--death-timeout", "300"],
        stdout=log, stderr=subprocess.STDOUT, cwd=logdir)


def _wait_for_workers(address: str, n_workers: int) -> None:
    # Hang guards, not speed expectations: worker start-up is import-bound and slow under load.
    with Client(address, timeout="300s") as client:
        client.wait_for_workers(n_workers, timeout=300)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):
        p.terminate()
    deadline = time.monotonic() + 20
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
