"""Real ladle-furnace data: final-temperature models at two decision times, stage model, intervals, savings.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/ladle_furnace.py [--data ../shared/data/ladle_furnace]
        [--n-test 488] [--heats 0] [--calibration-study]

Every model is chosen/calibrated on the earlier heats only (rolling origin inside them) and scored once on the
latest ``--n-test`` heats (time order). ``--calibration-study`` reprints how the rolling intervals were chosen
(training heats only; slow). ``--heats N`` also runs the plan-view energy/measurement recommendations
(``optimizer.ladle.recommend``) on the latest N test heats.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd

from connectors.ladle_files import read_ladle_dir
from optimizer.config import load_config
from optimizer.ladle.adapter import build_heats
from optimizer.ladle.calibration import ONLINE_WINDOW
from optimizer.ladle.final import (
    N_TEST_PUBLIC,
    FinalModel,
    deployment_coverage,
    fit_final,
    holdout_figures,
    scores,
    split_later,
)
from optimizer.ladle.model import fit
from optimizer.ladle.predictors import FIRST, heat_keys
from optimizer.ladle.recommend import CAVEAT, default_window, recommend_heat, savings
from optimizer.ladle.savings import (
    MAX_REMAINING,
    composed_from_each,
    energy_cuts,
    mean_ci,
    measurement_skips,
    remaining_calibration,
    remaining_halfwidths,
    static_widths,
)
from optimizer.ladle.stage_model import StageModel
from optimizer.ladle.stages import build_stages

DEFAULT_DATA = os.environ.get("DOSING_LF_DATA", str(Path(__file__).resolve().parents[1].parent / "shared" / "data"
                                                    / "ladle_furnace"))
TABLE_KINDS = ("mean", "heat_balance", "gbm", "stage_composed", "plan_hybrid", "route_hybrid", "route_gbm",
               "plan_ensemble", "last_ridge", "last_gbm", "stage_physics", "stage")
LABELS = {"mean": "train mean", "heat_balance": "ridge heat balance (plan)", "gbm": "GBM (plan)",
          "stage_composed": "stage model, composed from the first measurement",
          "plan_hybrid": "ridge heat balance after the first measurement + boosted residual",
          "route_hybrid": "the same with the route's heat-balance terms",
          "route_gbm": "GBM (squared loss) of the change, plan + route features",
          "plan_ensemble": "mean of route_hybrid, route_gbm and GBM (plan)",
          "last_ridge": "ridge heat balance of the final stage", "last_gbm": "GBM on the final stage",
          "stage_physics": "stage model, physics only, one step", "stage": "stage model + boosted residual, one step"}


def model_table(train: pd.DataFrame, test: pd.DataFrame, stages: pd.DataFrame) -> dict[str, dict]:
    """Each kind: rolling-origin MAE on the training heats, then the figures on the test heats (read once)."""
    rows = {}
    for kind in TABLE_KINDS:
        m = fit_final(train, stages, kind)
        rows[kind] = {"model": m, "rolling_mae": m.selection[f"rolling_mae_{kind}"],
                      "rolling_coverage_90": m.selection["rolling_coverage_90"],
                      **holdout_figures(m, test, stages, 0.9)}
    return rows


def calibration_study(train: pd.DataFrame, stages: pd.DataFrame, kinds: tuple[str, ...]) -> None:
    """Training heats only: coverage of the next 488 heats per calibration scheme (``final.deployment_coverage``)."""
    for kind in kinds:
        d = deployment_coverage(kind, train, stages)
        t = d.pivot(index="scheme", columns="origin", values="coverage")
        dev = (t - 0.9).abs().max(axis=1)
        print(f"\ncalibration schemes for {kind}, inside the training heats: fit before the origin, cover the next "
              f"{int(d['n_covered'].max())} heats (90 %); chosen: smallest worst |coverage - 0.90|, ties to the "
              f"smaller window")
        print("| scheme | " + " | ".join(f"origin {a}" for a in t.columns) + " | mean | worst deviation |")
        print("|---|" + "---|" * (len(t.columns) + 2))
        for scheme, r in t.iterrows():
            print(f"| {scheme} | " + " | ".join(f"{v:.3f}" for v in r) + f" | {r.mean():.3f} | {dev[scheme]:.3f} |")
        best = min(dev.index, key=lambda k: (round(dev[k], 3), k))
        print(f"chosen inside the training heats: {best} (the library uses online_{ONLINE_WINDOW})")


def print_table(rows: dict[str, dict], n_train: int, n_test: int) -> None:
    print(f"\nfinal temperature: train on the earlier {n_train} heats, test on the latest {n_test} (time order)")
    print("| decided at | model | rolling MAE (train) | test MAE degC | > 10 degC | 90 % coverage | mean half-width |")
    print("|---|---|---|---|---|---|---|")
    for kind, r in rows.items():
        at = r["model"].predictor.decided_at if kind != "mean" else "either"
        print(f"| {at} | {LABELS[kind]} | {r['rolling_mae']:.2f} | {r['mae']:.2f} | "
              f"{100 * r['share_above_10']:.1f} % | {r['coverage_90']:.3f} | {r['halfwidth_90_degC']:.1f} |")


def stage_figures(train: pd.DataFrame, test: pd.DataFrame, stages: pd.DataFrame) -> None:
    """Physics coefficients, one-step error on every test stage and the composed final-temperature error."""
    tr = stages[stages["key"].isin(heat_keys(train))]
    te = stages[stages["key"].isin(heat_keys(test))]
    y_final = test.set_index(heat_keys(test))["final_temperature_degC"]
    for residual in (False, True):
        m = StageModel(residual=residual).fit(tr)
        one = scores(te["temp_next_degC"], m.predict_next(te))
        last = te[te["is_last"]]
        one_last = scores(last["temp_next_degC"], m.predict_next(last))
        comp = m.compose_final(te)
        c = scores(y_final.loc[comp.index], comp)
        print(f"stage model {'+ residual' if residual else 'physics only'}: one-step MAE {one['mae']:.2f} degC over "
              f"{int(one['n'])} test stages ({one_last['mae']:.2f} on final stages); composed from the first "
              f"measurement: final MAE {c['mae']:.2f}, {100 * c['share_above_10']:.1f} % above 10 degC")
        if not residual:
            k = m.coefficients()
            adds = sorted(((v, c) for c, v in k.items() if c.startswith("add_")), key=lambda x: x[0])
            print(f"  physics: heating {k['arc_kWh']:.4f} degC/kWh, holding loss {-k['minutes']:.3f} degC/min, "
                  f"gas {k['gas_m3']:.3f} degC/m3, pull to 1590 {k['temp_dev_degC']:.3f} per degC")
            print("  chill per 100 kg (strongest): " + ", ".join(f"{c[4:-3]} {100 * v:+.1f}" for v, c in adds[:5]))


def stage_savings(train: pd.DataFrame, test: pd.DataFrame, stages: pd.DataFrame, decision: FinalModel) -> None:
    """Energy and measurements per test heat against what the plant did (``optimizer.ladle.savings``)."""
    window = default_window(train)
    tr = stages[stages["key"].isin(heat_keys(train))]
    eta = StageModel(residual=False).fit(tr).coefficients()["arc_kWh"]
    e = energy_cuts(decision, eta, test, stages, window)
    kwh = mean_ci(e["cut_kWh"])
    pct = tuple(100 * x * len(e) / e["heat_arc_kWh"].sum() for x in kwh)
    hw = e["halfwidth_degC"]
    print(f"\nsavings on the latest {len(test)} heats, window {window.low:.0f}..{window.high:.0f} degC (training "
          f"heats' 10th..90th percentile), 90 %, {decision.kind} rolling half-width (latest {ONLINE_WINDOW} known "
          f"errors) mean {hw.mean():.1f} degC, {hw.min():.1f}..{hw.max():.1f} (static was "
          f"{decision.halfwidth(0.9):.1f}), heating {eta:.4f} degC/kWh:")
    print(f"  final-stage energy cut {kwh[0]:.1f} kWh per heat [{kwh[1]:.1f}, {kwh[2]:.1f}] = {pct[0]:.1f} % "
          f"[{pct[1]:.1f}, {pct[2]:.1f}] of the heats' arc energy; {100 * np.mean(e['cut_kWh'] > 0):.0f} % of heats "
          f"cut; counterfactual final below {window.low:.0f}: "
          f"{100 * np.mean(e['counterfactual_final_degC'] < window.low):.1f} % of heats (actual "
          f"{100 * np.mean(e['actual_final_degC'] < window.low):.1f} %)")
    model, errors = remaining_calibration(train, stages)
    widths = static_widths(errors, 0.9)
    m = measurement_skips(model, errors, test, stages, window)
    sk = mean_ci(m["skipped"])
    some = m[m["skipped"] > 0]
    print("  composed half-widths by remaining stages before any test heat ended (then rolling): "
          + ", ".join(f"{k}: {v:.1f}" for k, v in widths.items()))
    c = composed_from_each(model, stages[stages["key"].isin(heat_keys(test))])
    hw = remaining_halfwidths(c, errors, 0.9)
    r = np.minimum(c["remaining"].to_numpy(), MAX_REMAINING)
    cover = (c["actual_final_degC"] - c["composed_final_degC"]).abs().to_numpy() <= hw
    print("  rolling, on the test heats (remaining: mean half-width, range, coverage): " + "; ".join(
        f"{k}: {hw[r == k].mean():.1f}, {hw[r == k].min():.1f}..{hw[r == k].max():.1f}, {cover[r == k].mean():.3f}"
        for k in widths))
    print(f"  measurements {m['measurements'].mean():.2f} per heat as done; skipped with the rule {sk[0]:.2f} "
          f"[{sk[1]:.2f}, {sk[2]:.2f}] per heat ({100 * len(some) / len(m):.0f} % of heats skip any); of those, "
          f"{100 * some['outside_window'].mean():.1f} % ended outside the window (all heats: "
          f"{100 * m['outside_window'].mean():.1f} %)")


def plan_recommendations(train: pd.DataFrame, test: pd.DataFrame, n_heats: int) -> None:
    model = fit(train, "gbm")
    window = default_window(train)
    cfg = load_config()
    recs = pd.DataFrame([recommend_heat(model, row, cfg, window) for _, row in test.tail(n_heats).iterrows()])
    s = savings(recs)
    print(f"\nplan-view recommendations (gbm) on the latest {len(recs)} test heats, window {window.low:.0f}.."
          f"{window.high:.0f} degC at 90 %: {int(recs['feasible'].sum())} feasible; energy saved per heat "
          f"{s['energy_kWh'][0]:.1f} kWh [{s['energy_kWh'][1]:.1f}, {s['energy_kWh'][2]:.1f}], measurements "
          f"{s['measurements'][0]:.2f} [{s['measurements'][1]:.2f}, {s['measurements'][2]:.2f}]; caveat: {CAVEAT}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--n-test", type=int, default=N_TEST_PUBLIC, help="latest heats held out (public: 488)")
    ap.add_argument("--heats", type=int, default=0, help="plan-view recommendations on the latest N test heats")
    ap.add_argument("--calibration-study", action="store_true", help="reprint the interval scheme choice (slow)")
    args = ap.parse_args()
    tables = read_ladle_dir(args.data)
    heats, samples, quality = build_heats(tables)
    stages = build_stages(tables, heats, samples)
    train, test = split_later(heats, args.n_test)
    print(f"{len(heats)} usable heats, {len(stages)} stages; data-quality report: {len(quality)} rows; test heats "
          f"start {test['start_time'].min():%Y-%m-%d %H:%M} .. {test['start_time'].max():%Y-%m-%d}")
    stage_figures(train, test, stages)
    if args.calibration_study:
        calibration_study(train, stages, ("last_gbm", "plan_hybrid"))
    rows = model_table(train, test, stages)
    print_table(rows, len(train), len(test))
    decision = [k for k in rows if rows[k]["model"].predictor.decided_at != FIRST]
    best = min(decision, key=lambda k: rows[k]["rolling_mae"])
    plan = min((k for k in rows if rows[k]["model"].predictor.decided_at == FIRST and k != "mean"),
               key=lambda k: rows[k]["rolling_mae"])
    print(f"\nchosen by rolling origin (training heats only): at the penultimate measurement {best} "
          f"(test MAE {rows[best]['mae']:.2f}), at the first measurement {plan} (test MAE {rows[plan]['mae']:.2f})")
    latest = test.tail(round(0.2 * len(heats)))
    for k in (best, plan):
        for part, name in ((test, "test"), (latest, "20 % split")):
            p = rows[k]["model"].predict(part, stages)
            y = part.set_index(heat_keys(part))["final_temperature_degC"].loc[p.index]
            mae = mean_ci(np.abs(y - p).to_numpy())
            print(f"  {k}: MAE {mae[0]:.2f} degC [{mae[1]:.2f}, {mae[2]:.2f}] (95 % bootstrap over heats) on the "
                  f"latest {len(part)} heats ({name})")
    stage_savings(train, test, stages, rows[best]["model"])
    if args.heats:
        plan_recommendations(train, test, args.heats)


if __name__ == "__main__":
    main()
