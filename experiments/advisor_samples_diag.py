"""Why heats need a third chemistry sample: a diagnosis of the advisor's sample count on one plant physics.

Two parts, both printed as tables:

1. **Closed loop** (fresh heats run by the advisor): per stage and outcome, the standardised error of the closing
   measurement against the stage model's forecast at the decision (with the heat's own update), its 90 % coverage
   and mean; per heat with 3+ chemistry samples, which outcomes were outside the acceptance window after its
   2nd and its 1st sample, with prediction and measurement; per stage and closing, the decision's chance to
   finish against the share that did, and what the finish rule said of the others (how glaze's inflated Al
   reading error was found: its stage-3 samples finished 3 % of heats against an expected 39 %).
2. **History, time-ordered check**: stage models fitted on the earlier 80 % of the history's heats, every stage of
   the later 20 % forecast from that heat's samples before it (the heat's own update included): coverage of the
   90 % interval and mean standardised error per stage number and outcome.

    .venv/bin/python experiments/advisor_samples_diag.py [--physics slag] [--heats 200] [--seed 11]
"""

from __future__ import annotations

import argparse
import math
import re
from collections import Counter, defaultdict

import numpy as np
import pandas as pd
from scipy import stats

from optimizer.advisor import Advisor, advisor_from_history
from optimizer.advisor.advisor import _windows
from optimizer.config import PlantConfig, load_config
from optimizer.schema import material_col, sample_element_col
from optimizer.simulator import evaluate, simulate_history
from optimizer.simulator.advisor_policy import AdvisorPolicy
from optimizer.simulator.heats import EVALUATION_STREAM, draw_heats
from optimizer.simulator.physics_registry import get_physics
from optimizer.stages.models import TEMPERATURE, StageModels, StagePlan, fit_stage_models
from optimizer.stages.state import HeatState, Sample, StageRecord
from optimizer.stages.table import stage_table
from optimizer.stages.update import forecast, stage_context

Z90 = float(stats.norm.ppf(0.95))


def _record_state(rec, ctx, upto: int) -> HeatState:  # noqa: ANN001 (a HeatRecord, a HeatContext)
    """The heat as the advisor saw it at sample ``upto``."""
    obs = tuple(Sample(s["sample_no"], s["minutes_from_start"], s["temperature_degC"],
                       {k[: -len("_wt_pct")]: v for k, v in s.items() if k.endswith("_wt_pct")})
                for s in rec.samples[: upto + 1])
    return HeatState(ctx.heat_id, ctx.grade, ctx.steel_weight_t, obs, tuple(rec.stages[:upto]),
                     oxygen_ppm=ctx.initial_oxygen_ppm)


def _history_states(cfg: PlantConfig, heats: pd.DataFrame, samples: pd.DataFrame) -> dict[str, HeatState]:
    out = {}
    ctx = heats.set_index("heat_id")
    for hid, g in samples.sort_values(["heat_id", "sample_no"]).groupby("heat_id", sort=False):
        obs = tuple(Sample(int(r.sample_no), float(r.minutes_from_start), float(r.temperature_degC),
                           {el: float(getattr(r, sample_element_col(el))) for el in cfg.elements})
                    for r in g.itertuples(index=False))
        st = tuple([StageRecord({m.name: float(getattr(r, material_col(m.name))) for m in cfg.materials
                                if getattr(r, material_col(m.name)) > 0}, float(r.arc_energy_kWh),
                               float(r.arc_time_min)) for r in g.itertuples(index=False)][1:])
        c = ctx.loc[hid]
        out[str(hid)] = HeatState(str(hid), str(c["grade"]), float(c["steel_weight_t"]), obs, st,
                                  oxygen_ppm=float(c["initial_oxygen_ppm"]),
                                  slag_feo_wt_pct=float(c.get("slag_feo_wt_pct", math.nan)))
    return out


def stage_error(models: StageModels, state: HeatState, j: int, name: str) -> tuple[float, float, float]:
    """(forecast mean, forecast sd of the measurement, measured) of outcome ``name`` at sample ``j + 1`` from the
    heat at sample ``j`` (heat update included)."""
    before = HeatState(state.heat_id, state.grade, state.steel_weight_t, state.samples[: j + 1], state.stages[:j],
                       state.oxygen_ppm, state.slag_feo_wt_pct)
    done = state.stages[j]
    minutes = state.samples[j + 1].minutes_from_start - state.samples[j].minutes_from_start
    plan = StagePlan(done.additions_kg, done.arc_energy_kWh, 0.0)
    fc = forecast(models, before, name)
    x = models.effect_x(name, stage_context(before, models.cfg), plan, minutes)
    mean = fc.mean(plan, minutes, x)
    var_meas, _ = fc.variance(x, mean)
    s = state.samples[j + 1]
    measured = s.temperature_degC if name == TEMPERATURE else s.wt_pct.get(name[: -len("_wt_pct")], math.nan)
    return mean, math.sqrt(var_meas), float(measured)


