"""The final-temperature model used for the decision: rolling-origin choice, conformal intervals, test figures.

Time order throughout (heats by start time). ``split_later`` holds out the latest ``n_test`` heats. Inside the
training part, ``rolling_origin`` makes folds: fit on every heat before an origin, predict the next block (origins
at 50, 60, 70, 80, 90 % of the training heats). The kind with the lowest rolling MAE is chosen; the out-of-fold
absolute residuals of its latest fold (``CALIBRATION_FOLDS``; the model closest in training size to the final
one, all before the test part) are the split-conformal calibration set: the half-width at confidence c is their
ceil((n+1) c)-th smallest value. ``rolling_coverage`` checks that scheme inside the training part: calibrate on
fold j-1, cover fold j. The chosen kind is then refitted on all training heats. ``holdout_figures`` reads the
test part once.

Intervals on new heats follow the plant (``calibration.OnlineWindow``): each heat's half-width is the conformal
quantile of the latest 150 errors known at its decision time (calibration residuals, then the errors of new
heats that have ended by then). ``deployment_coverage`` is how that was chosen, inside the training part only:
fit on the heats before an origin, calibrate on its own rolling folds, cover the next 488 heats like a
deployment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from optimizer.ladle.calibration import SCHEMES, OnlineWindow, scheme_coverage
from optimizer.ladle.model import TARGET
from optimizer.ladle.predictors import DECISION_CANDIDATES, FIRST, FinalPredictor, heat_keys, make_predictor
from optimizer.surrogates.conformal import conformal_quantile

ORIGINS = (0.5, 0.6, 0.7, 0.8, 0.9)
N_TEST_PUBLIC = 488  # the size of the later-heat test set of the public 5.22 degC result
BIG_ERROR_DEGC = 10.0
CALIBRATION_FOLDS = 1
DEPLOYMENT_ORIGINS = (0.47, 0.57, 0.67)  # of the training heats: 0.67 x 1,495 + 488 ends at the test part


def time_order(heats: pd.DataFrame) -> pd.DataFrame:
    return heats.sort_values("start_time", kind="stable").reset_index(drop=True)


def split_later(heats: pd.DataFrame, n_test: int = N_TEST_PUBLIC) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Earlier heats for training, the latest ``n_test`` by start time for the test."""
    h = time_order(heats)
    if not 0 < n_test < len(h):
        raise ValueError(f"The 'n_test' parameter must be between 1 and {len(h) - 1} (the heats). Got {n_test}.")
    return h.iloc[:-n_test], h.iloc[-n_test:]


