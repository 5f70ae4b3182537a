"""Stage models: how one stage of a heat moves its chemistry and temperature, learned from the stage rows.

Physics stays explicit, so a stage's prediction is linear in what is decided in it (kg of each material, kWh,
minutes) once its context is known (arrival oxygen, slag FeO if measured, the temperature at the last sample,
main stage or trim):

* element ``El`` (wt%): ``after = before + sum_m kg_m * c_m,El / W_kg * r_m,El(z) + g0``, with the
  recovery of material ``m`` ``r_m,El(z) = beta . z + d_m`` linear in the context ``z = [1, (O - 400)/100,
  trim, (T - 1580)/10, FeO - 3]`` (FeO only where the history measures it) plus the material's own offset
  ``d_m`` (FeMn and SiMn bring Mn with different yields); where the history shows it (heat-grouped
  cross-validation, ``optimizer.stages.deox``), ``z`` also holds the oxygen the heat's earlier additions can bind
  (kg O per t: a trim after a big deoxidation recovers more than one without);
* temperature (degC): ``after = before + eta(z) * kWh / (c_p * W_t) - lambda(z) * minutes
  - kappa * sum_m chill_m * kg_m / W_t`` (no constant: a heat balance has none), efficiency and loss linear in
  ``[1, (T - 1580)/10]``;
* arc minutes per stage: ``a * kWh / W_t``;
* where the history shows it out of sample with the physics' sign (``_unseen_holds``), a share ``gamma`` of a
  stage's own nominal input that its closing sample has not seen (an addition not yet mixed, a dip over-reading
  a stratified bath) shows in the next stage: ``+ gamma * input of the previous stage``, known at the decision.

Every heat also has its own recovery (per element) and its own efficiency and loss: random effects whose
covariance is learned from pairs of stages of the same heat (method of moments; adjacent stages share a
measurement, whose variance the same regression estimates). After each sample the heat's residuals update its
next stage by Gaussian conditioning (an empirical-Bayes update: the first sample says how this heat recovers).
Intervals are calibrated on the later heats of the history (a scale fitted on held-out heats, one for main
stages and one for trims).

Directions the history cannot separate (in today's practice, arc minutes follow the energy, so efficiency and
loss during arcing are nearly collinear) are held at the plant config's priors by a weak ridge toward them
(``arc_efficiency_prior``, ``heat_loss_prior_degC_per_min``, chill factor 1, the materials' ``prior_recovery``).
The per-material offsets ``d_m`` have a real prior (a Gaussian of sd ``MATERIAL_RECOVERY_SD`` around the config's
``prior_recovery_m - mean prior``): a material the history adds much of, alone or in changing proportion to the
others, gets its own recovery; one it adds little of (Si from FeMn, 1 wt%), or always together with another,
stays at the config's difference to the element's learned common level.

Optionally (``residual=True``) each outcome also gets a learned residual on the stage's context
(``optimizer.stages.residual``): a constant per stage, so the decision stays linear; kept only where it beats the
physics on the later heats of the history.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from optimizer.config import Material, PlantConfig
from optimizer.schema import KEY, material_col, sample_element, sample_element_col
from optimizer.stages.deox import heat_folds, holds_out_of_sample
from optimizer.stages.effects import DRIFT_MIN_PAIRS, DRIFT_MIN_Z, fit_effects, updated_log_score
from optimizer.stages.fade import NO_FADE, Fade, learn_fade
from optimizer.stages.gross import NO_GROSS, SUSPECT_SD, GrossReadings, learn_gross
from optimizer.stages.residual import ResidualCheck, StageResidual, context_features, learn_residual
from optimizer.stages.table import AFTER, BEFORE, BOUND_O, PREVIOUS

TEMPERATURE = "temperature_degC"
RIDGE = 1e-3  # ridge weight per row on standardised columns: pins only what the data cannot tell
# prior sd of one material's recovery around the config's prior_recovery, relative to the element's common level:
# the +/-5 points a ladle calculator allows on its default yields (DOMAIN.md section 3)
MATERIAL_RECOVERY_SD = 0.05
CALIBRATION_SHARE = 0.2  # later heats that calibrate the interval scale
MIN_STAGES = 30
CORE_PASSES = 3  # refits on the core of a history with gross readings, each with the suspects found anew
MIN_CALIBRATION = 20  # held-out stages of one kind (main or trim) needed to calibrate its own interval scale


@dataclass(frozen=True)
class StageContext:
    """What is known about a stage before it starts."""

    steel_weight_t: float
    temperature_degC: float  # at the last sample
    stage_no: int  # 1 = main additions, later = trims
    oxygen_ppm: float = math.nan
    slag_feo_wt_pct: float = math.nan
    before_wt_pct: tuple[tuple[str, float], ...] = ()  # (element, wt%) at the last sample (the residual's input)
    bound_oxygen_kg_per_t: float = 0.0  # oxygen the Al, Si, Mn of the heat's earlier stages can bind (deox.py)
    # what the heat's previous stage did (none before the first): the part its closing sample had not seen yet
    # shows in this stage (``OutcomeModel.unseen``)
    previous_additions_kg: tuple[tuple[str, float], ...] = ()
    previous_arc_energy_kWh: float = 0.0


@dataclass(frozen=True)
class StagePlan:
    """What a stage does: additions (kg), arc energy (kWh) and minutes besides arc and sampling."""

    additions_kg: Mapping[str, float]
    arc_energy_kWh: float
    other_min: float


@dataclass(frozen=True)
class LinearStage:
    """A stage outcome as ``after = before + const + sum_m kg_m * per_kg[m] + kWh * (per_kWh - fade_per_kWh *
    before) + min * (per_min - fade_per_min * before)``: ``fade_per_min`` (1/min) is a first-order loss of the
    level at the stage's start while the stage lasts, ``fade_per_kWh`` (1/kWh) the extra while the arc burns (the
    arc zone's loss per arc minute times the arc minutes per kWh). ``before`` is known at the decision and the
    minutes are affine in the plan (``StageModels.stage_minutes``), so the outcome stays affine in the decision."""

    const: float
    per_kg: dict[str, float]
    per_kWh: float
    per_min: float
    fade_per_min: float = 0.0
    fade_per_kWh: float = 0.0

    def value(self, before: float, plan: StagePlan, minutes: float) -> float:
        return before + self.const + sum(self.per_kg.get(m, 0.0) * kg for m, kg in plan.additions_kg.items()) \
            + (self.per_kWh - self.fade_per_kWh * before) * plan.arc_energy_kWh \
            + (self.per_min - self.fade_per_min * before) * minutes


@dataclass
class OutcomeModel:
    """One measured quantity's stage model (element wt% or temperature degC)."""

    name: str
    coef: np.ndarray  # over the design columns of ``_design``
    effect_cov: np.ndarray  # (d, d) heat random effects
    meas_var: tuple[float, float]  # measurement variance m0 + m1 * level^2
    stage_var: dict[bool, tuple[float, float]]  # trim? -> (v0, v1): e^2 - x'Sx = v0 + v1 * level^2
    scale: float = 1.0  # calibration of the standard deviation (all held-out stages)
    stage_scale: dict[bool, float] = field(default_factory=dict)  # trim? -> calibration of that kind's sd
    rmse: float = math.nan
    carriers: tuple[str, ...] = ()  # materials with their own recovery offset d_m (elements only)
    residual: StageResidual | None = None  # learned residual on the context, when it beat the physics
    residual_check: ResidualCheck | None = None  # the time-ordered check (None: residuals not asked for)
    fade: Fade = NO_FADE  # holding-time fade, first order in the level (elements; ``optimizer.stages.fade``)
    bound_oxygen_z: float = math.nan  # held-out gain of the bound-oxygen recovery term, in standard errors
    bound_oxygen_kept: bool = False  # the term is in the model (else its coefficient is held at 0)
    drift_z: float = math.nan  # the per-heat drift's variance in cluster-robust standard errors (elements)
    drift_gain: float = math.nan  # held-out log-score gain of the later heats' updated forecasts with the drift (nats;
    # NaN: not scored, the drift was not identified or not significant)
    drift_kept: bool = False  # the drift is a random effect of this element (``optimizer.stages.effects``)
    drift_pairs: int = 0  # pairs of stages of one heat sharing no sample, which identify the drift
    # what of a stage's own nominal input its closing sample has not seen yet, per unit of that input (elements:
    # wt% per wt% added, >= 0, not yet dissolved or mixed; temperature: degC per degC of arc rise, <= 0, a dip
    # that over-reads a stratified bath); it shows in the next stage, and the true state after a stage is the
    # measured one plus it (``StageModels.unseen_linear``). 0 unless the history shows it (``_unseen_holds``)
    unseen: float = 0.0
    unseen_z: float = math.nan  # held-out gain of the term, in heat-clustered standard errors (NaN: not tried)
    unseen_kept: bool = False
    # how often a reading more than ``SUSPECT_SD`` below or above its prediction is gross (a failed dip, a
    # contaminated sample): the next sample takes it back (``optimizer.stages.gross``); 0 unless the history shows it
    gross: GrossReadings = NO_GROSS
    core_share: float = 1.0  # share of the history's stages fitted on (less where suspect readings were left out)

    def variance(self, trim: bool, level: float) -> float:
        v0, v1 = self.stage_var[trim]
        return max(v0 + v1 * level * level, 1e-12)

    def scale_for(self, trim: bool) -> float:
        """Calibration of the sd of a main stage (``trim`` False) or a trim: each kind is calibrated on its own
        held-out stages (a main stage's big additions and a trim's small ones are not wrong by the same factor)."""
        return self.stage_scale.get(trim, self.scale)

    def meas_variance(self, level: float) -> float:
        m0, m1 = self.meas_var
        return max(m0 + m1 * level * level, 0.0)