def _coverage_table(title: str, errs: dict[tuple[int, str], list[float]]) -> None:
    print(f"\n{title}")
    print(f"  {'stage':>5s} {'outcome':18s} {'n':>5s} {'90% cover':>10s} {'mean z':>8s} {'sd z':>6s}")
    for (k, name), zs in sorted(errs.items()):
        z = np.array(zs)
        print(f"  {k:5d} {name:18s} {len(z):5d} {np.mean(np.abs(z) <= Z90):10.2f} {np.mean(z):+8.2f} "
              f"{np.std(z):6.2f}")


def _outside(adv: Advisor, state: HeatState) -> list[str]:
    """Every outcome whose closing estimate is not accepted at the grade's confidence."""
    grade = adv.cfg.grade(state.grade)
    z = float(stats.norm.ppf(grade.confidence))
    out = []
    for name, (lo, hi) in _windows(grade).items():
        v, sd = adv.closing_estimate(state, name)
        if (lo is not None and v < lo + z * sd) or (hi is not None and v > hi - z * sd):
            side = "low" if lo is not None and v < lo + z * sd else "high"
            out.append(f"{name}:{side}")
    return out


def closed_loop(cfg: PlantConfig, adv: Advisor, n: int, seed: int, physics: str) -> None:
    res = evaluate(cfg, AdvisorPolicy(adv), n, seed, physics=physics)
    heats = draw_heats(cfg, n, seed, EVALUATION_STREAM, physics=get_physics(physics))
    errs: dict[tuple[int, str], list[float]] = defaultdict(list)
    after: dict[int, Counter] = {1: Counter(), 2: Counter()}
    n_by_count: Counter = Counter()
    detail = []
    pf: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for h, rec in zip(heats, res.records, strict=True):
        n_by_count[rec.n_samples] += 1
        full = _record_state(rec, h.context, len(rec.stages))
        for j in range(len(rec.stages)):
            if full.samples[j + 1].is_dip or full.samples[j].is_dip:
                continue
            for name in _windows(cfg.grade(h.context.grade)):
                mean, sd, meas = stage_error(adv.models, full, j, name)
                errs[(j + 1, name)].append((meas - mean) / sd)
            dec = rec.decisions[j]
            if dec.p_finish is not None and not math.isnan(dec.p_finish):
                pf[j + 1].append((dec.p_finish, bool(rec.decisions[j + 1].finish)))
        chem = [i for i, s in enumerate(full.samples) if i > 0 and not s.is_dip]
        for k in (1, 2):
            if len(chem) > k - 1 and rec.n_samples >= k + 1 and k <= len(chem):
                st = _record_state(rec, h.context, chem[k - 1])
                after[k].update(_outside(adv, st))
        if rec.n_samples >= 3 and len(detail) < 12:
            st = _record_state(rec, h.context, chem[1])
            bad = _outside(adv, st)
            parts = []
            for b in bad:
                name = b.split(":")[0]
                mean, sd, meas = stage_error(adv.models, full, chem[1] - 1, name)
                lo, hi = _windows(cfg.grade(h.context.grade))[name]
                parts.append(f"{b} pred {mean:.4g}+-{sd:.2g} meas {meas:.4g} window [{lo}, {hi}]")
            detail.append(f"  {h.context.heat_id} {h.context.grade}: " + "; ".join(parts))
    mean_samples = float(np.mean(res.per_heat["samples_per_heat"]))
    print(f"\nclosed loop, {n} heats ({physics}): chemistry samples per heat {mean_samples:.2f}; "
          f"heats by count {dict(sorted(n_by_count.items()))}")
    for k in (1, 2):
        print(f"  outside the acceptance window after chemistry sample {k} (heats that went on to {k + 1}+): "
              f"{dict(after[k].most_common())}")
    for k, v in sorted(pf.items()):
        p = np.array([a for a, _ in v])
        f = np.array([b for _, b in v])
        print(f"  stage {k}: mean p_finish {p.mean():.2f}, finished after it {f.mean():.2f} (n {len(v)})")
    _blocked_table(cfg, adv, heats, res.records)
    print("  heats with 3+ chemistry samples, after the 2nd (first 12):")
    print("\n".join(detail))
    _coverage_table("closed loop: closing measurement vs forecast at the decision", errs)


