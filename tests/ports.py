"""Loopback ports for the servers the tests start, safe when pytest-xdist runs tests in parallel.

``connectors.net.free_port`` asks the OS for a free ephemeral port and releases it; the server binds it a moment
later. In a parallel suite that gap is a race: another worker's ``free_port``, or any outgoing connection (MLflow
and Dask clients open many), may be given the same ephemeral port first. Here each xdist worker draws from its own
block of ports below Linux's ephemeral range (32768-60999), which the OS never hands out by itself, so two workers
of one run never pick the same port, and a test that restarts a server "on the same port" keeps it to itself.
A port is handed out once per process and only if it can be bound right now (not listening, no TIME_WAIT), so a
concurrent run in another checkout, the one thing left that may draw from the same block, has to pick the same
random port in the same instant to collide.
"""

from __future__ import annotations

import os
import random
import socket

BASE_PORT = 19000  # blocks of BLOCK ports: 19000-31999, below the ephemeral range
BLOCK = 1000
N_BLOCKS = 13  # gw0..gw11 use blocks 0..11 (gw12 and up wrap around), a run without xdist uses the last one

_given: set[int] = set()
_draw = random.Random(os.getpid())


def worker_block(worker: str | None = None) -> range:
    """The ports of this process's block: by the xdist worker id ("gw3" -> block 3), the last block without xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "") if worker is None else worker
    index = int(worker[2:]) % (N_BLOCKS - 1) if worker.startswith("gw") and worker[2:].isdigit() else N_BLOCKS - 1
    start = BASE_PORT + index * BLOCK
    return range(start, start + BLOCK)


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as s:  # no SO_REUSEADDR: a port with a TIME_WAIT connection counts as taken
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port of this worker's block that is free now and was not handed out before in this process."""
    candidates = [p for p in worker_block() if p not in _given]
    _draw.shuffle(candidates)
    for port in candidates:  # bounded: at most BLOCK ports
        if _bindable(host, port):
            _given.add(port)
            return port
    raise RuntimeError(f"no free port left in {worker_block()} on {host} ({len(_given)} handed out here)")
