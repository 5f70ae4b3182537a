"""What the stage model could have saved on the later heats: final-stage energy and intermediate measurements.

Everything calibrated on the training heats only; the window is the training heats' 10th..90th percentile of
final temperature (``recommend.default_window``), the confidence 90 %. Nothing here is tuned on the test heats.

* **Energy** (decided at the penultimate measurement): with the decision model's prediction ``p`` and its
  rolling conformal half-width ``hw`` (``FinalModel.interval``: the latest 150 errors known at the heat's
  decision, ``calibration.OnlineWindow``), the final stage's arc energy is cut by ``(p - hw - low) / eta`` kWh,
  at most all of it and never below zero, ``eta`` being the stage model's heating term (degC/kWh). The heat's
  counterfactual final temperature is its actual one minus ``eta`` x the cut (the rest of the route unchanged;
  the shorter arc's smaller holding loss is ignored, which understates the cut).
* **Measurements** (the route and every action kept as the plant did them): from each measurement ``j`` the
  physics stage model composes the final temperature through the remaining stages; if its conformal interval
  lies inside the window, the measurements between ``j`` and the final one are skipped. The interval is by
  number of remaining stages and rolling like the decision model's: the latest 150 errors of that remaining
  count known at measurement ``j`` (calibration: the latest 20 % of the training heats, predicted by a model
  fitted on the earlier 80 %; then each later heat's errors once its final temperature is measured). The
  final measurement is always kept. Since actions are unchanged, the actual final temperature is what the
  heat would have reached: ``outside_window`` checks the skipped heats against it.

Caveats: the plant's operators acted on the measurements we skip (with fewer measurements they might have acted
differently), the steel grade and its own target are not in the export (a heat above the window may have needed
it), and the window is the plant's practice, not a specification.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.ladle.calibration import OnlineWindow
from optimizer.ladle.final import FinalModel, time_order
from optimizer.ladle.predictors import heat_keys
from optimizer.ladle.recommend import Window
from optimizer.ladle.stage_model import StageModel
from optimizer.surrogates.conformal import conformal_quantile

MAX_REMAINING = 4  # widths for 1, 2, 3 and 4-or-more remaining stages


def energy_cuts(model: FinalModel, eta_degC_per_kWh: float, heats: pd.DataFrame, stages: pd.DataFrame,
                window: Window) -> pd.DataFrame:
    """Per heat: final-stage energy (kWh), the cut, actual and counterfactual final temperature (degC)."""
    if eta_degC_per_kWh <= 0:
        raise ValueError(f"the heating term must be positive to convert degC into kWh; got {eta_degC_per_kWh}")
    iv = model.interval(heats, stages, window.confidence)
    p, hw = iv["predicted_degC"], iv["halfwidth_degC"].to_numpy()
    last = stages[stages["is_last"] & stages["key"].isin(heat_keys(heats))].set_index("key").loc[p.index]
    cut = np.clip((p.to_numpy() - hw - window.low) / eta_degC_per_kWh, 0.0, last["arc_kWh"].to_numpy())
    actual = last["temp_next_degC"].to_numpy()
    h = heats.set_index(heat_keys(heats)).loc[p.index]
    return pd.DataFrame({"final_stage_kWh": last["arc_kWh"].to_numpy(), "halfwidth_degC": hw, "cut_kWh": cut,
                         "heat_arc_kWh": h["arc_energy_kWh"].to_numpy(), "actual_final_degC": actual,
                         "counterfactual_final_degC": actual - eta_degC_per_kWh * cut}, index=p.index)


def composed_from_each(model: StageModel, stages: pd.DataFrame) -> pd.DataFrame:
    """Per heat and measurement j (0 = first): the final temperature composed from the measured T_j through the
    remaining stages (physics-only model: its inputs do not depend on the earlier stages), the time of
    measurement j (``decide_at``) and of the final one (``known_at``, when the composition's error is known)."""
    st = stages.sort_values(["key", "stage_no"], kind="stable")
    rows = []
    for j in range(int(st["n_stages"].max())):
        rest = st[(st["stage_no"] > j) & (st["n_stages"] > j)]
        if rest.empty:
            break
        final = model.compose_final(rest)
        g = rest.groupby("key")
        rows.append(pd.DataFrame({"key": final.index, "from_measurement": j,
                                  "remaining": (g["n_stages"].first() - j).loc[final.index].to_numpy(),
                                  "composed_final_degC": final.to_numpy(),
                                  "decide_at": g["time_prev"].first().loc[final.index].to_numpy(),
                                  "known_at": g["time_next"].last().loc[final.index].to_numpy()}))
    out = pd.concat(rows, ignore_index=True)
    actual = st[st["is_last"]].set_index("key")["temp_next_degC"]
    out["actual_final_degC"] = actual.loc[out["key"]].to_numpy()
    return out


def remaining_calibration(train_heats: pd.DataFrame, stages: pd.DataFrame) -> tuple[StageModel,
                                                                                     dict[int, np.ndarray]]:
    """Physics stage model on the earlier 80 % of the training heats; the absolute errors (degC) of its composed
    final temperature on the latest 20 %, by the number of remaining stages (capped at ``MAX_REMAINING``), in
    the order they became known; then the model refitted on all training heats."""
    h = time_order(train_heats)
    cut = int(0.8 * len(h))
    fit_keys, cal_keys = heat_keys(h.iloc[:cut]), heat_keys(h.iloc[cut:])
    m = StageModel(residual=False).fit(stages[stages["key"].isin(fit_keys)])
    c = composed_from_each(m, stages[stages["key"].isin(cal_keys)]).sort_values("known_at", kind="stable")
    err = (c["actual_final_degC"] - c["composed_final_degC"]).abs().to_numpy()
    r = np.minimum(c["remaining"].to_numpy(), MAX_REMAINING)
    errors = {k: err[r == k] for k in range(1, MAX_REMAINING + 1)}
    return StageModel(residual=False).fit(stages[stages["key"].isin(heat_keys(h))]), errors


def static_widths(errors: dict[int, np.ndarray], confidence: float, online: OnlineWindow = OnlineWindow()) \
        -> dict[int, float]:
    """The half-width (degC) by remaining stages before any new heat has ended (latest ``online.window``)."""
    return {k: conformal_quantile(e[-online.window:] if online.window > 0 else e, confidence)
            for k, e in errors.items()}


def remaining_halfwidths(composed: pd.DataFrame, errors: dict[int, np.ndarray], confidence: float,
                         online: OnlineWindow = OnlineWindow()) -> np.ndarray:
    """Rolling half-width (degC) of each row of ``composed_from_each``, by its remaining stages: the latest
    ``online.window`` errors of that count known at its measurement (``errors`` first, from
    ``remaining_calibration``, then the rows' own errors once their heat has ended)."""
    r = np.minimum(composed["remaining"].to_numpy(), MAX_REMAINING)
    new_err = (composed["actual_final_degC"] - composed["composed_final_degC"]).abs().to_numpy()
    hw = np.full(len(composed), np.nan)
    for k, cal in errors.items():
        at = r == k
        if at.any():
            hw[at] = online.halfwidths(cal, new_err[at], composed["known_at"].to_numpy()[at],
                                       composed["decide_at"].to_numpy()[at], confidence)
    return hw


def measurement_skips(model: StageModel, errors: dict[int, np.ndarray], heats: pd.DataFrame, stages: pd.DataFrame,
                      window: Window, online: OnlineWindow = OnlineWindow()) -> pd.DataFrame:
    """Per heat: measurements taken, measurements with the rule (earliest confident j, then the final one).
    ``errors``: calibration errors by remaining stages (``remaining_calibration``)."""
    st = stages[stages["key"].isin(heat_keys(heats))]
    c = composed_from_each(model, st)
    hw = remaining_halfwidths(c, errors, window.confidence, online)
    c["confident"] = (c["composed_final_degC"] - hw >= window.low) & (c["composed_final_degC"] + hw <= window.high)
    n_meas = st.groupby("key")["n_stages"].first() + 1
    first_ok = c[c["confident"]].groupby("key")["from_measurement"].min()
    needed = (first_ok.reindex(n_meas.index) + 2).fillna(n_meas).clip(upper=n_meas)
    actual = st[st["is_last"]].set_index("key")["temp_next_degC"].loc[n_meas.index]
    return pd.DataFrame({"measurements": n_meas, "measurements_with_rule": needed.astype(int),
                         "skipped": (n_meas - needed).astype(int), "actual_final_degC": actual,
                         "outside_window": ~actual.between(window.low, window.high)})


def mean_ci(values: np.ndarray, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean and its 95 % bootstrap interval over heats."""
    v = np.asarray(values, float)
    rng = np.random.default_rng(seed)
    boots = rng.choice(v, (n_boot, len(v))).mean(axis=1)
    return float(v.mean()), float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))
