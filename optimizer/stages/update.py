"""A heat's own update: after each sample, its residuals so far move the prediction of its next stage.

Every outcome's stage residuals of one heat are jointly Gaussian: a heat random effect (its recovery, or its
arc efficiency and loss) seen through each stage's regressors, each stage's own noise, and the measurement
shared by two adjacent stages. Conditioning on the residuals observed gives the next stage's mean shift and
variance in closed form; the shift is linear in the next stage's regressors, so the decision stays linear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optimizer.config import PlantConfig
from optimizer.schema import sample_element
from optimizer.stages.deox import oxygen_bound_kg_per_t
from optimizer.stages.models import TEMPERATURE, LinearStage, StageContext, StageModels, StagePlan
from optimizer.stages.state import HeatState, Sample, StageRecord


@dataclass(frozen=True)
class OutcomeForecast:
    """The next stage of one outcome for one heat: the population model corrected by the heat's evidence.

    ``after = linear.value(before, plan, minutes) + effect . x(plan) + shift``, with variance from
    :meth:`variance`."""

    name: str
    before: float
    linear: LinearStage
    effect: np.ndarray  # posterior mean of the heat's random effect
    shift: float  # conditional mean of the next stage's noise (shared measurement)
    _cross: np.ndarray  # X_past^T K^-1 X_past (d x d)
    _gain_meas: np.ndarray  # X_past^T K^-1 u_last (d)
    _meas_last: float
    _last_weight: float  # u_last^T K^-1 u_last
    _cov: np.ndarray
    _v_next: tuple[float, float]
    _meas: tuple[float, float]
    _scale: float
    _level_scaled: bool

    def mean(self, plan: StagePlan, minutes: float, x: np.ndarray) -> float:
        return self.linear.value(self.before, plan, minutes) + float(self.effect @ x) + self.shift

    def variance(self, x: np.ndarray, level: float) -> tuple[float, float]:
        """(variance of the next measured value, variance of the true value after the stage)."""
        lv = level if self._level_scaled else 0.0
        s = self._cov @ x
        c_eff = s  # covariance of the next residual with the past through the effect: X_past S x
        v_next = max(self._v_next[0] + self._v_next[1] * lv * lv, 1e-12)
        var = float(x @ s) + v_next
        # subtract what the past explains: c' K^-1 c with c = X_past S x - m_last u_last
        explained = float(c_eff @ self._cross @ c_eff) - 2.0 * self._meas_last * float(c_eff @ self._gain_meas) \
            + self._meas_last ** 2 * self._last_weight
        meas = max(self._meas[0] + self._meas[1] * lv * lv, 0.0)
        # what the past explains never takes the next stage's own noise and measurement: at most the last
        # sample's error is known (it is shared with the stage just done)
        floor = max(v_next - self._meas_last, meas)
        var = max(var - explained, floor, 1e-12) * self._scale ** 2
        return var, max(var - meas, 0.25 * var)


def stage_context(state: HeatState, cfg: PlantConfig) -> StageContext:
    """Context of the stage that starts now."""
    return StageContext(state.steel_weight_t, state.last.temperature_degC, state.n_stages + 1, state.oxygen_ppm,
                        state.slag_feo_wt_pct, _levels(state.last),
                        oxygen_bound_kg_per_t(cfg, state.added_kg(), state.steel_weight_t),
                        *_previous(state.stages[-1] if state.stages else None))


def forecast(models: StageModels, state: HeatState, name: str) -> OutcomeForecast:
    """The next stage of outcome ``name`` for this heat (see module doc)."""
    m = models.outcomes[name]
    scaled = name != TEMPERATURE
    past_e, past_x, past_v, shared = [], [], [], []
    bound_kg_per_t = 0.0  # oxygen the stages before stage j + 1 can bind
    for j, st in enumerate(state.stages):
        s0, s1 = state.samples[j], state.samples[j + 1]
        ctx = StageContext(state.steel_weight_t, s0.temperature_degC, j + 1, state.oxygen_ppm, state.slag_feo_wt_pct,
                           _levels(s0), bound_kg_per_t, *_previous(state.stages[j - 1] if j > 0 else None))
        bound_kg_per_t += oxygen_bound_kg_per_t(models.cfg, st.additions_kg, state.steel_weight_t)
        plan = StagePlan(st.additions_kg, st.arc_energy_kWh, 0.0)
        minutes = s1.minutes_from_start - s0.minutes_from_start
        before, after = _value(s0, name), _value(s1, name)
        if not (math.isfinite(before) and math.isfinite(after)):
            continue
        past_e.append(after - models.linear(name, ctx).value(before, plan, minutes))
        past_x.append(models.effect_x(name, ctx, plan, minutes))
        lv, lb = (after, before) if scaled else (0.0, 0.0)
        shared.append(m.meas_variance(lv))
        # a stage change is the difference of two readings: its variance at least both their errors (the fit
        # floors only the constant part; at a high level the level-scaled error can pass the stage's variance,
        # and the covariance of the residuals, adjacent ones sharing a reading, would be indefinite)
        past_v.append(max(m.variance(j + 1 > 1, lv), shared[-1] + m.meas_variance(lb)))
    d = m.effect_cov.shape[0]
    ctx_next = stage_context(state, models.cfg)
    lin = models.linear(name, ctx_next)
    before = _value(state.last, name)
    trim_next = ctx_next.stage_no > 1
    v_next = m.stage_var[trim_next]
    if not past_e:
        zero = np.zeros((d, d))
        return OutcomeForecast(name, before, lin, np.zeros(d), 0.0, zero, np.zeros(d), 0.0, 0.0, m.effect_cov,
                               v_next, m.meas_var, m.scale_for(trim_next), scaled)
    xp = np.array(past_x)
    k = xp @ m.effect_cov @ xp.T + np.diag(past_v)
    for j in range(len(past_e) - 1):  # adjacent stages share sample j + 1
        k[j, j + 1] -= shared[j]
        k[j + 1, j] -= shared[j]
    kinv = np.linalg.pinv(k)
    e = np.array(past_e)
    u_last = np.zeros(len(past_e))
    u_last[-1] = 1.0
    alpha = kinv @ e
    effect = m.effect_cov @ xp.T @ alpha  # E[u | past]
    meas_last = shared[-1]  # next residual shares the last sample with the last past residual
    shift = -meas_last * float(alpha[-1])
    cross = xp.T @ kinv @ xp
    gain = xp.T @ kinv @ u_last
    return OutcomeForecast(name, before, lin, effect, shift, cross, gain, meas_last, float(u_last @ kinv @ u_last),
                           m.effect_cov, v_next, m.meas_var, m.scale_for(trim_next), scaled)


def _previous(stage: StageRecord | None) -> tuple[tuple[tuple[str, float], ...], float]:
    """What a stage before the one that starts did, as the stage context carries it (none: the first stage)."""
    if stage is None:
        return (), 0.0
    return tuple(sorted((m, float(kg)) for m, kg in stage.additions_kg.items())), float(stage.arc_energy_kWh)


def _levels(sample: Sample) -> tuple[tuple[str, float], ...]:
    """A sample's chemistry as the stage context carries it (the residual's input)."""
    return tuple(sorted((el, float(v)) for el, v in sample.wt_pct.items()))


def _value(sample, name: str) -> float:  # noqa: ANN001 (a Sample)
    if name == TEMPERATURE:
        return float(sample.temperature_degC)
    return float(sample.wt_pct.get(sample_element(name), math.nan))