def rolling_origin(heats: pd.DataFrame, origins: tuple[float, ...] = ORIGINS) -> list[tuple[pd.DataFrame,
                                                                                            pd.DataFrame]]:
    """(fit, validate) pairs in time order: all heats before each origin, then the block up to the next."""
    h = time_order(heats)
    cuts = [int(len(h) * f) for f in origins] + [len(h)]
    return [(h.iloc[:a], h.iloc[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]


def out_of_fold(kind: str, heats: pd.DataFrame, stages: pd.DataFrame) -> pd.DataFrame:
    """Rolling-origin predictions of ``kind``: key, fold, actual and predicted final temperature (degC)."""
    rows = []
    for i, (fit_h, val_h) in enumerate(rolling_origin(heats)):
        p = make_predictor(kind).fit(fit_h, stages).predict(val_h, stages)
        y = val_h.set_index(heat_keys(val_h))[TARGET]
        rows.append(pd.DataFrame({"key": p.index, "fold": i, "actual_degC": y.loc[p.index].to_numpy(),
                                  "predicted_degC": p.to_numpy()}))
    return pd.concat(rows, ignore_index=True)


def scores(actual: ArrayLike, predicted: ArrayLike) -> dict[str, float]:
    """MAE (degC) and the share of heats with an absolute error above 10 degC."""
    e = np.abs(np.asarray(actual, float) - np.asarray(predicted, float))
    return {"mae": float(e.mean()), "share_above_10": float(np.mean(e > BIG_ERROR_DEGC)), "n": float(len(e))}


@dataclass
class FinalModel:
    """A fitted final-temperature predictor with its conformal calibration residuals and figures."""

    predictor: FinalPredictor
    calibration_abs_degC: np.ndarray
    selection: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    online: OnlineWindow = field(default_factory=OnlineWindow)
    trained_until: pd.Timestamp | None = None  # latest start of a heat the predictor was fitted on

    @property
    def kind(self) -> str:
        return self.predictor.kind

    def halfwidth(self, confidence: float = 0.9) -> float:
        """Split-conformal half-width (degC) at ``confidence``."""
        q = conformal_quantile(self.calibration_abs_degC, confidence)
        if not math.isfinite(q):
            raise ValueError(f"{len(self.calibration_abs_degC)} calibration heats cannot support a "
                             f"{confidence:.3f} interval; use a lower confidence")
        return q

    def predict(self, heats: pd.DataFrame, stages: pd.DataFrame) -> pd.Series:
        return self.predictor.predict(heats, stages)

    def interval(self, heats: pd.DataFrame, stages: pd.DataFrame, confidence: float = 0.9) -> pd.DataFrame:
        """Per heat key: predicted final temperature, the half-width and the interval bounds (degC). The
        half-width of each heat uses the errors of the heats in ``heats`` that ended before its decision time
        and started after the model's training heats (``calibration.OnlineWindow``)."""
        self.halfwidth(confidence)  # the calibration set must support the confidence
        p = self.predict(heats, stages)
        times = decision_times(self.predictor.decided_at, heats, stages).loc[p.index]
        h = heats.set_index(heat_keys(heats)).loc[p.index]
        err = (h[TARGET] - p).abs().to_numpy(float, copy=True)
        if self.trained_until is not None:
            err[(h["start_time"] <= self.trained_until).to_numpy()] = np.nan  # in-sample: never calibrates
        hw = self.online.halfwidths(self.calibration_abs_degC, err, h["end_time"].to_numpy(), times.to_numpy(),
                                    confidence)
        return pd.DataFrame({"predicted_degC": p, "halfwidth_degC": hw, "low_degC": p - hw, "high_degC": p + hw})


def decision_times(decided_at: str, heats: pd.DataFrame, stages: pd.DataFrame) -> pd.Series:
    """Per heat key: the first measurement's time, or the penultimate one's (the final stage's start)."""
    if decided_at == FIRST:
        return pd.Series(heats["start_time"].to_numpy(), index=heat_keys(heats).to_numpy())
    last = stages[stages["is_last"] & stages["key"].isin(heat_keys(heats))]
    return pd.Series(last["time_prev"].to_numpy(), index=last["key"].to_numpy())


def fit_final(heats: pd.DataFrame, stages: pd.DataFrame, kind: str | None = None,
              candidates: tuple[str, ...] = DECISION_CANDIDATES) -> FinalModel:
    """Choose ``kind`` by rolling-origin MAE among ``candidates`` (unless given), calibrate, refit on all heats."""
    folds = {k: out_of_fold(k, heats, stages) for k in ([kind] if kind else candidates)}
    rolling = {k: scores(f["actual_degC"], f["predicted_degC"])["mae"] for k, f in folds.items()}
    best = min(rolling, key=rolling.__getitem__)
    f = folds[best]
    err = (f["actual_degC"] - f["predicted_degC"]).abs().to_numpy()
    cal = err[f["fold"].to_numpy() >= f["fold"].max() + 1 - CALIBRATION_FOLDS]
    selection = {f"rolling_mae_{k}": v for k, v in rolling.items()}
    selection["rolling_coverage_90"] = rolling_coverage(f, 0.9)
    return FinalModel(make_predictor(best).fit(heats, stages), cal, selection,
                      trained_until=heats["start_time"].max())


def deployment_coverage(kind: str, heats: pd.DataFrame, stages: pd.DataFrame,
                        origins: tuple[float, ...] = DEPLOYMENT_ORIGINS, horizon: int = N_TEST_PUBLIC,
                        confidence: float = 0.9) -> pd.DataFrame:
    """Inside ``heats`` (the training part): per origin and calibration scheme (``calibration.SCHEMES``), the
    coverage of the next ``horizon`` heats by a model fitted on the heats before the origin and calibrated on
    its own rolling folds, the way the deployed model meets the test part."""
    h = time_order(heats)
    rows = []
    for frac in origins:
        a = int(len(h) * frac)
        fit_h, dep_h = h.iloc[:a], h.iloc[a:a + horizon]
        oof = out_of_fold(kind, fit_h, stages)
        cal = pd.DataFrame({"abs_degC": (oof["actual_degC"] - oof["predicted_degC"]).abs(), "fold": oof["fold"]})
        p = make_predictor(kind).fit(fit_h, stages).predict(dep_h, stages)
        d = dep_h.set_index(heat_keys(dep_h)).loc[p.index]
        dep = pd.DataFrame({"abs_degC": (d[TARGET] - p).abs().to_numpy(), "known_at": d["end_time"].to_numpy(),
                            "decide_at": decision_times(make_predictor(kind).decided_at, dep_h, stages)
                            .loc[p.index].to_numpy()})
        rows += [{"origin": a, "n_covered": len(dep), "scheme": s,
                  "coverage": scheme_coverage(cal, dep, s, confidence)} for s in SCHEMES]
    return pd.DataFrame(rows)


def rolling_coverage(folds: pd.DataFrame, confidence: float = 0.9) -> float:
    """Mean coverage of fold j by the conformal width of the ``CALIBRATION_FOLDS`` folds before it."""
    err = (folds["actual_degC"] - folds["predicted_degC"]).abs().to_numpy()
    fold = folds["fold"].to_numpy()
    cover = []
    for j in range(CALIBRATION_FOLDS, int(fold.max()) + 1):
        q = conformal_quantile(err[(fold >= j - CALIBRATION_FOLDS) & (fold < j)], confidence)
        cover.append(float(np.mean(err[fold == j] <= q)))
    return float(np.mean(cover))


def holdout_figures(model: FinalModel, test: pd.DataFrame, stages: pd.DataFrame,
                 confidence: float = 0.9) -> dict[str, float]:
    """MAE, share of errors above 10 degC and interval coverage on the test heats (read once, by the caller)."""
    iv = model.interval(test, stages, confidence)
    y = test.set_index(heat_keys(test))[TARGET].loc[iv.index].to_numpy()
    out = scores(y, iv["predicted_degC"])
    out[f"coverage_{round(confidence * 100)}"] = float(np.mean((y >= iv["low_degC"]) & (y <= iv["high_degC"])))
    out[f"halfwidth_{round(confidence * 100)}_degC"] = float(iv["halfwidth_degC"].mean())
    return out
