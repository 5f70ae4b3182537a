"""Benchmark: our embedding against OMLT on the same dosing-shaped problem, HiGHS for both.

8 inputs in [0, 1]; 5 are the heat's context (fixed), 3 are decisions; minimise a linear cost of the decisions
subject to prediction >= target (the target is the model's median over random points, so it is reachable).
OMLT gets the trees via skl2onnx -> GBTBigMFormulation (gradient boosting and random forests: skl2onnx stores a
forest's leaves already divided by the number of trees, so OMLT's sum is the forest's mean) and the ReLU MLP as
an OMLT NetworkDefinition built from the fitted weights -> ReluBigMFormulation; the context is fixed as variable
values there, while we prune it at build time. Both share one warmed-up process (the first HiGHS call of a
process pays a one-off start-up that is not counted), each model is timed ``--repeats`` times, the two sides
taking turns (median; once when a run takes over 10 s) and each solve has a time limit so the script always
finishes.

Every model is solved twice by each side: with HiGHS's default options, and with HiGHS's probing presolve off
(``presolve_rule_off = 2**15``), which costs our threshold-indicator chains most of their solve time at 200 trees
x depth 5 and finds nothing there; the speed-up compares the two sides under the same options. Both sides also
get the tolerances our exactness needs (``optimizer.embedding.SOLVER_OPTIONS``: primal and MIP feasibility 1e-7,
HiGHS's MIP default is 1e-6), which is what the product runs.

Exactness: at each side's optimum, ``|model value - predict(x*)|`` (ours through ``verify``: ``exact`` says
whether it found no mismatch; OMLT's output variable against scikit-learn's predict at its inputs).

Columns: build = Python building the Pyomo model (OMLT: incl. the ONNX conversion), solve = the whole Pyomo
solve call (writing the model into HiGHS, HiGHS, reading back), HiGHS share = HiGHS's own run time / (build +
solve) of ours, speed-up = OMLT (build + solve) / ours (build + solve), each to its proven optimum (HiGHS's
default gap): ``>=`` where OMLT stopped at its time limit first (a lower bound: give it ``--omlt-time-limit``
to prove), ``n/a`` where ours did not finish (raise ``--time-limit``).

    .venv/bin/python experiments/bench_embedding.py [--time-limit 60] [--omlt-time-limit 60] [--repeats 5]
                                                    [--models 'GBR 2' RF] [--long-chain 64] [--profile]

``--profile`` also prints, for our side, HiGHS's own split of its time (presolve, of which probing; branch and
bound; nodes) from its log, which is where our time goes at 500 trees x depth 6.
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.neural_network import MLPRegressor

from optimizer.embedding import SOLVER_OPTIONS, add_predictor_constr, trees, verify

N_IN, N_CTX = 8, 5
COST = np.array([1.0, 2.0, 1.5])


def data(seed: int = 0, n: int = 3000):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (n, N_IN))
    y = X[:, 5] + 2 * X[:, 6] * X[:, 0] + np.sin(3 * X[:, 7]) + X[:, 1] * X[:, 2] - X[:, 3] + 0.05 * rng.normal(size=n)
    return X, y


SETTINGS = {"default": dict(SOLVER_OPTIONS),  # HiGHS presolve rule 15 = probing
            "no probing": {**SOLVER_OPTIONS, "presolve_rule_off": 1 << 15}}


def solve(m, limit: float, options: dict | None = None,
          log: io.StringIO | None = None) -> tuple[float, float, float, str, float]:
    """(Pyomo solve call s, HiGHS's own s, objective, termination, best bound); HiGHS's log into ``log``."""
    t = time.perf_counter()
    res = SolverFactory("highs").solve(m, time_limit=limit, load_solutions=False, solver_options=options or {},
                                       raise_exception_on_nonoptimal_result=False, tee=[log] if log else False)
    dt = time.perf_counter() - t
    ok = res.solution_status.name in ("optimal", "feasible")
    if ok:
        res.solution_loader.load_vars()
    obj = res.incumbent_objective if ok else float("nan")
    highs = getattr(res.timing_info, "highs_time", None)
    bound = res.objective_bound if res.objective_bound is not None else float("nan")
    return dt, (dt if highs is None else float(highs)), obj, res.termination_condition.name, float(bound)


def dosing_problem(m, x_vars, y, target: float) -> None:
    m.c = pyo.Constraint(expr=y >= target)
    m.obj = pyo.Objective(expr=sum(float(COST[i]) * x_vars[i] for i in range(3)))


PROFILE = False


NODE_LINE = re.compile(r"^\s*[A-Za-z]?\s+\d+\s+\d+\s+\d+\s+[\d.]+%.*\s([\d.]+)s$")  # HiGHS's B&B log rows


def highs_profile(log: str) -> str:
    """HiGHS's own split of a MIP solve, read from its log: the first presolve (incl. probing), each restart
    (presolve and root LP again: the gap in the node log's clock around "restarting"), the rest (search: LPs,
    cuts, heuristics, branching), nodes and LP iterations."""
    def num(pattern: str) -> float:
        found = re.search(pattern, log)
        return float(found.group(1)) if found else float("nan")

    total, pre = num(r"Timing\s+([\d.]+)"), num(r"([\d.]+) \(Presolve\)")
    restarts, last, before = [], 0.0, None
    for line in log.splitlines():
        if "restarting" in line:
            before = last
        clock = NODE_LINE.match(line.rstrip())
        if clock:
            last = float(clock.group(1))
            if before is not None:
                restarts.append(last - before)
                before = None
    probed = re.findall(r"Considered \d+ / (\d+) binaries", log)
    binaries = f"probing {probed[0]} binaries" if probed else "probing under 5 s: not logged"
    nodes, iters = num(r"Nodes\s+(\d+)"), num(r"LP iterations\s+(\d+)")
    again = sum(restarts)
    return (f"HiGHS {total:.2f} s = presolve {pre:.2f} s ({binaries}) + {len(restarts)} restart(s) (presolve and "
            f"root LP again) {again:.2f} s + search {total - pre - again:.2f} s; {nodes:.0f} nodes, {iters:.0f} LP "
            "iterations")


def ours(est, ctx: np.ndarray, target: float, limit: float, options: dict) -> dict:
    t = time.perf_counter()
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), bounds=(0, 1))
    m.y = pyo.Var()
    h = add_predictor_constr(m, est, [m.x[0], m.x[1], m.x[2], *[float(v) for v in ctx]], m.y)
    dosing_problem(m, m.x, m.y, target)
    build = time.perf_counter() - t
    log = io.StringIO() if PROFILE else None
    solve_s, highs_s, obj, status, _ = solve(m, limit, options, log)
    ok = obj == obj
    model_value, real = h.check() if ok else (float("nan"), float("nan"))
    return dict(build=build, solve=solve_s, highs=highs_s, obj=obj, status=status, binaries=h.n_binaries,
                real=real, error=abs(model_value - real), exact=ok and verify(h) == [],
                profile=highs_profile(log.getvalue()) if log else "")


def omlt_trees(est, ctx: np.ndarray, target: float, limit: float, options: dict) -> dict:
    from omlt import OmltBlock
    from omlt.gbt import GBTBigMFormulation, GradientBoostedTreeModel
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    t = time.perf_counter()
    onx = convert_sklearn(est, initial_types=[("x", FloatTensorType([None, N_IN]))], target_opset=12)
    m = pyo.ConcreteModel()
    m.gbt = OmltBlock()
    gbt = GradientBoostedTreeModel(onx, scaled_input_bounds={i: (0.0, 1.0) for i in range(N_IN)})
    m.gbt.build_formulation(GBTBigMFormulation(gbt))
    return _omlt_finish(m, m.gbt, est, ctx, target, limit, options, t)


def omlt_mlp(est: MLPRegressor, ctx: np.ndarray, target: float, limit: float, options: dict) -> dict:
    from omlt import OmltBlock
    from omlt.neuralnet import NetworkDefinition, ReluBigMFormulation
    from omlt.neuralnet.layer import DenseLayer, InputLayer

    t = time.perf_counter()
    net = NetworkDefinition(scaled_input_bounds={i: (0.0, 1.0) for i in range(N_IN)})
    prev = InputLayer([N_IN])
    net.add_layer(prev)
    n_layers = len(est.coefs_)
    for k, (w, b) in enumerate(zip(est.coefs_, est.intercepts_, strict=True)):
        layer = DenseLayer(prev.output_size, [w.shape[1]], w, b,
                           activation="relu" if k < n_layers - 1 else "linear")
        net.add_layer(layer)
        net.add_edge(prev, layer)
        prev = layer
    m = pyo.ConcreteModel()
    m.nn = OmltBlock()
    m.nn.build_formulation(ReluBigMFormulation(net))
    return _omlt_finish(m, m.nn, est, ctx, target, limit, options, t)


def _omlt_finish(m, blk, est, ctx: np.ndarray, target: float, limit: float, options: dict, t0: float) -> dict:
    for i, v in enumerate(ctx):
        blk.inputs[3 + i].fix(float(v))
    out = blk.outputs[next(iter(blk.outputs.keys()))]
    dosing_problem(m, blk.inputs, out, target)
    build = time.perf_counter() - t0
    solve_s, highs_s, obj, status, bound = solve(m, limit, options)
    error = float("nan")
    if obj == obj:
        x = np.array([[pyo.value(blk.inputs[i]) for i in range(N_IN)]])
        error = abs(float(pyo.value(out)) - float(est.predict(x)[0]))
    return dict(build=build, solve=solve_s, highs=highs_s, obj=obj, status=status, error=error, bound=bound)


def timed_pair(run_a: Callable[[], dict], run_b: Callable[[], dict], repeats: int) -> tuple[dict, dict]:
    """Median over ``repeats`` runs of build and solve of each side, the two sides taking turns (so a change in
    the shared machine's load hits both); a side that takes over 10 s runs once."""
    runs: tuple[list[dict], list[dict]] = ([], [])
    for _ in range(repeats):
        for side, run in zip(runs, (run_a, run_b), strict=True):
            if not side or side[0]["build"] + side[0]["solve"] <= 10.0:
                side.append(run())
    out = []
    for side in runs:
        med = dict(side[-1])
        for k in ("build", "solve", "highs"):
            med[k] = statistics.median(r[k] for r in side)
        out.append(med)
    return out[0], out[1]


def warm_up() -> None:
    """The first HiGHS call of a process and the first imports are one-off costs for both sides."""
    import omlt.gbt  # noqa: F401
    import omlt.neuralnet  # noqa: F401
    import skl2onnx  # noqa: F401

    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.Binary)
    m.obj = pyo.Objective(expr=m.x)
    solve(m, 10.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=60.0, help="per solve of ours (s)")
    ap.add_argument("--omlt-time-limit", type=float, default=None,
                    help="per solve of OMLT (s; default: --time-limit). Where OMLT stops at it, the speed-up is only "
                         "a lower bound: a higher limit lets it prove the optimum and gives the real ratio")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--models", nargs="*", help="only the models whose name starts with one of these, e.g. 'GBR 2'")
    ap.add_argument("--long-chain", type=int, default=trees.LONG_CHAIN,
                    help="threshold chains at least this long also get piece binaries (optimizer.embedding.trees)")
    ap.add_argument("--profile", action="store_true", help="print where our side's HiGHS time goes (its log)")
    args = ap.parse_args()
    global PROFILE  # noqa: PLW0603
    PROFILE = args.profile
    trees.LONG_CHAIN = args.long_chain
    omlt_limit = args.time_limit if args.omlt_time_limit is None else args.omlt_time_limit
    warnings.filterwarnings("ignore")
    warm_up()
    X, y = data()
    rng = np.random.default_rng(1)
    ctx = rng.uniform(0.2, 0.8, N_CTX)
    models = [(f"GBR {n}x{d}", GradientBoostingRegressor(n_estimators=n, max_depth=d, random_state=0))
              for n, d in ((100, 3), (200, 5), (500, 6))]
    models += [("RF 100x6", RandomForestRegressor(n_estimators=100, max_depth=6, random_state=0)),
               ("MLP 32x32", MLPRegressor(hidden_layer_sizes=(32, 32), max_iter=500, random_state=0))]
    print(f"{'model':10s} {'HiGHS':10s} {'ours build':>10s} {'ours solve':>10s} {'HiGHS share':>11s} "
          f"{'binaries':>8s} {'objective':>9s} {'real':>5s} {'|err|':>7s} {'exact':>5s} | {'OMLT build':>10s} "
          f"{'OMLT solve':>10s} {'OMLT obj':>9s} {'OMLT |err|':>10s} {'speed-up':>8s} {'same obj':>8s}")
    for name, est in models:
        probe = np.hstack([rng.uniform(0, 1, (400, 3)), np.tile(ctx, (400, 1))])  # drawn for every model: the
        if args.models and not any(name.startswith(p) for p in args.models):  # targets do not depend on --models
            continue
        est.fit(X, y)
        target = float(np.median(est.predict(probe)))
        peer = omlt_mlp if name.startswith("MLP") else omlt_trees
        for setting, options in SETTINGS.items():
            a, b = timed_pair(lambda est=est, t=target, o=options: ours(est, ctx, t, args.time_limit, o),
                              lambda est=est, t=target, o=options, p=peer: p(est, ctx, t, omlt_limit, o),
                              args.repeats)
            print(_line(name, setting, a, b, target), flush=True)
            if a.get("profile"):
                print(f"{'':21s} ours: build {a['build']:.2f} s, solve call {a['solve']:.2f} s; {a['profile']}",
                      flush=True)


def speed_up(a: dict, b: dict) -> str:
    """OMLT (build + solve) / ours, as a ratio only where our side proved its optimum: ``7.0x`` when both did,
    ``>=7.0x`` when OMLT stopped at its time limit (its real time is longer), ``n/a`` when ours did not finish."""
    ratio = (b["build"] + b["solve"]) / (a["build"] + a["solve"])
    if a["status"] != "convergenceCriteriaSatisfied":
        return "n/a"
    return f"{ratio:.1f}x" if b["status"] == "convergenceCriteriaSatisfied" else f">={ratio:.1f}x"


def _line(name: str, setting: str, a: dict, b: dict, target: float) -> str:
    ours_s = a["build"] + a["solve"]
    same = a["obj"] == a["obj"] and b["obj"] == b["obj"] and abs(b["obj"] - a["obj"]) <= 1e-3 * max(1, abs(a["obj"]))
    line = (f"{name:10s} {setting:10s} {a['build']:10.2f} {a['solve']:10.2f} {a['highs'] / ours_s:11.0%} "
            f"{a['binaries']:8d} {a['obj']:9.4f} {str(a['real'] >= target - 1e-6):>5s} {a['error']:7.1e} "
            f"{str(a['exact']):>5s} | {b['build']:10.2f} {b['solve']:10.2f} {b['obj']:9.4f} {b['error']:10.1e} "
            f"{speed_up(a, b):>8s} {str(same):>8s}")
    if b["status"] != "convergenceCriteriaSatisfied":
        line += (f" (OMLT: {b['status']} after {b['solve']:.0f} s, incumbent {b['obj']:.4f}, best bound "
                 f"{b['bound']:.4f}: the speed-up is a lower bound)")
    if a["status"] != "convergenceCriteriaSatisfied":
        line += f" (ours: {a['status']} after {a['solve']:.0f} s: no speed-up claimed; raise --time-limit)"
    return line


if __name__ == "__main__":
    main()