@dataclass
class StageModels:
    """Stage models of every measured quantity, learned from one plant's history (see module doc)."""

    cfg: PlantConfig
    outcomes: dict[str, OutcomeModel]
    recovery_features: list[str]
    arc_min_per_kWh_per_t: float
    oxygen_fill_ppm: float
    n_stages: int
    n_heats: int
    _shifts: dict[tuple[str, StageContext], float] = field(default_factory=dict, repr=False, compare=False)

    # ------------------------------------------------------------------ linear form for the decision
    def linear(self, name: str, ctx: StageContext) -> LinearStage:
        """The stage outcome ``name`` as a linear function of the decision (see :class:`LinearStage`): the
        physics plus the learned residual of this context, if the outcome has one (a constant for the stage)."""
        lin = self._physics(name, ctx)
        if self.outcomes[name].unseen != 0.0:  # what the previous stage's closing sample had not seen shows now
            seen_late = self.unseen_shift(name, dict(ctx.previous_additions_kg), ctx.previous_arc_energy_kWh,
                                          ctx.steel_weight_t)
            lin = dataclasses.replace(lin, const=lin.const + seen_late)
        shift = self.residual_shift(name, ctx)
        return lin if shift == 0.0 else dataclasses.replace(lin, const=lin.const + shift)

    def unseen_linear(self, name: str, steel_weight_t: float) -> tuple[dict[str, float], float]:
        """What a stage's closing sample has not seen yet of ``name``, as (per kg of each material, per kWh) of
        that stage: the true value after the stage is the measured one plus ``sum per_kg[m] kg_m + per_kWh kWh``
        (all 0 unless ``OutcomeModel.unseen`` is kept)."""
        return _unit_unseen(self.cfg, name, steel_weight_t, self.outcomes[name].unseen)

    def unseen_shift(self, name: str, additions_kg: Mapping[str, float], arc_energy_kWh: float,
                     steel_weight_t: float) -> float:
        """True minus measured ``name`` after a stage with these additions and arc energy (``unseen_linear``)."""
        per_kg, per_kwh = self.unseen_linear(name, steel_weight_t)
        return sum(per_kg.get(m, 0.0) * kg for m, kg in additions_kg.items()) + per_kwh * arc_energy_kWh

    def residual_shift(self, name: str, ctx: StageContext) -> float:
        """The learned residual of outcome ``name`` in a stage with this context (0 without one); cached, since a
        decision asks for the same stage many times."""
        res = self.outcomes[name].residual
        if res is None:
            return 0.0
        key = (name, ctx)
        if key not in self._shifts:
            if len(self._shifts) > 100_000:
                self._shifts.clear()
            self._shifts[key] = float(res.predict(self.residual_features(ctx))[0])
        return self._shifts[key]

    def residual_features(self, ctx: StageContext) -> np.ndarray:
        """The context as the residual trees see it."""
        o = ctx.oxygen_ppm if math.isfinite(ctx.oxygen_ppm) else self.oxygen_fill_ppm
        return context_features(self.cfg.elements, ctx.steel_weight_t, ctx.stage_no, o, ctx.slag_feo_wt_pct,
                                ctx.temperature_degC, dict(ctx.before_wt_pct))

    def _physics(self, name: str, ctx: StageContext) -> LinearStage:
        m = self.outcomes[name]
        w_t = ctx.steel_weight_t
        if name == TEMPERATURE:
            t = (ctx.temperature_degC - 1580.0) / 10.0
            c = m.coef  # [E'*1, E'*t, min*1, min*t, -chill]
            eta = c[0] + c[1] * t
            per_min = c[2] + c[3] * t
            per_kwh = eta / (self.cfg.energy.steel_heat_kWh_per_t_per_degC * w_t)
            per_kg = {mat.name: -c[4] * mat.chill_degC_t_per_kg / w_t for mat in self.cfg.materials}
            return LinearStage(0.0, per_kg, per_kwh, per_min)
        el = sample_element(name)
        per_kg = {mat.name: mat.composition_wt_pct.get(el, 0.0) / (w_t * 1000.0) * self.recovery(el, mat.name, ctx)
                  for mat in self.cfg.materials}
        return LinearStage(float(m.coef[-1]), per_kg, 0.0, 0.0, m.fade.rate_per_min,
                           m.fade.arc_rate_per_min * self.arc_min_per_kWh_per_t / w_t)

    def recovery(self, element: str, material: str, ctx: StageContext) -> float:
        """Learned recovery (0-1) of ``element`` from ``material`` in a stage with this context."""
        m = self.outcomes[sample_element_col(element)]
        p = len(self.recovery_features)
        own = m.coef[p + m.carriers.index(material)] if material in m.carriers else 0.0
        return float(np.clip(m.coef[:p] @ self._z(ctx) + own, 0.02, 1.0))

    def arc_minutes(self, kwh: float, steel_weight_t: float) -> float:
        """Arc-on minutes for ``kwh`` in a heat of this weight."""
        return self.arc_min_per_kWh_per_t * kwh / steel_weight_t

    def stage_minutes(self, plan: StagePlan, steel_weight_t: float, dip: bool = False) -> float:
        """Minutes of a stage from its start to the end of the measurement that closes it (a chemistry sample,
        or a temperature dip alone when ``dip``)."""
        s = self.cfg.sampling
        return plan.other_min + self.arc_minutes(plan.arc_energy_kWh, steel_weight_t) + \
            (s.minutes_per_temperature_sample if dip else s.minutes_per_sample)

    def _z(self, ctx: StageContext) -> np.ndarray:
        o = ctx.oxygen_ppm if math.isfinite(ctx.oxygen_ppm) else self.oxygen_fill_ppm
        feats = {"one": 1.0, "oxygen": (o - 400.0) / 100.0, "trim": float(ctx.stage_no > 1),
                 "temperature": (ctx.temperature_degC - 1580.0) / 10.0,
                 "feo": (ctx.slag_feo_wt_pct - 3.0) if math.isfinite(ctx.slag_feo_wt_pct) else 0.0,
                 "bound_oxygen": ctx.bound_oxygen_kg_per_t}
        return np.array([feats[f] for f in self.recovery_features])

    # ------------------------------------------------------------------ effect design (heat random effects)
    def effect_x(self, name: str, ctx: StageContext, plan: StagePlan, minutes: float) -> np.ndarray:
        """The random-effect regressors of one stage: a heat's deviation ``u`` moves the outcome by ``x . u``."""
        if name == TEMPERATURE:
            e = plan.arc_energy_kWh / (self.cfg.energy.steel_heat_kWh_per_t_per_degC * ctx.steel_weight_t)
            return np.array([e, -minutes])
        lin = self._physics(name, ctx)
        x = np.array([sum(lin.per_kg.get(m, 0.0) * kg for m, kg in plan.additions_kg.items()), -minutes])
        return x[: self.outcomes[name].effect_cov.shape[0]]  # the drift only where it was kept


