"""Recommendations: what the optimizer hands to engineers and the DCS.

A :class:`Recommendation` is one night's answer for a schedule: one :class:`HeatRecommendation` per
planned heat (setpoints with units, predicted outcome with intervals, cost, CO2) plus provenance
(model versions, solver status and gap, created / valid-until times). It round-trips through JSON
(``to_json``/``from_json``) and flattens to one row per heat for Parquet (``to_frame``).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from optimizer.schema import material_col

Status = Literal["proposed", "approved", "rejected", "expired"]


class Interval(BaseModel):
    """Prediction with a calibrated interval at the grade's confidence."""

    model_config = ConfigDict(frozen=True)
    predicted: float
    low: float
    high: float


class HeatRecommendation(BaseModel):
    """Setpoints and expected outcome of one heat. ``feasible=False`` heats carry no setpoints."""

    model_config = ConfigDict(frozen=True)
    heat_id: str
    grade: str
    steel_weight_t: float
    feasible: bool = True
    additions_kg: dict[str, float] = Field(default_factory=dict)
    arc_energy_kWh: float = 0.0
    n_samples: int = 0
    predicted_wt_pct: dict[str, Interval] = Field(default_factory=dict)
    predicted_temperature_degC: Interval | None = None
    expected_cost: float = 0.0
    expected_co2_kg: float = 0.0
    baseline_cost: float | None = None
    baseline_co2_kg: float | None = None
    diagnosis: str = ""
    # probability each limit is held with; below the grade's confidence only for a grade with min_confidence
    # whose window is narrower than the models' band (then ``diagnosis`` says so)
    confidence: float | None = None


class UseRange(BaseModel):
    """The day's use of one quantity: the point plan's, and the mean and low/high quantiles (``DayUse.quantiles``)
    over the arrival states the heats may have."""

    model_config = ConfigDict(frozen=True)
    plan: float
    expected: float
    low: float
    high: float


class MaterialUse(UseRange):
    """One material's day use (kg) against the day's stock (kg; None: no limit set): ``p_over_stock`` is the
    share of the drawn days that need more than the stock; ``at_risk`` when the high end does."""

    stock: float | None = None
    p_over_stock: float = 0.0
    at_risk: bool = False


class DayUse(BaseModel):
    """The night plan as the day's plan: expected material (kg) and arc energy (kWh) for the day with ranges,
    from the spread of the heats' arrival states (optimizer/dosing/ranges.py says how), and the inventory risks."""

    model_config = ConfigDict(frozen=True)
    quantiles: tuple[float, float] = (0.1, 0.9)
    draws_per_heat: int = 0
    days_drawn: int = 0
    materials_kg: dict[str, MaterialUse] = Field(default_factory=dict)
    energy_kWh: UseRange | None = None
    risks: list[str] = Field(default_factory=list)  # one line per material at risk, with its range and P(short)
    no_plan_draws: int = 0  # drawn arrival states for which the program found no plan (their use is not counted)
    method: str = ""


class Recommendation(BaseModel):
    """One optimization run's recommendations for a schedule of heats."""

    model_config = ConfigDict(frozen=True)
    recommendation_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    plant: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    valid_until: datetime
    status: Status = "proposed"
    status_by: str = ""
    model_versions: dict[str, str] = Field(default_factory=dict)
    solver: str = "highs"
    solver_status: str = ""
    mip_gap: float | None = None
    currency: str = "USD"
    heats: list[HeatRecommendation]
    # the night plan's shadow price of each scarce material (currency per kg), for the heat-by-heat advisor
    shadow_price_per_kg: dict[str, float] = Field(default_factory=dict)
    day_use: DayUse | None = None

    @classmethod
    def new(cls, plant: str, heats: list[HeatRecommendation], valid_h: float, **kw: Any) -> Recommendation:
        """A fresh proposed recommendation valid for ``valid_h`` hours from now (``kw``: more fields, which
        pydantic validates)."""
        now = datetime.now(UTC)
        return cls(plant=plant, created_at=now, valid_until=now + timedelta(hours=valid_h), heats=heats, **kw)

    def is_expired(self, now: datetime | None = None) -> bool:
        """True once ``valid_until`` has passed."""
        return (now or datetime.now(UTC)) >= self.valid_until

    def to_json(self, path: str | Path) -> Path:
        """Write as pretty JSON; returns the path."""
        p = Path(path)
        p.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        return p

    @classmethod
    def from_json(cls, path: str | Path) -> Recommendation:
        """Read a recommendation written by ``to_json``."""
        return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))

    def to_frame(self) -> pd.DataFrame:
        """One row per heat: setpoints ``add_<material>_kg``, ``arc_energy_kWh``, ``n_samples``, predictions."""
        rows = []
        for h in self.heats:
            row: dict[str, object] = {
                "recommendation_id": self.recommendation_id,
                "heat_id": h.heat_id,
                "grade": h.grade,
                "steel_weight_t": h.steel_weight_t,
                "feasible": h.feasible,
                "arc_energy_kWh": h.arc_energy_kWh,
                "n_samples": h.n_samples,
                "expected_cost": h.expected_cost,
                "expected_co2_kg": h.expected_co2_kg,
                "confidence": h.confidence,
                "diagnosis": h.diagnosis,
            }
            row.update({material_col(m): kg for m, kg in h.additions_kg.items()})
            for el, iv in h.predicted_wt_pct.items():
                row.update({f"pred_{el}_wt_pct": iv.predicted, f"pred_{el}_low": iv.low, f"pred_{el}_high": iv.high})
            if h.predicted_temperature_degC is not None:
                t = h.predicted_temperature_degC
                row.update({"pred_temperature_degC": t.predicted, "pred_temperature_low": t.low,
                            "pred_temperature_high": t.high})
            rows.append(row)
        return pd.DataFrame(rows)
