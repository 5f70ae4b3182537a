"""Train the surrogates: pick a structure per outcome by time-ordered CV, calibrate, test on the latest heats.

Heats are sorted by start time and cut into train (first 70 %), calibration (next 15 %) and test (latest
15 %). Candidates are compared by expanding-window CV on the train block (``features.time_splits``), then
every candidate is also refitted on the train block and scored on the test block (``candidate_test``), so the
report compares today's fixed-yield calculation with each structure on the same held-out heats.

With ``residual=True`` the non-linear residual structures (``residual.py``) join the comparison; one is chosen
only when its CV MAE beats the best decision-linear structure by ``RESIDUAL_MARGIN``, because every residual
model costs binaries in the dosing MILP.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from optimizer.config import PlantConfig
from optimizer.schema import element_col, element_of
from optimizer.surrogates.conformal import SampleWidths
from optimizer.surrogates.domain import ApplicabilityDomain
from optimizer.surrogates.features import context_features, decision_features, holdout_split, time_order, time_splits
from optimizer.surrogates.prior import TEMPERATURE, prior_surrogates
from optimizer.surrogates.residual import RESIDUAL_KINDS, ResidualStructure, is_residual_name, residual_name
from optimizer.surrogates.structures import (
    ContextHeatBalance,
    ContextRecovery,
    EnergyBalance,
    FixedYield,
    Structure,
    require_fitted,
)
from optimizer.surrogates.surrogate import OutcomeSurrogate, SurrogateSet

MIN_HEATS = 60
RESIDUAL_MARGIN = 0.05  # a residual structure must beat the best decision-linear CV MAE by 5 %
# Outcomes whose structure is chosen for causal validity, not by CV error: the final temperature is what the
# operator controls, so the forward fit (best CV error) is attenuated in the energy; see EnergyBalance.
CAUSAL_CHOICE = {TEMPERATURE: "energy_balance"}


class PriorHeatBalance(RegressorMixin, BaseEstimator):
    """Today's heat balance from the config priors (comparison baseline for the temperature). Nothing is
    learned; ``fit`` takes the prior's outcome from ``cfg`` (``prior_``)."""

    name = "fixed_yield"

    def __init__(self, cfg: PlantConfig | None = None) -> None:
        self.cfg = cfg

    def fit(self, df: pd.DataFrame, y: np.ndarray) -> Self:  # noqa: ARG002 (nothing to learn)
        if self.cfg is None:
            raise ValueError("PriorHeatBalance needs the plant config")
        self.prior_ = prior_surrogates(self.cfg).outcomes[TEMPERATURE]
        return self

    def linear_terms(self, context: Mapping[str, float | str]) -> tuple[float, dict[str, float]]:
        require_fitted(self, "prior_")
        return self.prior_.linear_terms(context)

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        out = []
        for row in df.to_dict("records"):
            const, coefs = self.linear_terms({str(k): v for k, v in row.items()})
            out.append(const + sum(c * float(row[d]) for d, c in coefs.items()))
        return np.array(out)


@dataclass
class TrainingReport:
    """What training measured: CV scores per candidate, test metrics of the chosen structures, coverage."""

    n_train: int
    n_calibration: int
    n_test: int
    cv_mae: dict[str, dict[str, float]] = field(default_factory=dict)
    chosen: dict[str, str] = field(default_factory=dict)
    test: dict[str, dict[str, float]] = field(default_factory=dict)
    test_by_grade: dict[str, dict[str, float]] = field(default_factory=dict)
    baseline_test_mae: dict[str, float] = field(default_factory=dict)
    candidate_test: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    test_predictions: dict[str, pd.DataFrame] = field(default_factory=dict)


def constrained_outcomes(cfg: PlantConfig) -> list[str]:
    """Final wt% of every element a grade limits, then the final temperature."""
    els = [el for el in cfg.elements if any(el in g.chemistry_wt_pct for g in cfg.grades)]
    return [element_col("final", el) for el in els] + [TEMPERATURE]