# ---------------------------------------------------------------------- fitting
def fit_stage_models(cfg: PlantConfig, stages: pd.DataFrame, heats_order: Sequence[str] | None = None,
                     residual: bool = False) -> StageModels:
    """Learn the stage models from stage rows (``stage_table``). ``heats_order`` (heat ids, oldest first) picks
    the later heats that calibrate the intervals (default: the order of the rows). ``residual``: also try a
    learned residual per outcome (``optimizer.stages.residual``), kept only where it beats the physics on the
    later heats."""
    if len(stages) < MIN_STAGES:
        raise ValueError(f"stage models need at least {MIN_STAGES} stages with samples before and after, got "
                         f"{len(stages)}: export the sample table with its per-stage additions and energy")
    order = list(dict.fromkeys(heats_order if heats_order is not None else stages[KEY]))
    o_fill = float(np.nanmedian(stages["initial_oxygen_ppm"])) if stages["initial_oxygen_ppm"].notna().any() else 400.0
    feats = ["one", "oxygen", "trim", "temperature"]
    if stages["slag_feo_wt_pct"].notna().mean() > 0.3:
        feats.append("feo")
    if BOUND_O in stages.columns and stages[BOUND_O].fillna(0.0).abs().max() > 0:
        feats.append("bound_oxygen")  # per element kept only where it holds out of sample (_bound_oxygen_holds)
    arc = stages[stages["arc_energy_kWh"] > 0]
    ratio = (arc["arc_time_min"] * arc["steel_weight_t"]).sum() / max(arc["arc_energy_kWh"].sum(), 1e-9)
    shell = StageModels(cfg, {}, feats, float(ratio), o_fill, len(stages), stages[KEY].nunique())
    z = np.array([shell._z(_row_context(r)) for r in stages.itertuples(index=False)])  # noqa: SLF001
    n_cal = int(len(order) * CALIBRATION_SHARE)
    cal_ids = set(order[len(order) - n_cal:]) if n_cal >= 20 else set()
    ctx_x = np.array([shell.residual_features(_row_context(r, cfg.elements)) for r in stages.itertuples(index=False)]) \
        if residual and cal_ids else None
    for name in [TEMPERATURE] + [sample_element_col(el) for el in cfg.elements]:
        shell.outcomes[name] = _fit_outcome(shell, name, stages, z, cal_ids, ctx_x)
    return shell


