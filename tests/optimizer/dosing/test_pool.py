"""Heat pool: workers keep each heat's model; re-solves at new prices equal fresh solves; failures are named."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path
from queue import Empty

import pytest

from optimizer.dosing import DosingOptions
from optimizer.dosing.extract import solve_group
from optimizer.dosing.pool import NO_ANSWER, HeatPool, HeatServer
from optimizer.simulator import draw_heats

pytestmark = pytest.mark.slow  # worker processes, residual surrogates, watchdog kills

ALONE = DosingOptions(inventory=False)


@pytest.fixture(scope="module")
def setup(cfg, residual_surrogates):
    sset = residual_surrogates
    day = [h.context for h in draw_heats(cfg, 12, 13, stream=1) if h.context.grade in ("S355J2", "S235JR")][:4]
    assert len(day) >= 2
    return sset, day


@pytest.fixture
def hang(monkeypatch, tmp_path) -> Path:
    """While the returned file exists, every job sent to a worker process (solve or diagnosis) really hangs: the
    worker sleeps until the watchdog kills it. Patched into ``HeatServer.run`` before the pool forks its
    workers (also the replacements the watchdog starts); this process's own (inline) jobs are not touched."""
    assert mp.get_start_method() == "fork", "the hang reaches the workers by fork"
    flag = tmp_path / "hang"
    parent = os.getpid()
    run = HeatServer.run

    def hanging_run(self, job):  # noqa: ANN001, ANN202
        for _ in range(6000):  # bounded: 10 minutes, far past any deadline used here
            if os.getpid() == parent or not flag.exists():
                break
            time.sleep(0.1)
        return run(self, job)

    monkeypatch.setattr(HeatServer, "run", hanging_run)
    flag.touch()
    return flag


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
        fresh = solve_group(cfg, [h], sset, priced, False)[0]
        a, b = _objective(again, prices), _objective(fresh, prices)
        assert a == pytest.approx(b, rel=2 * mip), h.heat_id  # both within the MIP gap of the same optimum
        assert again.timings.build < fresh.timings.build


def test_pool_workers_give_the_inline_plans_and_keep_ownership(cfg, setup):
    sset, day = setup
    inline = HeatServer(cfg, sset)
    want = {h.heat_id: inline.solve(h, ALONE, False) for h in day}
    with HeatPool(cfg, sset, workers=2) as pool:
        answered: list[str] = []
        got = pool.solve(day, ALONE, on_answer=answered.append)
        assert sorted(answered) == sorted(h.heat_id for h in day)  # each heat told once, as its answer came
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


def test_a_job_past_its_deadline_gets_its_worker_replaced_and_no_plan(cfg, setup, hang):
    """The watchdog: a worker that has not answered within ``deadline_s`` is killed and replaced; its heat has
    no plan and says why, and the replacement serves the next jobs (here every job hangs until ``hang`` is
    removed)."""
    sset, day = setup
    want = {h.heat_id: HeatServer(cfg, sset).solve(h, ALONE, False).feasible for h in day[:2]}
    with HeatPool(cfg, sset, workers=1, deadline_s=1.0) as pool:
        stuck = pool.procs[0]
        late = pool.solve(day[:2], ALONE)
        assert pool.replaced == 2 and not stuck.is_alive() and pool.procs[0].is_alive()
        why = pool.diagnose(day[:1], ALONE)
        hang.unlink()
        pool.deadline_s = 600.0
        again = pool.solve(day[:2], ALONE)
    for h in day[:2]:
        assert not late[h.heat_id].feasible and late[h.heat_id].status == NO_ANSWER
        assert late[h.heat_id].diagnosis.startswith("no plan: no answer from the solver within 1 s")
        assert again[h.heat_id].feasible == want[h.heat_id]
    assert pool.replaced == 3
    assert why[day[0].heat_id].startswith("not diagnosed: no answer from the solver")
    _capture_lock_is_free()


def test_heats_without_answer_are_not_retried_or_diagnosed(cfg, setup, hang):
    """Through the whole planning run (heat pool, inventory binding): when every solve hangs, every heat comes
    back without plan, status NO_ANSWER, and is not diagnosed (a diagnosis would replace the text)."""
    from optimizer.dosing import optimize_heats

    sset, _ = setup
    rushed = cfg.model_copy(update={"solver": cfg.solver.model_copy(update={"worker_deadline_s": 1.0})})
    big_day = [h.context for h in draw_heats(cfg, 10, 21, stream=1)]
    res = optimize_heats(rushed, big_day, sset, workers=2, explain=False)
    assert [r.status for r in res.heats] == [NO_ANSWER] * len(big_day)
    assert all(r.diagnosis.startswith("no plan: no answer from the solver within 1 s") for r in res.heats)
    _capture_lock_is_free()


def _capture_lock_is_free() -> None:
    """Workers killed mid-job must not leave Pyomo's output-capture lock held in this process (pool.py)."""
    from pyomo.common import dependencies

    assert dependencies.capture_output_lock.acquire(timeout=10), "a killed worker left the capture lock held"
    dependencies.capture_output_lock.release()


def test_workers_killed_at_any_point_of_a_solve_leave_the_capture_lock_free(cfg, setup):
    """Kill workers at fractions of a job's duration (so some die while Pyomo's output capture starts or stops,
    which holds a lock Pyomo shares with forked children): this process can still capture (pool.py)."""
    sset, day = setup
    t0 = time.perf_counter()
    HeatServer(cfg, sset).solve(day[0], ALONE, False)
    job_s = time.perf_counter() - t0
    for share in (0.2, 0.35, 0.5, 0.65, 0.8, 0.95):
        with HeatPool(cfg, sset, workers=2, deadline_s=share * job_s) as pool:
            pool.solve(day, ALONE)
        _capture_lock_is_free()


def test_days_with_linear_surrogates_are_watched_too(cfg, trained_600, hang):
    """Linear surrogates (no re-solves, models not kept) are served by the same pool, so a stuck solve is
    caught there as well: when every solve hangs, every heat of a 10-heat day has no answer. The session's linear
    surrogates (tests/optimizer/dosing/conftest.py, only read here) instead of training another set."""
    from optimizer.dosing import optimize_heats

    _, linear = trained_600
    rushed = cfg.model_copy(update={"solver": cfg.solver.model_copy(update={"worker_deadline_s": 1.0})})
    big_day = [h.context for h in draw_heats(cfg, 10, 21, stream=1)]
    res = optimize_heats(rushed, big_day, linear, workers=2, explain=False)
    assert [r.status for r in res.heats] == [NO_ANSWER] * len(big_day)
    _capture_lock_is_free()