def candidates(cfg: PlantConfig, outcome: str, residual: bool = False) -> dict[str, Callable[[], Structure]]:
    """Candidate structures for one outcome: decision-linear ones, plus residual ones if ``residual``."""
    dec = decision_features(cfg)
    if outcome == TEMPERATURE:
        out: dict[str, Callable[[], Structure]] = {
            "fixed_yield": lambda: PriorHeatBalance(cfg),
            "heat_balance": lambda: ContextHeatBalance.build(dec, alpha=1.0),
            "energy_balance": lambda: EnergyBalance.build(dec, alpha=1.0)}
        base: Callable[[], Structure] = out["heat_balance"]
    else:
        el = element_of(outcome)
        if el is None:
            raise ValueError(f"outcome {outcome!r} is neither {TEMPERATURE} nor final_<El>_wt_pct")
        out = {"fixed_yield": lambda: FixedYield.build(cfg, el),
               "context_recovery": lambda: ContextRecovery.build(cfg, el, alpha=1.0),
               "context_recovery_loose": lambda: ContextRecovery.build(cfg, el, alpha=0.05)}
        base = out["context_recovery"]
    if residual:
        feats = context_features(cfg) + dec
        for kind in RESIDUAL_KINDS:
            out[residual_name(base().name, kind)] = partial(
                lambda k: ResidualStructure(base(), k, feats, decisions=dec), kind)
    return out


def choose(scores: dict[str, float], outcome: str) -> str:
    """Causal choice if any, else the best decision-linear structure unless a residual one beats it by
    ``RESIDUAL_MARGIN``."""
    if outcome in CAUSAL_CHOICE:
        return CAUSAL_CHOICE[outcome]
    linear = {k: v for k, v in scores.items() if not is_residual_name(k)}
    best = min(linear, key=linear.__getitem__)
    nonlinear = {k: v for k, v in scores.items() if is_residual_name(k)}
    if nonlinear:
        alt = min(nonlinear, key=nonlinear.__getitem__)
        if nonlinear[alt] < (1 - RESIDUAL_MARGIN) * linear[best]:
            return alt
    return best


def train_surrogates(cfg: PlantConfig, heats: pd.DataFrame, progress: Callable[[str], None] | None = None,
                     residual: bool = False) -> tuple[SurrogateSet, TrainingReport]:
    """Fit every outcome (see module doc). ``heats`` is a validated canonical table."""
    if len(heats) < MIN_HEATS:
        raise ValueError(f"training needs at least {MIN_HEATS} valid heats, got {len(heats)}")
    df = time_order(heats)
    tr, cal, te = holdout_split(len(df))
    report = TrainingReport(len(tr), len(cal), len(te))
    outcomes = {}
    for outcome in constrained_outcomes(cfg):
        if progress:
            progress(outcome)
        outcomes[outcome] = _train_outcome(cfg, df, outcome, (tr, cal, te), report, residual)
    fit_rows = df.iloc[np.concatenate([tr, cal])]
    domain = ApplicabilityDomain.fit(fit_rows, context_features(cfg)[1:] + decision_features(cfg))
    return SurrogateSet(outcomes, domain, versions={}), report


def _scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {"mae": float(mean_absolute_error(y, pred)), "rmse": float(np.sqrt(mean_squared_error(y, pred)))}


