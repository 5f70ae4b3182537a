"""Heat pool: workers keep each heat's model; re-solves at new prices equal fresh solves; failures are named."""

from __future__ import annotations

import os
import signal
from queue import Empty

import pytest

from optimizer.dosing import DosingOptions
from optimizer.dosing.pool import HeatPool, HeatServer
from optimizer.dosing.run import _solve_group
from optimizer.simulator import draw_heats
from tests.optimizer.dosing.residuals import surrogates_with_residuals

ALONE = DosingOptions(inventory=False)


@pytest.fixture(scope="module")
def setup(cfg):
    sset = surrogates_with_residuals(cfg)
    day = [h.context for h in draw_heats(cfg, 12, 13, stream=1) if h.context.grade in ("S355J2", "S235JR")][:4]
    assert len(day) >= 2
    return sset, day


def _objective(r, prices: dict[str, float]) -> float:
    return r.cost + sum(p * r.additions_kg.get(m, 0.0) for m, p in prices.items())


def test_kept_model_resolved_at_new_prices_matches_a_fresh_build(cfg, setup):
    sset, day = setup
    server = HeatServer(cfg, sset)
    first = {h.heat_id: server.solve(h, ALONE, False) for h in day}
    kept = {h: k.solver.model for h, k in server.kept.items()}
    assert kept, "feasible heats keep their model"
    prices = {"SiMn": 4.0, "HC_FeMn": 2.5}
    priced = DosingOptions(inventory=False, shadow_price_per_kg=prices)
    mip = cfg.solver.mip_gap
    for h in day:
        if not first[h.heat_id].feasible:
            continue
        again = server.solve(h, priced, False)
        assert server.kept[h.heat_id].solver.model is kept[h.heat_id]  # no rebuild
        fresh = _solve_group((cfg, [h], sset, priced, False))[0]
        a, b = _objective(again, prices), _objective(fresh, prices)
        assert a == pytest.approx(b, rel=2 * mip), h.heat_id  # both within the MIP gap of the same optimum
        assert again.timings["build"] < fresh.timings["build"]


def test_pool_workers_give_the_inline_plans_and_keep_ownership(cfg, setup):
    sset, day = setup
    inline = HeatServer(cfg, sset)
    want = {h.heat_id: inline.solve(h, ALONE, False) for h in day}
    with HeatPool(cfg, sset, workers=2) as pool:
        got = pool.solve(day, ALONE)
        owners = dict(pool.owner)
        prices = {"SiMn": 3.0}
        pool.solve(day, DosingOptions(inventory=False, shadow_price_per_kg=prices))
        assert pool.owner == owners  # re-solves go to the worker that kept the model
    assert set(owners.values()) <= {0, 1}
    for h in day:
        assert got[h.heat_id].feasible == want[h.heat_id].feasible
        if want[h.heat_id].feasible:
            assert got[h.heat_id].cost == pytest.approx(want[h.heat_id].cost, rel=2 * cfg.solver.mip_gap)


def test_pool_diagnoses_a_heat_without_plan_like_the_elastic_program(cfg, setup):
    from dataclasses import replace

    from optimizer.dosing.diagnose import diagnose

    sset, day = setup
    grade = cfg.grade(day[0].grade)
    mn_max = grade.chemistry_wt_pct["Mn"].max
    bad = replace(day[0], heat_id="too-much-Mn", initial_wt_pct={**day[0].initial_wt_pct, "Mn": mn_max + 0.3})
    with HeatPool(cfg, sset, workers=2) as pool:
        plans = pool.solve([bad, *day[1:]], ALONE)
        assert not plans["too-much-Mn"].feasible
        why = pool.diagnose([bad], ALONE)
    assert why["too-much-Mn"] == diagnose(cfg, [bad], sset, ALONE)["too-much-Mn"]
    assert why["too-much-Mn"].startswith("Mn max")


def test_a_dead_worker_is_named_with_its_heat(cfg, setup):
    sset, day = setup
    with HeatPool(cfg, sset, workers=1) as pool:
        pool.solve(day[:1], ALONE)
        os.kill(pool.procs[0].pid, signal.SIGKILL)
        pool.procs[0].join(10)
        with pytest.raises(RuntimeError, match=f"worker 0 died while solving heat {day[0].heat_id}"):
            pool.solve(day[:1], ALONE)


def _plan_in_child(cfg, sset, day, queue) -> None:  # noqa: ANN001
    from optimizer.dosing import optimize_heats

    res = optimize_heats(cfg, day, sset, workers=2, explain=False)
    queue.put(sum(r.feasible for r in res.heats))


def test_plans_inside_a_daemonic_process_without_starting_children(cfg, setup):
    """A Dask worker is a daemonic process, which may not start children: the plan runs in it, inline."""
    import multiprocessing as mp

    sset, day = setup
    big_day = [h.context for h in draw_heats(cfg, 10, 21, stream=1)]
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_plan_in_child, args=(cfg, sset, big_day, queue), daemon=True)
    child.start()
    for _ in range(300):  # bounded: fail as soon as the child dies without an answer
        try:
            feasible = queue.get(timeout=1)
            break
        except Empty:
            if child.exitcode is not None:
                pytest.fail(f"planning failed in the daemonic process (exit code {child.exitcode})")
    else:
        pytest.fail("no plan within 300 s")
    child.join(30)
    assert child.exitcode == 0
    assert feasible >= 1