def _row_context(r, elements: Sequence[str] = ()) -> StageContext:  # noqa: ANN001 (a stage table namedtuple)
    bound = float(getattr(r, BOUND_O, 0.0))
    return StageContext(float(r.steel_weight_t), float(getattr(r, BEFORE + TEMPERATURE)), int(r.stage_no),
                        float(r.initial_oxygen_ppm), float(r.slag_feo_wt_pct),
                        tuple((el, float(getattr(r, BEFORE + sample_element_col(el)))) for el in elements),
                        (bound if math.isfinite(bound) else 0.0) / float(r.steel_weight_t))


def _unit_unseen(cfg: PlantConfig, name: str, steel_weight_t: float, share: float) -> tuple[dict[str, float], float]:
    """``share`` of a stage's nominal input of ``name`` as (per kg of each material, per kWh): elements the
    wt% the materials bring (before any recovery), temperature the arc's degC at full efficiency."""
    if name == TEMPERATURE:
        return {}, share / (cfg.energy.steel_heat_kWh_per_t_per_degC * steel_weight_t)
    el = sample_element(name)
    return {m.name: share * m.composition_wt_pct[el] / (steel_weight_t * 1000.0) for m in carriers(cfg, el)}, 0.0


def _previous_input(cfg: PlantConfig, name: str, stages: pd.DataFrame) -> np.ndarray:
    """Each row's previous stage's nominal input of ``name`` (``_unit_unseen`` at share 1; 0 for a first stage,
    and where the rows lack the previous stage's columns)."""
    w_t = stages["steel_weight_t"].to_numpy(float)
    per_kg, per_kwh = _unit_unseen(cfg, name, 1.0, 1.0)
    total = np.zeros(len(stages))
    for col, coef in [(PREVIOUS + material_col(m), c) for m, c in per_kg.items()] + \
            [(PREVIOUS + "arc_energy_kWh", per_kwh)]:
        if coef != 0.0 and col in stages.columns:
            total += stages[col].fillna(0.0).to_numpy(float) * coef
    return total / w_t


def _design(sm: StageModels, name: str, stages: pd.DataFrame, z: np.ndarray) -> np.ndarray:
    cfg = sm.cfg
    w_t = stages["steel_weight_t"].to_numpy(float)
    minutes = stages["minutes"].to_numpy(float)
    if name == TEMPERATURE:
        t = (stages[BEFORE + TEMPERATURE].to_numpy(float) - 1580.0) / 10.0
        e = stages["arc_energy_kWh"].to_numpy(float) / (cfg.energy.steel_heat_kWh_per_t_per_degC * w_t)
        chill = sum(stages[material_col(m.name)].to_numpy(float) * m.chill_degC_t_per_kg for m in cfg.materials)
        return np.column_stack([e, e * t, minutes, minutes * t, -chill / w_t])
    el = sample_element(name)
    per_material = [stages[material_col(m.name)].to_numpy(float) * m.composition_wt_pct[el] / (w_t * 1000.0)
                    for m in carriers(cfg, el)]
    g = sum(per_material, np.zeros(len(w_t)))
    # z * g: the common recovery and its context terms; g_m: each carrier's own offset; g0: pickup or loss per stage
    return np.column_stack([z * g[:, None], *per_material, np.ones(len(w_t))])


def carriers(cfg: PlantConfig, element: str) -> list[Material]:
    """The materials that bring ``element`` (each gets its own recovery offset)."""
    return [m for m in cfg.materials if m.composition_wt_pct.get(element, 0.0) > 0.0]


def prior_coef(cfg: PlantConfig, name: str, n_features: int) -> np.ndarray:
    """The config's physics as coefficients of ``_design``: what the ridge shrinks toward (elements: the mean
    prior recovery as the common level, each carrier's ``prior_recovery`` less that mean as its offset)."""
    if name == TEMPERATURE:
        return np.array([cfg.energy.arc_efficiency_prior, 0.0, -cfg.energy.heat_loss_prior_degC_per_min, 0.0, 1.0])
    el = sample_element(name)
    mats = carriers(cfg, el)
    recs = [float(m.prior_recovery[el]) for m in mats]
    common = float(np.mean(recs)) if recs else 1.0
    out = np.zeros(n_features)
    out[0] = common
    p = n_features - 1 - len(mats)
    out[p: p + len(mats)] = np.array(recs) - common
    return out


