"""The test servers' ports (tests/ports.py): each xdist worker has its own block below the ephemeral range."""

from __future__ import annotations

import socket

from tests.ports import BASE_PORT, BLOCK, N_BLOCKS, _bindable, free_port, worker_block


def test_workers_have_disjoint_blocks_below_the_ephemeral_range():
    blocks = [set(worker_block(f"gw{i}")) for i in range(N_BLOCKS - 1)] + [set(worker_block(""))]
    assert all(len(b) == BLOCK for b in blocks)
    assert len(set().union(*blocks)) == N_BLOCKS * BLOCK  # pairwise disjoint
    assert min(map(min, blocks)) == BASE_PORT and max(map(max, blocks)) < 32768
    assert worker_block(f"gw{N_BLOCKS - 1}") == worker_block("gw0")  # more workers than blocks wrap around


def test_a_port_is_handed_out_once_and_only_while_it_can_be_bound():
    ports = [free_port() for _ in range(20)]
    assert len(set(ports)) == 20 and set(ports) <= set(worker_block())
    with socket.socket() as taken:  # another process's server on one of them
        taken.bind(("127.0.0.1", ports[0]))
        taken.listen()
        assert not _bindable("127.0.0.1", ports[0])
    assert _bindable("127.0.0.1", ports[0])