def _blocked_table(cfg: PlantConfig, adv: Advisor, heats: list, records: list) -> None:  # noqa: ANN001
    """Per stage and closing (sample or dip): the decision's chance to finish against the share that finished on
    that closing measurement, and what kept the others from finishing (the finish rule's reason, numbers out)."""
    seen: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    blocked: dict[str, Counter] = defaultdict(Counter)
    for h, rec in zip(heats, records, strict=True):
        grade = cfg.grade(h.context.grade)
        for j, dec in enumerate(rec.decisions[:-1]):
            if dec.finish or math.isnan(dec.p_finish):
                continue
            kind = f"{j + 1} {dec.closing}"
            finished = bool(rec.decisions[j + 1].finish and not rec.decisions[j + 1].flags)
            seen[kind].append((dec.p_finish, finished))
            if not finished:
                why = adv._accepts(grade, _record_state(rec, h.context, j + 1))[1]  # noqa: SLF001
                blocked[kind][re.sub(r"[-+0-9.]+", "#", why.split(";")[0])[:60]] += 1
    print("  finish chance at the decision against the closing measurement, and what kept a heat from finishing:")
    for kind, v in sorted(seen.items()):
        p, f = np.array([a for a, _ in v]), np.array([b for _, b in v])
        print(f"  stage {kind:7s} n {len(v):4d}  p_finish {p.mean():.2f}  finished {f.mean():.2f}")
        for why, c in blocked[kind].most_common(4):
            print(f"      {c:4d}  {why}")


def _low_level_table(rows: list[tuple[bool, str, float, float]]) -> None:
    """90 % coverage of the stage forecast by the level of the element at the closing sample: per stage kind and
    element, the stages whose measured level lies in the lowest quarter of that element's levels, and the rest."""
    print("\ncoverage near zero (history, time-ordered): per stage kind, the lowest quarter of measured levels "
          "and the rest")
    print(f"  {'kind':5s} {'outcome':18s} {'low <=':>9s} {'n low':>6s} {'cover low':>10s} {'n rest':>7s} "
          f"{'cover rest':>11s}")
    by: dict[tuple[bool, str], list[tuple[float, float]]] = defaultdict(list)
    for trim, name, level, z in rows:
        by[(trim, name)].append((level, z))
    for (trim, name), v in sorted(by.items()):
        lev, z = np.array(v).T
        cut = float(np.quantile(lev, 0.25))
        low = lev <= cut
        print(f"  {'trim' if trim else 'main':5s} {name:18s} {cut:9.4f} {low.sum():6d} "
              f"{np.mean(np.abs(z[low]) <= Z90):10.2f} {(~low).sum():7d} {np.mean(np.abs(z[~low]) <= Z90):11.2f}")


def history_check(cfg: PlantConfig, heats: pd.DataFrame, samples: pd.DataFrame) -> None:
    order = list(heats.sort_values("start_time", kind="stable")["heat_id"].astype(str))
    cut = int(len(order) * 0.8)
    early = set(order[:cut])
    stages = stage_table(cfg, heats, samples)
    models = fit_stage_models(cfg, stages[stages["heat_id"].isin(early)], order[:cut])
    states = _history_states(cfg, heats, samples)
    errs: dict[tuple[int, str], list[float]] = defaultdict(list)
    levels: list[tuple[bool, str, float, float]] = []
    for hid in order[cut:]:
        st = states[hid]
        for j in range(st.n_stages):
            for name in [TEMPERATURE] + [sample_element_col(el) for el in cfg.elements]:
                mean, sd, meas = stage_error(models, st, j, name)
                if math.isfinite(meas) and sd > 0:
                    errs[(j + 1, name)].append((meas - mean) / sd)
                    if name != TEMPERATURE:
                        levels.append((j > 0, name, meas, (meas - mean) / sd))
    _coverage_table("history, time-ordered: later 20 % of heats, models from the earlier 80 % (heat update on)",
                    errs)
    _low_level_table(levels)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heats", type=int, default=200)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--history", type=int, default=2000)
    ap.add_argument("--physics", default="slag")
    ap.add_argument("--skip-history", action="store_true")
    ap.add_argument("--skip-closed-loop", action="store_true", help="only the history's time-ordered check")
    args = ap.parse_args()
    cfg = load_config()
    heats, samples = simulate_history(cfg, args.history, 0, physics=args.physics)
    if not args.skip_history:
        history_check(cfg, heats, samples)
    if not args.skip_closed_loop:
        closed_loop(cfg, advisor_from_history(cfg, heats, samples), args.heats, args.seed, args.physics)


if __name__ == "__main__":
    main()
