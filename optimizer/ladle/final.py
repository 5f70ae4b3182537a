"""The final-temperature model used for the decision: rolling-origin choice, conformal intervals, test figures.

Time order throughout (heats by start time). ``split_later`` holds out the latest ``n_test`` heats. Inside the
training part, ``rolling_origin`` makes folds: fit on every heat before an origin, predict the next block (origins
at 50, 60, 70, 80, 90 % of the training heats). The kind with the lowest rolling MAE is chosen; the out-of-fold
absolute residuals of its latest fold (``CALIBRATION_FOLDS``; the model closest in training size to the final
one, all before the test part) are the split-conformal calibration set: the half-width at confidence c is their
ceil((n+1) c)-th smallest value. ``rolling_coverage`` checks that scheme inside the training part: calibrate on
fold j-1, cover fold j. (Calibrating on all folds over-covered there, 0.92: early folds had less training
data.) The chosen kind is then refitted on all training heats. ``holdout_figures`` reads the test part once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from optimizer.ladle.model import TARGET
from optimizer.ladle.predictors import DECISION_CANDIDATES, FinalPredictor, heat_keys, make_predictor
from optimizer.surrogates.conformal import conformal_quantile

ORIGINS = (0.5, 0.6, 0.7, 0.8, 0.9)
N_TEST_PUBLIC = 488  # the size of the later-heat test set of the public 5.22 degC result
BIG_ERROR_DEGC = 10.0
CALIBRATION_FOLDS = 1


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
        """Per heat key: predicted final temperature and the interval bounds (degC)."""
        p = self.predict(heats, stages)
        hw = self.halfwidth(confidence)
        return pd.DataFrame({"predicted_degC": p, "low_degC": p - hw, "high_degC": p + hw})


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
    return FinalModel(make_predictor(best).fit(heats, stages), cal, selection)


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
    out[f"halfwidth_{round(confidence * 100)}_degC"] = model.halfwidth(confidence)
    return out
