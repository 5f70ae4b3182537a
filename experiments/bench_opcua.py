"""Benchmark: a DCS polling every setpoint of a 200-heat day, the publish latency of a new recommendation, and
the longest gap in a DCS's reads while a 200-heat recommendation is published.

Real asyncua server and client on 127.0.0.1, Basic256Sha256 SignAndEncrypt. Peers in the same run: reading the
whole recommendation as the single ``RecommendationJson`` value instead of node by node; for the read gap, the
same publish with a build that does not yield to the event loop (as before issue 17). The reading client runs
in the server's process and event loop, so its gaps are an upper bound for a DCS in its own process.

    .venv/bin/python experiments/bench_opcua.py [--heats 200] [--polls 10] [--publishes 5]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import tempfile
import time
from pathlib import Path

from connectors.opcua import Credentials, SetpointServer, connect, create_certificate, read_setpoints, read_snapshot
from connectors.opcua import address_space as space
from connectors.opcua.subtree import SubtreeBuilder
from optimizer.config import load_config
from optimizer.recommendation import HeatRecommendation, Recommendation


def recommendation(n: int, simn: float) -> Recommendation:
    heats = [HeatRecommendation(heat_id=f"H{i:04d}", grade="S355J2", steel_weight_t=100.0,
                                additions_kg={"SiMn": simn + i % 7, "Lime": 450.0}, arc_energy_kWh=3500.0,
                                n_samples=2) for i in range(n)]
    return Recommendation.new("LF-1", heats, 12.0)


class BlockingBuilder(SubtreeBuilder):
    """The peer: the whole subtree built without yielding to the event loop."""

    async def build(self, gen: int, rec: Recommendation) -> None:
        folder = await self.add_generation(gen)
        for h in rec.heats:
            await self.add_heat(folder, gen, h)


async def read_gap(srv: SetpointServer, client, ns: int, rec: Recommendation) -> tuple[float, int, float]:  # noqa: ANN001
    """(longest gap between answered reads of Dosing.Generation in s, reads answered, publish s) during a publish."""
    node = client.get_node(space.header(space.GENERATION).node_id(ns))
    done, answered = asyncio.Event(), []

    async def reader() -> None:
        while not done.is_set():
            await node.read_value()
            answered.append(time.perf_counter())

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.3)
    t0 = time.perf_counter()
    await srv.publish(rec)
    t1 = time.perf_counter()
    done.set()
    await task
    times = [t0, *[t for t in answered if t0 < t < t1], t1]
    return max(b - a for a, b in zip(times, times[1:], strict=False)), len(times) - 2, t1 - t0


async def main_async(args) -> None:  # noqa: ANN001
    cfg = load_config()
    d = Path(tempfile.mkdtemp())
    scert, skey = await create_certificate(d / "server", "dosing-server", "localhost")
    ccert, ckey = await create_certificate(d / "client", "dcs", "localhost", client=True)
    (d / "trusted").mkdir()
    shutil.copy(ccert, d / "trusted")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ep = f"opc.tcp://127.0.0.1:{port}/dosing/"
    srv = SetpointServer(cfg, ep, d / "state", certificate=scert, private_key=skey, trusted_dir=d / "trusted")
    async with srv:
        latencies = []
        for k in range(args.publishes):
            t = time.perf_counter()
            await srv.publish(recommendation(args.heats, 1500.0 + k))
            latencies.append(time.perf_counter() - t)
        client = await connect(ep, Credentials(ccert, ckey, scert, name="dcs"))
        n_nodes = args.heats * (len(cfg.material_names) + 3)
        t = time.perf_counter()
        for _ in range(args.polls):
            await read_setpoints(client, cfg.opcua.namespace_uri, cfg.material_names)
        per_poll = (time.perf_counter() - t) / args.polls
        t = time.perf_counter()
        for _ in range(args.polls):
            await read_snapshot(client, cfg.opcua.namespace_uri)
        per_json = (time.perf_counter() - t) / args.polls
        ns = await client.get_namespace_index(cfg.opcua.namespace_uri)
        seen = asyncio.Event()
        target = srv.generation + 1

        class Handler:
            def datachange_notification(self, node, val, data):  # noqa: ANN001
                if val is not None and val >= target:
                    seen.set()

        sub = await client.create_subscription(50, Handler())
        await sub.subscribe_data_change(client.get_node(space.header(space.GENERATION).node_id(ns)))
        await asyncio.sleep(0.3)
        t = time.perf_counter()
        await srv.publish(recommendation(args.heats, 1600.0))
        await asyncio.wait_for(seen.wait(), 30)
        visible = time.perf_counter() - t
        gaps = [await read_gap(srv, client, ns, recommendation(args.heats, 1610.0 + k)) for k in range(args.gaps)]
        chunked = srv.subtree
        srv.subtree = BlockingBuilder(chunked.server, chunked.root, chunked.ns, chunked.cfg)
        blocking = await read_gap(srv, client, ns, recommendation(args.heats, 1650.0))
        srv.subtree = chunked
        await client.disconnect()
    print(f"{args.heats}-heat recommendation, {n_nodes} setpoint nodes, SignAndEncrypt on 127.0.0.1")
    print(f"  DCS poll of every setpoint node by node: {per_poll * 1000:.0f} ms per poll = "
          f"{n_nodes / per_poll:,.0f} values/s ({1 / per_poll:.2f} full polls/s)")
    print(f"  peer, whole recommendation as one JSON value: {per_json * 1000:.0f} ms per read "
          f"(node-by-node / JSON = {per_poll / per_json:.1f}x)")
    print(f"  publish (build the generation subtree, switch, persist): median "
          f"{statistics.median(latencies):.2f} s, max {max(latencies):.2f} s over {len(latencies)} publishes")
    print(f"  publish until a subscribed DCS sees the new generation: {visible:.2f} s")
    worst = max(gaps)
    print(f"  DCS reading Dosing.Generation during a publish (build yields per heat): longest read gap "
          f"{worst[0] * 1000:.0f} ms (median over {len(gaps)} publishes "
          f"{statistics.median(g[0] for g in gaps) * 1000:.0f} ms), {worst[1]} reads answered in {worst[2]:.2f} s")
    print(f"  peer, build without yielding: longest read gap {blocking[0] * 1000:.0f} ms, {blocking[1]} reads "
          f"answered in {blocking[2]:.2f} s (ratio {blocking[0] / worst[0]:.0f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heats", type=int, default=200)
    ap.add_argument("--polls", type=int, default=10)
    ap.add_argument("--publishes", type=int, default=5)
    ap.add_argument("--gaps", type=int, default=3, help="publishes during which the read gap is measured")
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