def _lstsq(x: np.ndarray, y: np.ndarray, prior: np.ndarray, penalty: np.ndarray | None = None) -> np.ndarray:
    """Least squares with a weak ridge toward ``prior`` (on standardised columns), plus ``penalty`` (per column,
    in the columns' own units: ``sum penalty_j (coef_j - prior_j)^2``, a Gaussian prior's ``noise var / prior var``)."""
    scale = np.maximum(np.sqrt(np.mean(x * x, axis=0)), 1e-12)
    xs = x / scale
    lam = RIDGE * len(y) * np.ones(x.shape[1])
    if penalty is not None:
        lam = lam + penalty / scale ** 2
    a = xs.T @ xs + np.diag(lam)
    b = xs.T @ y + lam * (prior * scale)
    return np.linalg.solve(a, b) / scale


def _fit_coef(cfg: PlantConfig, name: str, x: np.ndarray, y: np.ndarray, n_common: int,
              held: Sequence[int] = ()) -> np.ndarray:
    """Coefficients of one outcome. Elements: the carriers' offsets (columns ``n_common`` up to the last) get the
    Gaussian prior of sd ``MATERIAL_RECOVERY_SD``, its weight set by the noise of a fit with the offsets pinned.
    ``held``: columns held at their prior (a context term the history does not support)."""
    prior = prior_coef(cfg, name, x.shape[1])
    n_own = x.shape[1] - 1 - n_common
    hold = np.zeros(x.shape[1])
    hold[list(held)] = 1e12
    if name == TEMPERATURE or n_own <= 0:
        return _lstsq(x, y, prior, hold if len(held) else None)
    pinned = hold.copy()
    pinned[n_common: n_common + n_own] = 1e12
    noise_var = float(np.mean((y - x @ _lstsq(x, y, prior, pinned)) ** 2))
    penalty = hold.copy()
    penalty[n_common: n_common + n_own] = max(noise_var, 1e-12) / MATERIAL_RECOVERY_SD ** 2
    return _lstsq(x, y, prior, penalty)


