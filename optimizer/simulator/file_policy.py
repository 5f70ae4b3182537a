"""Apply a recommendations JSON (``dosing optimize`` output) to simulated heats, by heat id.

The file must have been made from the same heats: ``dosing simulate --schedule-only --heats N --seed S``
then ``dosing evaluate --policy FILE.json --heats N --seed S``. Each recommended heat's grade and steel weight
are checked against the heat it is applied to, so a file made for other heats is refused, not silently applied.
Heats missing from the file or marked infeasible are an error naming them, unless a ``fallback`` policy is
given: then they run with it and their ids are listed in ``fallbacks`` (reported by ``evaluate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from optimizer.config import PlantConfig
from optimizer.errors import DataFileError
from optimizer.recommendation import HeatRecommendation, Recommendation
from optimizer.schedule import HeatContext
from optimizer.simulator.policies import HeatPlan, Policy

WEIGHT_TOLERANCE_T = 0.05


@dataclass
class RecommendationFilePolicy:
    """Setpoints from a recommendations file (see module doc)."""

    path: Path
    cfg: PlantConfig
    fallback: Policy | None = None
    name: str = "file"
    fallbacks: list[str] = field(default_factory=list)
    _by_id: dict[str, HeatRecommendation] | None = field(default=None, repr=False)

    def decide(self, context: HeatContext) -> HeatPlan:
        """The plan of one heat."""
        return self.decide_many([context])[0]

    def decide_many(self, contexts: Sequence[HeatContext]) -> list[HeatPlan]:
        """Plans for ``contexts`` from the file; see the module doc for missing, infeasible and mismatched heats."""
        by_id = self._load()
        _check_same_heats(self.path, contexts, by_id)
        unusable = [c.heat_id for c in contexts if c.heat_id not in by_id or not by_id[c.heat_id].feasible]
        if unusable and self.fallback is None:
            raise LookupError(
                f"{self.path}: no feasible setpoints for heats {unusable[:10]}{' ...' if len(unusable) > 10 else ''}"
                f" ({len(unusable)} of {len(contexts)}); make the recommendation from the same schedule (same "
                "--heats and --seed), or pass --fallback baseline to run today's practice on them (reported)")
        plans = []
        for c in contexts:
            h = by_id.get(c.heat_id)
            if h is None or not h.feasible:
                self.fallbacks.append(c.heat_id)
                plans.append(self.fallback.decide(c))  # type: ignore[union-attr]
                continue
            aims = {el: iv.predicted for el, iv in h.predicted_wt_pct.items()}
            t = h.predicted_temperature_degC.predicted if h.predicted_temperature_degC else None
            plans.append(HeatPlan(dict(h.additions_kg), h.arc_energy_kWh, h.n_samples, aims, t, source="file"))
        return plans

    def _load(self) -> dict[str, HeatRecommendation]:
        if self._by_id is None:
            try:
                rec = Recommendation.from_json(self.path)
            except FileNotFoundError:
                raise FileNotFoundError(f"recommendations file {self.path} not found") from None
            except (ValueError, ValidationError) as exc:
                raise DataFileError(f"{self.path}: not a recommendations JSON written by `dosing optimize`: "
                                    f"{str(exc).splitlines()[0]}") from None
            unknown = sorted({m for h in rec.heats for m in h.additions_kg} - set(self.cfg.material_names))
            if unknown:
                raise DataFileError(f"{self.path}: materials {unknown} are not in the plant config "
                                    f"{self.cfg.material_names}; was it made with another --config?")
            self._by_id = {h.heat_id: h for h in rec.heats}
        return self._by_id


def _check_same_heats(path: Path, contexts: Sequence[HeatContext], by_id: dict[str, HeatRecommendation]) -> None:
    bad = []
    for c in contexts:
        h = by_id.get(c.heat_id)
        if h is None:
            continue
        if h.grade != c.grade or abs(h.steel_weight_t - c.steel_weight_t) > WEIGHT_TOLERANCE_T:
            bad.append(f"{c.heat_id} (file: {h.grade} {h.steel_weight_t:g} t, heat: {c.grade} {c.steel_weight_t:g} t)")
    if bad:
        raise ValueError(f"{path}: the recommendations were made for other heats: {'; '.join(bad[:3])}"
                         f"{' ...' if len(bad) > 3 else ''} ({len(bad)} of {len(contexts)} differ); make the schedule "
                         "with `dosing simulate --schedule-only` and evaluate with the same --heats and --seed")
