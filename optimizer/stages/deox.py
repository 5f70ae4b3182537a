"""Oxygen already bound: the deoxidiser a heat received in its earlier stages, as a context of its next stage.

In a ladle the first (main) additions burn the dissolved oxygen; what is added later (Al wire after SiMn, every
trim) loses less of itself to oxidation and recovers more (DOMAIN.md section 3: "deoxidise with Al/Si before
alloying"). The plant's own log always has what went in before a stage, so the stage models can carry it as a
context term of the recovery: the oxygen that the Al, Si and Mn added so far can bind, from the oxide's
stoichiometry (Al2O3, SiO2, MnO), in kg of oxygen per t of steel. It is fixed when a stage is decided, so the
decision stays linear.

Whether a plant's history shows the term is tested per element by heat-grouped cross-validation
(:func:`holds_out_of_sample`); where it does not, its coefficient is held at 0 and the model is what it was.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from optimizer.config import PlantConfig

O_G_PER_MOL = 15.999
# kg of oxygen one kg of the element binds in its deoxidation product (standard atomic masses)
OXYGEN_PER_KG: dict[str, float] = {
    "Al": 3 * O_G_PER_MOL / (2 * 26.982),  # 2 Al + 3 O -> Al2O3: 0.889
    "Si": 2 * O_G_PER_MOL / 28.085,  # Si + 2 O -> SiO2: 1.139
    "Mn": O_G_PER_MOL / 54.938,  # Mn + O -> MnO: 0.291
}
CV_FOLDS = 5
CV_Z = 2.0  # the term is kept when it lowers the held-out squared error at 2 heat-clustered standard errors
MIN_CV_HEATS = 50


def oxygen_bound_kg_per_t(cfg: PlantConfig, additions_kg: Mapping[str, float], steel_weight_t: float) -> float:
    """kg of oxygen per t of steel that the Al, Si and Mn in ``additions_kg`` can bind (their full content,
    before any recovery: what reacts is what goes in)."""
    total = 0.0
    for mat in cfg.materials:
        kg = float(additions_kg.get(mat.name, 0.0))
        if kg > 0.0:
            total += kg * sum(mat.composition_wt_pct.get(el, 0.0) / 100.0 * f for el, f in OXYGEN_PER_KG.items())
    return total / steel_weight_t


def oxygen_bound_per_kg(cfg: PlantConfig) -> dict[str, float]:
    """kg of oxygen one kg of each material can bind (its Al, Si and Mn)."""
    return {m.name: sum(m.composition_wt_pct.get(el, 0.0) / 100.0 * f for el, f in OXYGEN_PER_KG.items())
            for m in cfg.materials}


def holds_out_of_sample(sq_err_without: np.ndarray, sq_err_with: np.ndarray,
                        heat_ids: np.ndarray) -> tuple[bool, float]:
    """Whether a model term lowers the held-out squared error: per heat the sum of its stages' squared errors
    without and with the term (heats are independent, their stages are not); kept when the mean gain is positive
    at ``CV_Z`` standard errors over at least ``MIN_CV_HEATS`` heats. Returns (kept, z of the gain)."""
    _, group = np.unique(heat_ids, return_inverse=True)
    gain = np.bincount(group, weights=sq_err_without - sq_err_with)
    if len(gain) < MIN_CV_HEATS:
        return False, float("nan")
    se = float(np.std(gain, ddof=1) / np.sqrt(len(gain)))
    z = float(np.mean(gain) / se) if se > 0 else 0.0
    return z >= CV_Z, z


def heat_folds(heat_ids: np.ndarray, k: int = CV_FOLDS) -> np.ndarray:
    """A fold number per row, whole heats to one fold (deterministic: heats in order of first appearance)."""
    _, first, group = np.unique(heat_ids, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))  # heat order of first appearance
    return (rank % k)[group]
