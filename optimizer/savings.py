"""One definition of each saving against today's practice, used by the report (and meant for the CLI and demo).

A plan (one heat's additions, arc energy and samples) is costed by :func:`plan_cost` with the plant's prices:

- material money  = sum over materials of price_per_kg x kg
- energy money    = energy.price_per_kWh x arc kWh
- sampling money  = sampling.cost_per_sample x samples
- money           = material + energy + sampling money (what the plant pays)
- CO2 t           = (sum of co2_kg_per_kg x kg + energy.co2_kg_per_kWh x kWh) / 1000
- CO2 charge      = objective.co2_price_per_t x CO2 t: an *internal* charge the optimizer weighs, not paid money;
  it is always shown separately and labelled, never folded into "money".

Today's practice is the level-2 calculation (:class:`~optimizer.simulator.policies.Level2Policy`) for the same
heats, costed by the same function. A saving is today's figure minus ours, over the heats that got a plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from optimizer.config import PlantConfig
from optimizer.recommendation import Recommendation
from optimizer.schema import material_of
from optimizer.simulator.policies import Level2Policy


@dataclass(frozen=True)
class PlanCost:
    """Money (plant currency) and CO2 of one plan or a sum of plans."""

    material_money: float = 0.0
    energy_money: float = 0.0
    sampling_money: float = 0.0
    co2_t: float = 0.0
    co2_charge: float = 0.0  # internal charge at the objective's CO2 price: not money paid

    @property
    def money(self) -> float:
        """Material + energy + sampling money (without the internal CO2 charge)."""
        return self.material_money + self.energy_money + self.sampling_money

    def __add__(self, other: PlanCost) -> PlanCost:
        return PlanCost(self.material_money + other.material_money, self.energy_money + other.energy_money,
                        self.sampling_money + other.sampling_money, self.co2_t + other.co2_t,
                        self.co2_charge + other.co2_charge)


def plan_cost(cfg: PlantConfig, additions_kg: Mapping[str, float], arc_energy_kWh: float, n_samples: float,
              co2_price_per_t: float | None = None) -> PlanCost:
    """Cost one heat's plan (see module doc); ``co2_price_per_t`` defaults to the objective's price."""
    price = cfg.objective.co2_price_per_t if co2_price_per_t is None else co2_price_per_t
    mats = {m: float(kg) for m, kg in additions_kg.items() if kg}
    co2_kg = sum(cfg.material(m).co2_kg_per_kg * kg for m, kg in mats.items()) \
        + cfg.energy.co2_kg_per_kWh * arc_energy_kWh
    return PlanCost(material_money=sum(cfg.material(m).price_per_kg * kg for m, kg in mats.items()),
                    energy_money=cfg.energy.price_per_kWh * arc_energy_kWh,
                    sampling_money=cfg.sampling.cost_per_sample * n_samples,
                    co2_t=co2_kg / 1000, co2_charge=price * co2_kg / 1000)


def total(costs: Iterable[PlanCost]) -> PlanCost:
    """Sum of plans."""
    out = PlanCost()
    for c in costs:
        out = out + c
    return out


def practice_costs(cfg: PlantConfig, heats: Sequence) -> dict[str, PlanCost]:  # noqa: ANN001
    """Today's practice (level-2 calculation) per heat id, costed by :func:`plan_cost`."""
    pol = Level2Policy(cfg)
    out = {}
    for h in heats:
        p = pol.decide(h)
        out[h.heat_id] = plan_cost(cfg, p.additions_kg, p.arc_energy_kWh, p.n_samples)
    return out


@dataclass(frozen=True)
class Savings:
    """Ours against today's practice over the same (planned) heats; positive saving = we spend less."""

    ours: PlanCost
    today: PlanCost
    heats: int
    co2_price_per_t: float

    def saved(self, field: str) -> float:
        """today - ours for one PlanCost field or ``money``."""
        return getattr(self.today, field) - getattr(self.ours, field)

    def pct(self, field: str) -> float:
        """Saving in % of today's figure (nan when today's is 0)."""
        base = getattr(self.today, field)
        return 100 * self.saved(field) / base if base else float("nan")


def day_savings(cfg: PlantConfig, rec: Recommendation, practice: Mapping[str, PlanCost]) -> Savings:
    """Savings of a recommendation's planned heats against today's practice for those heats.

    ``practice`` maps heat id to today's plan cost (:func:`practice_costs`). Heats without a plan run today's
    practice, so they save nothing and are left out of both sides.
    """
    ok = [h for h in rec.heats if h.feasible]
    missing = [h.heat_id for h in ok if h.heat_id not in practice]
    if missing:
        raise ValueError(f"no today's-practice cost for planned heats {missing}")
    ours = total(plan_cost(cfg, h.additions_kg, h.arc_energy_kWh, h.n_samples) for h in ok)
    today = total(practice[h.heat_id] for h in ok)
    return Savings(ours, today, len(ok), cfg.objective.co2_price_per_t)


def practice_from_frame(cfg: PlantConfig, baseline) -> dict[str, PlanCost]:  # noqa: ANN001
    """Today's practice per heat from a baseline table (columns heat_id, add_<m>_kg, energy_kWh, samples), as
    written by the nightly run."""
    out = {}
    for row in baseline.to_dict("records"):
        adds = {mat: float(v) for c, v in row.items() if (mat := material_of(c)) is not None and v == v}
        out[str(row["heat_id"])] = plan_cost(cfg, adds, float(row["energy_kWh"]), float(row["samples"]))
    return out