def _train_outcome(cfg: PlantConfig, df: pd.DataFrame, outcome: str, blocks: tuple[np.ndarray, ...],
                   report: TrainingReport, residual: bool) -> OutcomeSurrogate:
    tr, cal, te = blocks
    y = df[outcome].to_numpy(float)
    train, test = df.iloc[tr], df.iloc[te]
    makers = candidates(cfg, outcome, residual)
    scores, fitted = {}, {}
    for name, make in makers.items():
        maes = [mean_absolute_error(y[tr][v], make().fit(train.iloc[f], y[tr][f]).predict(train.iloc[v]))
                for f, v in time_splits(len(tr))]
        scores[name] = float(np.mean(maes))
        fitted[name] = make().fit(train, y[tr])
    report.candidate_test[outcome] = {name: _scores(y[te], s.predict(test)) for name, s in fitted.items()}
    best = choose(scores, outcome)
    report.cv_mae[outcome], report.chosen[outcome] = scores, best
    structure = fitted[best]
    cal_df = df.iloc[cal]
    n_cal = cal_df["n_samples"].to_numpy(int)
    model_err = np.abs(y[cal] - structure.predict(cal_df))
    if outcome == TEMPERATURE:
        widths = _closed_loop_widths(train, y[tr], cal_df, y[cal], n_cal, model_err)
    else:
        widths = SampleWidths.fit(model_err, n_cal, cal_df["grade"].to_numpy())
    sur = OutcomeSurrogate(outcome, structure, widths, context_features(cfg), decision_features(cfg))
    if isinstance(structure, ResidualStructure):
        sur.structure, sur.residual_model = structure.base_, structure.model_
        sur.residual_features, sur.residual_kind = list(structure.features), structure.kind
    sur.metrics = _test_metrics(sur, test, y[te], report, outcome)
    if outcome == TEMPERATURE:
        sur.metrics.update(_closed_loop_coverage(sur, train, y[tr], test, y[te]))
        report.test[outcome] = sur.metrics
    report.baseline_test_mae[outcome] = report.candidate_test[outcome]["fixed_yield"]["mae"]
    return sur


def _closed_loop_widths(train: pd.DataFrame, y_train: np.ndarray, cal: pd.DataFrame, y_cal: np.ndarray,
                        n_cal: np.ndarray, model_err: np.ndarray) -> SampleWidths:
    """Final temperature is steered by the operator after every sample: its spread around the practice's
    per-grade aim (estimated on the training heats) by number of samples is the closed-loop width. The
    heat-balance model's error, which conditions on the energy actually used, is the open-loop floor."""
    centre = pd.Series(y_train).groupby(train["grade"].to_numpy()).median()
    dev = np.abs(y_cal - centre.reindex(cal["grade"].to_numpy()).to_numpy())
    widths = SampleWidths.fit(dev, n_cal, cal["grade"].to_numpy())
    widths.open_loop = SampleWidths.fit(model_err, n_cal).pooled
    return widths


def _closed_loop_coverage(sur: OutcomeSurrogate, train: pd.DataFrame, y_train: np.ndarray, test: pd.DataFrame,
                          y: np.ndarray) -> dict[str, float]:
    """What the temperature width claims: the final temperature lands within hw(n) of the grade's aim
    (training median per grade), as the operator steers it with n samples."""
    centre = pd.Series(y_train).groupby(train["grade"].to_numpy()).median()
    dev = np.abs(y - centre.reindex(test["grade"].to_numpy()).to_numpy())
    out = {}
    for conf in (0.90, 0.95):
        hw = np.array([sur.halfwidth(int(k), conf, g) for k, g in zip(test["n_samples"], test["grade"], strict=True)])
        out[f"closed_loop_coverage_{int(conf * 100)}"] = float(np.mean(dev <= hw))
    return out


def _test_metrics(sur: OutcomeSurrogate, test: pd.DataFrame, y: np.ndarray, report: TrainingReport,
                  outcome: str) -> dict[str, float]:
    pred = sur.predict(test)
    n = test["n_samples"].to_numpy(int)
    out = {"mae": float(mean_absolute_error(y, pred)), "rmse": float(np.sqrt(mean_squared_error(y, pred))),
           "r2": float(r2_score(y, pred)) if len(y) > 1 else float("nan")}
    for conf in (0.90, 0.95):
        hw = np.array([sur.halfwidth(int(k), conf, g) for k, g in zip(n, test["grade"], strict=True)])
        out[f"coverage_{int(conf * 100)}"] = float(np.mean(np.abs(y - pred) <= hw))
    report.test[outcome] = out
    report.test_by_grade[outcome] = {str(g): float(mean_absolute_error(y[m], pred[m]))
                                     for g in test["grade"].unique() for m in [(test["grade"] == g).to_numpy()]}
    report.test_predictions[outcome] = pd.DataFrame({"start_time": test["start_time"].to_numpy(), "actual": y,
                                                     "predicted": pred, "grade": test["grade"].to_numpy()})
    return out
