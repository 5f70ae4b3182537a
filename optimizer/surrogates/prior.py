"""Today's level-2 calculation as a surrogate: fixed recoveries and heat-balance priors from the config.

It has the same shape as the learned surrogates (``linear_terms`` given a heat's context, ``halfwidth`` by
number of samples), so the dosing program runs before any model is trained and tests can check the
program against closed-form answers. Mass balance, in wt%:

    final_El = initial_El + sum_m add_m_kg * content_m,El[wt%] * recovery_m,El / (1000 * steel_t)

Heat balance, in degC (eta = arc efficiency, c = steel_heat_kWh_per_t_per_degC, loss per minute):

    final_T = initial_T + eta * E_kWh / (c * steel_t) - sum_m chill_m * add_m_kg / steel_t
              - loss * (base_min + n_samples * min_per_sample + eta * E_kWh / (c * steel_t) / max_rate)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from optimizer.config import PlantConfig
from optimizer.schema import TEMPERATURE, element_col, element_of, material_col

BASE_TREATMENT_MIN = 20.0


def decision_features(cfg: PlantConfig) -> list[str]:
    """Canonical decision columns: one addition per material, arc energy, number of samples."""
    return [material_col(m.name) for m in cfg.materials] + ["arc_energy_kWh", "n_samples"]


@dataclass
class PriorOutcome:
    """One outcome predicted by fixed priors; linear in the decisions given the context."""

    outcome: str
    cfg: PlantConfig
    absolute_sd: float
    residual_model: None = None
    context_features: list[str] = field(default_factory=list)
    decision_features: list[str] = field(default_factory=list)
    residual_features: list[str] = field(default_factory=list)

    def linear_terms(self, context: Mapping[str, float | str]) -> tuple[float, dict[str, float]]:
        """Constant and coefficient per decision feature for this heat's context."""
        w = float(context["steel_weight_t"])
        if self.outcome == TEMPERATURE:
            return _temperature_terms(self.cfg, context, w)
        el = element_of(self.outcome)
        if el is None:
            raise ValueError(f"prior outcome {self.outcome!r} is neither {TEMPERATURE} nor final_<El>_wt_pct")
        coefs = {
            material_col(m.name): m.composition_wt_pct.get(el, 0.0) * m.prior_recovery.get(el, 0.0) / (1000.0 * w)
            for m in self.cfg.materials
        }
        return float(context[element_col("initial", el)]), coefs

    def halfwidth(self, n_samples: int, confidence: float, grade: str | None = None) -> float:
        """Assumed interval half-width (the same for every ``grade``); more samples allow more trims, so it
        shrinks as 1/sqrt(n)."""
        del grade
        from scipy.stats import norm

        z = float(norm.ppf(0.5 + confidence / 2))
        return z * self.absolute_sd / max(n_samples, 1) ** 0.5


def _temperature_terms(cfg: PlantConfig, context: Mapping[str, float | str], w: float):
    e = cfg.energy
    rise_per_kwh = e.arc_efficiency_prior / (e.steel_heat_kWh_per_t_per_degC * w)
    heat_min_per_kwh = rise_per_kwh / e.max_heating_rate_degC_per_min
    coefs = {material_col(m.name): -m.chill_degC_t_per_kg / w for m in cfg.materials}
    coefs["arc_energy_kWh"] = rise_per_kwh - e.heat_loss_prior_degC_per_min * heat_min_per_kwh
    coefs["n_samples"] = -e.heat_loss_prior_degC_per_min * cfg.sampling.minutes_per_sample
    const = float(context["initial_temperature_degC"]) - e.heat_loss_prior_degC_per_min * BASE_TREATMENT_MIN
    return const, coefs


@dataclass
class PriorSurrogates:
    """All outcomes the grades constrain, from config priors. ``domain`` is None: no data support known."""

    outcomes: dict[str, PriorOutcome]
    domain: None = None
    versions: dict[str, str] = field(default_factory=lambda: {"surrogates": "config-priors"})


PRIOR_SD_WT_PCT = {"C": 0.008, "Mn": 0.03, "Si": 0.02, "Al": 0.004, "P": 0.001, "S": 0.001, "Cr": 0.01}


def prior_surrogates(cfg: PlantConfig, temperature_sd_degC: float = 5.0) -> PriorSurrogates:
    """Surrogates for every constrained element and the final temperature, from the config's priors.

    The spreads (1 sigma at one sample) are placeholders of a typical level-2 practice, not learned values.
    """
    constrained = sorted({el for g in cfg.grades for el in g.chemistry_wt_pct}, key=cfg.elements.index)
    decisions = decision_features(cfg)
    outcomes = {
        element_col("final", el): PriorOutcome(element_col("final", el), cfg, PRIOR_SD_WT_PCT.get(el, 0.005),
                                               decision_features=decisions)
        for el in constrained
    }
    outcomes[TEMPERATURE] = PriorOutcome(TEMPERATURE, cfg, temperature_sd_degC, decision_features=decisions)
    return PriorSurrogates(outcomes=outcomes)