def _bound_oxygen_holds(sm: StageModels, name: str, stages: pd.DataFrame, x: np.ndarray, y: np.ndarray,
                        rows: np.ndarray) -> tuple[bool, float]:
    """Whether the bound-oxygen recovery term of element ``name`` lowers the squared error of the stage change on
    held-out heats (``CV_FOLDS``-fold, whole heats per fold, on ``rows``) with the sign the physics gives it (more
    oxygen bound before, more recovered: positive): (kept, z of the gain). A gain with the other sign is a
    confound (a grade that takes big main additions and recovers its trims worse for another reason), not
    oxygen already consumed."""
    col = sm.recovery_features.index("bound_oxygen")
    n_common = len(sm.recovery_features)
    idx = np.flatnonzero(rows & np.isfinite(y))
    if not np.any(x[idx, col] != 0.0):
        return False, math.nan
    ids = stages[KEY].astype(str).to_numpy()[idx]

    def errors(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        without, with_term = (_fit_coef(sm.cfg, name, x[train], y[train], n_common, h) for h in ((col,), ()))
        return (y[test] - x[test] @ without) ** 2, (y[test] - x[test] @ with_term) ** 2

    kept, z = holds_out_of_sample(*_heat_fold_errors(ids, idx, errors), ids)
    sign = float(_fit_coef(sm.cfg, name, x[idx], y[idx], n_common)[col])
    return kept and sign > 0.0, z if sign > 0.0 else -abs(z)


def _heat_fold_errors(ids: np.ndarray, idx: np.ndarray,
                      errors: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Held-out squared errors of the rows ``idx`` (heat ids ``ids``) without and with a model term, ``CV_FOLDS``
    folds of whole heats: ``errors(train rows, test rows)`` fits both models on the one and scores the other."""
    fold = heat_folds(ids)
    without, with_term = np.zeros(len(idx)), np.zeros(len(idx))
    for f in np.unique(fold):
        without[fold == f], with_term[fold == f] = errors(idx[fold != f], idx[fold == f])
    return without, with_term


def _unseen_share(sm: StageModels, name: str, x: np.ndarray, y: np.ndarray, lag: np.ndarray, rows: np.ndarray,
                  held: Sequence[int]) -> tuple[float, np.ndarray]:
    """(share, coefficients of ``x``) of the model with the previous stage's input ``lag`` as one more column,
    fitted on ``rows``: the share by least squares on what ``x`` leaves of both (Frisch-Waugh: the joint fit's
    coefficient, with no prior on it), the rest as ``_fit_coef`` on the change less the share's part."""
    xr, yr, lr = x[rows], y[rows], lag[rows]
    left = lr - xr @ np.linalg.lstsq(xr, lr, rcond=None)[0]
    share = float(left @ yr / (left @ left)) if left @ left > 1e-18 else 0.0
    return share, _fit_coef(sm.cfg, name, xr, yr - share * lr, len(sm.recovery_features), held)


def _unseen_holds(sm: StageModels, name: str, stages: pd.DataFrame, x: np.ndarray, y: np.ndarray, lag: np.ndarray,
                  rows: np.ndarray, held: Sequence[int]) -> tuple[bool, float, float]:
    """Whether what a stage's closing sample has not seen of its input (``lag``: the previous stage's nominal
    input of each row) lowers the squared error of the stage change on held-out heats (``CV_FOLDS``-fold, whole
    heats per fold, on ``rows``, at ``CV_Z`` heat-clustered se) with the sign of the physics: an element not yet
    mixed shows later (share in (0, 1]); a stratified bath's dip over-reads the arc's rise and the next stage
    reads it back (share in [-1, 0)). (kept, z of the gain, share fitted on ``rows``). A share of the other sign
    is something else (today's operators heating less after a big stage, say), not a reading that lags."""
    idx = np.flatnonzero(rows & np.isfinite(y))
    if not np.any(lag[idx] != 0.0):
        return False, math.nan, 0.0
    ids = stages[KEY].astype(str).to_numpy()[idx]

    def errors(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        without = _fit_coef(sm.cfg, name, x[train], y[train], len(sm.recovery_features), held)
        share, coef = _unseen_share(sm, name, x, y, lag, train, held)
        return (y[test] - x[test] @ without) ** 2, (y[test] - share * lag[test] - x[test] @ coef) ** 2

    kept, z = holds_out_of_sample(*_heat_fold_errors(ids, idx, errors), ids)
    share = _unseen_share(sm, name, x, y, lag, idx, held)[0]
    physical = 0.0 < share <= 1.0 if name != TEMPERATURE else -1.0 <= share < 0.0
    return kept and physical, z if physical else -abs(z), share if kept and physical else 0.0


def _fit_outcome(sm: StageModels, name: str, stages: pd.DataFrame, z: np.ndarray,
                 cal_ids: set[str], ctx_x: np.ndarray | None = None) -> OutcomeModel:
    """The outcome's model, fitted on the core of the history where it shows gross readings
    (``optimizer.stages.gross``): the stages whose closing reading is suspect on a side that shows them, and the
    stages that start from such a reading, are left out, so that the measurement variance, the heat's effects and
    the intervals are the good readings' (the advisor weighs a suspect reading against their spread). A model
    fitted on every stage is widened by the gross readings (moments of errors of 10-25 sd), enough to hide them:
    the first look standardises its errors robustly (``_robust``); each core model then finds the suspects anew
    with its own errors, up to ``CORE_PASSES`` times, and the gross shares are learned from every stage under the
    last. The model fitted on every stage where no side shows gross readings."""
    model = _fit_once(sm, name, stages, z, cal_ids, ctx_x)
    x, y = _change_under(sm, model, name, stages, z, ctx_x)
    errors = _robust(_row_errors(sm, model, stages, x, y), stages)
    gross = learn_gross(y - x @ model.coef, errors, stages[KEY].astype(str).to_numpy(), stages["stage_no"].to_numpy())
    if not gross.kept:
        return model
    core, best = np.ones(len(stages), bool), model
    for _ in range(CORE_PASSES):
        nxt = ~_suspect_rows(stages, errors, gross)
        if np.array_equal(nxt, core):
            break
        core = nxt
        fitted = _fit_once(sm, name, stages[core], z[core], cal_ids, None if ctx_x is None else ctx_x[core])
        x, y = _change_under(sm, fitted, name, stages, z, ctx_x)
        errors = _row_errors(sm, fitted, stages, x, y)
        fitted.gross = gross = learn_gross(y - x @ fitted.coef, errors, stages[KEY].astype(str).to_numpy(),
                                           stages["stage_no"].to_numpy())
        if not gross.kept:
            break
        best = fitted
        best.core_share = float(core.mean())
    return best


def _fit_once(sm: StageModels, name: str, stages: pd.DataFrame, z: np.ndarray,
              cal_ids: set[str], ctx_x: np.ndarray | None = None) -> OutcomeModel:
    x = _design(sm, name, stages, z)
    y = (stages[AFTER + name] - stages[BEFORE + name]).to_numpy(float)
    ids = stages[KEY].astype(str).to_numpy()
    fit_rows = ~np.isin(ids, list(cal_ids)) if cal_ids else np.ones(len(y), bool)
    fade = _fade(sm, name, stages, y)
    y = y + fade.rate_per_min * _level_minutes(name, stages)  # the rest of the model sees the stage without it
    if fade.arc_rate_per_min > 0.0:
        y = y + fade.arc_rate_per_min * _level_minutes(name, stages, arc=True)
    kept, gain_z = (_bound_oxygen_holds(sm, name, stages, x, y, fit_rows)
                    if name != TEMPERATURE and "bound_oxygen" in sm.recovery_features else (False, math.nan))
    held = () if kept or "bound_oxygen" not in sm.recovery_features or name == TEMPERATURE else \
        (sm.recovery_features.index("bound_oxygen"),)
    lag = _previous_input(sm.cfg, name, stages)
    unseen_kept, unseen_z, unseen = _unseen_holds(sm, name, stages, x, y, lag, fit_rows, held)
    y = y - unseen * lag  # the rest of the model sees the stage without what the previous one showed late
    residual, check = None, None
    if ctx_x is not None:  # the physics on the earlier heats, the trees on its residuals, scored on the later
        resid = y - x @ _fit_coef(sm.cfg, name, x[fit_rows], y[fit_rows], len(sm.recovery_features), held)
        if np.var(y[fit_rows]) > 1e-12:  # else nothing to learn (an element no stage changes)
            residual, offset, check = learn_residual(ctx_x, resid, fit_rows)
            y = y - offset  # the physics and its intervals below see what the trees leave
    model = _fit_on(sm, name, stages, x, y, fit_rows, held)
    drift_z, drift_gain, drift_pairs = math.nan, math.nan, 0
    if cal_ids and name != TEMPERATURE:  # the drift only where the history identifies it (effects.py)
        with_drift = _fit_on(sm, name, stages, x, y, fit_rows, held, drift=True)
        drift_z, drift_pairs = with_drift.drift_z, with_drift.drift_pairs
        if drift_z >= DRIFT_MIN_Z and drift_pairs >= DRIFT_MIN_PAIRS:  # only then is the held-out score asked
            drift_gain = _updated_score(sm, with_drift, stages, x, y, ~fit_rows) - \
                _updated_score(sm, model, stages, x, y, ~fit_rows)
            if drift_gain > 0.0:
                model = with_drift
    drift = _has_drift(model)
    if cal_ids:  # calibrate the sd on the later heats, then refit on everything and keep the scales
        z = _standardised_errors(sm, model, name, stages, x, y, ~fit_rows)
        scale = _calibration_scale(z, 1.0)
        trim = stages["stage_no"].to_numpy()[~fit_rows] > 1
        model = _fit_on(sm, name, stages, x, y, np.ones(len(y), bool), held, drift)
        model.scale = scale
        model.stage_scale = {kind: _calibration_scale(z[trim == kind], scale) for kind in (False, True)}
    model.residual, model.residual_check = residual, check
    model.fade = fade
    model.bound_oxygen_z, model.bound_oxygen_kept = gain_z, kept
    model.drift_z, model.drift_gain, model.drift_kept, model.drift_pairs = drift_z, drift_gain, drift, drift_pairs
    model.unseen, model.unseen_z, model.unseen_kept = unseen, unseen_z, unseen_kept
    model.gross = _gross(sm, model, stages, x, y)
    return model


def _change_under(sm: StageModels, model: OutcomeModel, name: str, stages: pd.DataFrame, z: np.ndarray,
                  ctx_x: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(design, stage change as the physics sees it) of every row of ``stages`` under ``model``'s learned fade,
    late-shown input and context residual (what ``_fit_once`` takes off the measured change before the physics)."""
    x = _design(sm, name, stages, z)
    y = (stages[AFTER + name] - stages[BEFORE + name]).to_numpy(float)
    y = y + model.fade.rate_per_min * _level_minutes(name, stages)
    if model.fade.arc_rate_per_min > 0.0:
        y = y + model.fade.arc_rate_per_min * _level_minutes(name, stages, arc=True)
    y = y - model.unseen * _previous_input(sm.cfg, name, stages)
    if model.residual is not None and ctx_x is not None:
        y = y - model.residual.predict(ctx_x)
    return x, y


def _suspect_rows(stages: pd.DataFrame, errors: np.ndarray, gross: GrossReadings) -> np.ndarray:
    """Rows whose standardised error is beyond ``SUSPECT_SD`` on a side ``gross`` keeps (the closing reading is
    suspect), and the rows of the same heat that start from such a reading."""
    bad = ((errors > SUSPECT_SD) & gross.above.kept) | ((errors < -SUSPECT_SD) & gross.below.kept)
    ids = stages[KEY].astype(str).to_numpy()
    stage_no = stages["stage_no"].to_numpy()
    after_bad = {(i, n + 1) for i, n in zip(ids[bad], stage_no[bad], strict=True)}
    follows = np.array([(i, n) in after_bad for i, n in zip(ids, stage_no, strict=True)], dtype=bool)
    return bad | follows


def _robust(errors: np.ndarray, stages: pd.DataFrame) -> np.ndarray:
    """Standardised errors rescaled so that, per stage kind (main, trim), their median absolute value is a normal
    one's (0.674): what the bulk of the stages says the spread is, whatever a few gross readings make of the
    moments."""
    trim = stages["stage_no"].to_numpy() > 1
    out = errors.copy()
    for kind in (False, True):
        rows = (trim == kind) & np.isfinite(errors)
        mad = float(np.median(np.abs(errors[rows]))) if rows.any() else 0.0
        if mad > 0.0:
            out[trim == kind] = errors[trim == kind] * stats.norm.ppf(0.75) / mad
    return out


def _row_errors(sm: StageModels, model: OutcomeModel, stages: pd.DataFrame, x: np.ndarray, y: np.ndarray
                ) -> np.ndarray:
    """Every row's standardised error under ``model``, with its calibrated interval scale (main stage or trim)."""
    trim = stages["stage_no"].to_numpy() > 1
    scale = np.where(trim, model.scale_for(True), model.scale_for(False))
    return _standardised_errors(sm, model, model.name, stages, x, y, np.ones(len(y), bool)) / scale


def _gross(sm: StageModels, model: OutcomeModel, stages: pd.DataFrame, x: np.ndarray, y: np.ndarray) -> GrossReadings:
    """How often the history's far-off readings of this outcome are taken back by the next sample
    (``optimizer.stages.gross``), from the final model's residuals, standardised with its calibrated sd."""
    return learn_gross(y - x @ model.coef, _row_errors(sm, model, stages, x, y), stages[KEY].astype(str).to_numpy(),
                       stages["stage_no"].to_numpy())


def _level_minutes(name: str, stages: pd.DataFrame, arc: bool = False) -> np.ndarray:
    """Level at the stage's start times its minutes, or its arc minutes (``arc``): the fade's regressors (0 for
    the temperature)."""
    if name == TEMPERATURE:
        return np.zeros(len(stages))
    return stages[BEFORE + name].to_numpy(float) * stages["arc_time_min" if arc else "minutes"].to_numpy(float)


def _fade(sm: StageModels, name: str, stages: pd.DataFrame, change: np.ndarray) -> Fade:
    """The holding-time fade of an element, from the stages that add none of it (``optimizer.stages.fade``)."""
    if name == TEMPERATURE:
        return NO_FADE
    el = sample_element(name)
    added = sum((stages[material_col(m.name)].to_numpy(float) > 0 for m in carriers(sm.cfg, el)),
                np.zeros(len(stages), bool))
    return learn_fade(change, stages[BEFORE + name].to_numpy(float), stages["minutes"].to_numpy(float),
                      np.asarray(added, bool), stages["stage_no"].to_numpy(), stages[KEY].astype(str).to_numpy(),
                      stages["grade"].astype(str).to_numpy(), stages["arc_time_min"].to_numpy(float))


def _calibration_scale(z: np.ndarray, default: float) -> float:
    """The factor on the sd that makes the 90 % interval cover 90 % of the standardised errors ``z`` (at least
    0.5); ``default`` with fewer than ``MIN_CALIBRATION`` errors."""
    if len(z) < MIN_CALIBRATION:
        return default
    return max(float(np.quantile(np.abs(z), 0.9) / stats.norm.ppf(0.95)), 0.5)


def _effect_design(name: str, x: np.ndarray, coef: np.ndarray, n_recovery: int, minutes: np.ndarray,
                   drift: bool) -> np.ndarray:
    """Random-effect regressors of every row, from the fixed-effect design (same as ``effect_x``): for the
    temperature the heat's arc efficiency and loss per minute; for an element its recovery (on what the stage
    adds) and, with ``drift``, its own drift per minute (a loss or pick-up that does not scale with the
    additions)."""
    if name == TEMPERATURE:
        return np.column_stack([x[:, 0], -x[:, 2]])
    rec = np.clip(x[:, :n_recovery] @ coef[:n_recovery], 0.0, None)
    return np.column_stack([rec, -minutes]) if drift else rec[:, None]


def _fit_on(sm: StageModels, name: str, stages: pd.DataFrame, x: np.ndarray, y: np.ndarray,
            rows: np.ndarray, held: Sequence[int] = (), drift: bool = False) -> OutcomeModel:
    n_common = len(sm.recovery_features)
    coef = _fit_coef(sm.cfg, name, x[rows], y[rows], n_common, held)
    resid = y - x @ coef
    own = () if name == TEMPERATURE else tuple(m.name for m in carriers(sm.cfg, sample_element(name)))
    model = OutcomeModel(name, coef, np.zeros((1, 1)), (0.0, 0.0), {False: (1.0, 0.0), True: (1.0, 0.0)},
                         rmse=float(np.sqrt(np.mean(resid[rows] ** 2))), carriers=own)
    ex = _effect_design(name, x, coef, n_common + len(own), stages["minutes"].to_numpy(float), drift)
    level = stages[BEFORE + name].to_numpy(float) * (name != TEMPERATURE)  # a dip's error does not scale with T
    effects = fit_effects(resid, ex, stages, level, rows)
    model.effect_cov, model.meas_var = effects.cov, effects.meas_var
    model.drift_z, model.drift_pairs = (effects.last_z, effects.n_apart) if drift else (math.nan, 0)
    after = stages[AFTER + name].to_numpy(float) * (name != TEMPERATURE)
    explained = np.einsum("ij,jk,ik->i", ex, model.effect_cov, ex)
    trim = stages["stage_no"].to_numpy() > 1
    for kind in (False, True):
        r = rows & (trim == kind)
        if r.sum() < 5:
            model.stage_var[kind] = model.stage_var[not kind] if (rows & (trim != kind)).sum() >= 5 else \
                (float(np.var(resid[rows])), 0.0)
            continue
        a = np.column_stack([np.ones(r.sum()), after[r] ** 2])
        v = np.linalg.lstsq(a, resid[r] ** 2 - explained[r], rcond=None)[0]
        if v[0] <= 0 or v[1] < 0:  # fall back to a constant variance
            v = np.array([max(float(np.mean(resid[r] ** 2 - explained[r])), float(np.var(resid[r])) * 0.1), 0.0])
        # a stage change is the difference of two measurements: its noise is at least both their errors (near zero
        # the least-squares v0, set by the squared residuals at high levels, can fall below them)
        model.stage_var[kind] = (max(float(v[0]), 2.0 * model.meas_var[0]), float(v[1]))
    return model


def _standardised_errors(sm: StageModels, model: OutcomeModel, name: str, stages: pd.DataFrame,
                         x: np.ndarray, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(measured change - predicted) / predicted sd on ``rows``, population model (no heat update)."""
    pred = x[rows] @ model.coef
    ex = _effect_design(name, x[rows], model.coef, len(sm.recovery_features) + len(model.carriers),
                        stages["minutes"].to_numpy(float)[rows], _has_drift(model))
    level = stages[AFTER + name].to_numpy(float)[rows] * (name != TEMPERATURE)
    trim = stages["stage_no"].to_numpy()[rows] > 1
    v = np.where(trim, model.stage_var[True][0] + model.stage_var[True][1] * level ** 2,
                 model.stage_var[False][0] + model.stage_var[False][1] * level ** 2)
    var = np.einsum("ij,jk,ik->i", ex, model.effect_cov, ex) + np.maximum(v, 1e-12)
    return (y[rows] - pred) / np.sqrt(var)


def _has_drift(model: OutcomeModel) -> bool:
    return model.name != TEMPERATURE and model.effect_cov.shape[0] == 2


def _updated_score(sm: StageModels, model: OutcomeModel, stages: pd.DataFrame, x: np.ndarray, y: np.ndarray,
                    rows: np.ndarray) -> float:
    """Log score of the heat-updated forecasts of the heats on ``rows`` under ``model``'s coefficients, effects
    and variances (``optimizer.stages.effects.updated_log_score``; the level-scaled variances as ``forecast``
    uses them, a stage's at least the errors of its two measurements, so that the shared ones never make the
    covariance indefinite)."""
    name = model.name
    ex = _effect_design(name, x, model.coef, len(sm.recovery_features) + len(model.carriers),
                        stages["minutes"].to_numpy(float), _has_drift(model))
    after = stages[AFTER + name].to_numpy(float) * (name != TEMPERATURE)
    before = stages[BEFORE + name].to_numpy(float) * (name != TEMPERATURE)
    trim = stages["stage_no"].to_numpy() > 1
    shared = np.array([model.meas_variance(float(a)) for a in after])
    both = shared + np.array([model.meas_variance(float(b)) for b in before])
    stage_var = np.maximum([model.variance(bool(t), float(a)) for t, a in zip(trim, after, strict=True)], both)
    return updated_log_score(y - x @ model.coef, ex, model.effect_cov, stage_var, shared, stages, rows)
