"""Money and CO2 of one heat's plan: the one formula the dosing model, the simulator's evaluation, the savings
against today's practice (report, nightly, demo), the Pareto sweep, the price scenarios and the advisor share.

A plan (additions kg per material, arc energy kWh, samples) is costed with the plant's prices, read from the
config once into :class:`CostCoefficients`:

- material money  = sum over materials m of price_per_kg[m] x kg[m]
- energy money    = energy.price_per_kWh x arc kWh
- sampling money  = sampling.cost_per_sample x samples (probe + lab + its treatment minutes)
- money           = material + energy + sampling money (what the plant pays)
- CO2 kg          = sum over materials m of co2_kg_per_kg[m] x kg[m] + energy.co2_kg_per_kWh x kWh
- CO2 charge      = co2_price_per_t x CO2 kg / 1000: an *internal* charge the optimizer weighs, not paid money;
  it is always shown separately and labelled, never folded into "money".

Plain numbers go through :func:`plan_cost` (a :class:`PlanCost`) or the coefficient methods; the Pyomo model
builds its linear expressions from the same coefficients with :meth:`CostCoefficients.material_terms`,
:meth:`~CostCoefficients.co2_terms` and friends, which return ``(coefficient, variable)`` pairs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from optimizer.config import PlantConfig

V = TypeVar("V")  # a decision: a float, or a Pyomo variable or expression


@dataclass(frozen=True)
class CostCoefficients:
    """The plant's prices and CO2 factors per unit of each decision (money in the plant's currency)."""

    material_price_per_kg: Mapping[str, float]
    material_co2_kg_per_kg: Mapping[str, float]
    energy_price_per_kWh: float
    energy_co2_kg_per_kWh: float
    cost_per_sample: float
    co2_price_per_t: float  # internal CO2 charge (currency per t CO2), not money paid

    @classmethod
    def from_config(cls, cfg: PlantConfig, co2_price_per_t: float | None = None) -> CostCoefficients:
        """The config's prices; ``co2_price_per_t`` defaults to the objective's CO2 price."""
        return cls(material_price_per_kg={mt.name: mt.price_per_kg for mt in cfg.materials},
                   material_co2_kg_per_kg={mt.name: mt.co2_kg_per_kg for mt in cfg.materials},
                   energy_price_per_kWh=cfg.energy.price_per_kWh, energy_co2_kg_per_kWh=cfg.energy.co2_kg_per_kWh,
                   cost_per_sample=cfg.sampling.cost_per_sample,
                   co2_price_per_t=cfg.objective.co2_price_per_t if co2_price_per_t is None else co2_price_per_t)

    # -- terms for a linear expression (Pyomo variables, in the order given) --------------------------------
    def material_terms(self, additions: Mapping[str, V]) -> list[tuple[float, V]]:
        """(price per kg, addition) per material: material money = sum of coefficient x addition."""
        return [(self._price(m), x) for m, x in additions.items()]

    def material_co2_terms(self, additions: Mapping[str, V]) -> list[tuple[float, V]]:
        """(kg CO2 per kg, addition) per material: embodied CO2 kg = sum of coefficient x addition."""
        return [(self._co2(m), x) for m, x in additions.items()]

    # -- plain numbers -------------------------------------------------------------------------------------
    def material_money(self, additions_kg: Mapping[str, float]) -> float:
        """sum over materials of price_per_kg x kg (currency)."""
        return sum(c * kg for c, kg in self.material_terms(_nonzero(additions_kg)))

    def energy_money(self, arc_energy_kWh: float) -> float:
        """energy.price_per_kWh x kWh (currency)."""
        return self.energy_price_per_kWh * arc_energy_kWh

    def sampling_money(self, n_samples: float) -> float:
        """cost_per_sample x samples (currency)."""
        return self.cost_per_sample * n_samples

    def co2_kg(self, additions_kg: Mapping[str, float], arc_energy_kWh: float) -> float:
        """Embodied CO2 of the additions plus the arc energy's CO2 (kg)."""
        return sum(c * kg for c, kg in self.material_co2_terms(_nonzero(additions_kg))) \
            + self.energy_co2_kg_per_kWh * arc_energy_kWh

    def co2_charge(self, co2_kg: float) -> float:
        """Internal charge for ``co2_kg`` at the CO2 price (currency; not money paid)."""
        return self.co2_price_per_t * co2_kg / 1000

    def charged_price_per_kg(self, material: str) -> float:
        """Price of one kg of ``material`` with its CO2 charge: what an objective with unit weights pays."""
        return self._price(material) + self.co2_price_per_t / 1000.0 * self._co2(material)

    @property
    def charged_price_per_kWh(self) -> float:
        """Price of one kWh of arc energy with its CO2 charge."""
        return self.energy_price_per_kWh + self.co2_price_per_t / 1000.0 * self.energy_co2_kg_per_kWh

    def _price(self, material: str) -> float:
        return _per_material(self.material_price_per_kg, material, "price")

    def _co2(self, material: str) -> float:
        return _per_material(self.material_co2_kg_per_kg, material, "CO2 factor")


def money(material: float, energy: float, sampling: float) -> float:
    """What the plant pays for a plan: material + energy + sampling money (without the internal CO2 charge)."""
    return material + energy + sampling


@dataclass(frozen=True)
class PlanCost:
    """Money (plant currency) and CO2 of one plan or a sum of plans."""

    material_money: float = 0.0
    energy_money: float = 0.0
    sampling_money: float = 0.0
    co2_t: float = 0.0
    co2_charge: float = 0.0  # internal charge at the objective's CO2 price: not money paid
    energy_kWh: float = 0.0
    samples: float = 0.0

    @property
    def money(self) -> float:
        """Material + energy + sampling money (without the internal CO2 charge)."""
        return money(self.material_money, self.energy_money, self.sampling_money)

    def __add__(self, other: PlanCost) -> PlanCost:
        return PlanCost(self.material_money + other.material_money, self.energy_money + other.energy_money,
                        self.sampling_money + other.sampling_money, self.co2_t + other.co2_t,
                        self.co2_charge + other.co2_charge, self.energy_kWh + other.energy_kWh,
                        self.samples + other.samples)


def plan_cost(cfg: PlantConfig | CostCoefficients, additions_kg: Mapping[str, float], arc_energy_kWh: float,
              n_samples: float, co2_price_per_t: float | None = None) -> PlanCost:
    """Cost one heat's plan (see module doc) with the config's prices (or given coefficients);
    ``co2_price_per_t`` overrides the CO2 price (default: the objective's)."""
    coef = cfg if isinstance(cfg, CostCoefficients) else CostCoefficients.from_config(cfg)
    price = coef.co2_price_per_t if co2_price_per_t is None else co2_price_per_t
    co2_kg = coef.co2_kg(additions_kg, arc_energy_kWh)
    return PlanCost(material_money=coef.material_money(additions_kg), energy_money=coef.energy_money(arc_energy_kWh),
                    sampling_money=coef.sampling_money(n_samples), co2_t=co2_kg / 1000,
                    co2_charge=price * co2_kg / 1000, energy_kWh=float(arc_energy_kWh), samples=float(n_samples))


def _nonzero(additions_kg: Mapping[str, float]) -> dict[str, float]:
    return {m: float(kg) for m, kg in additions_kg.items() if kg}


def _per_material(table: Mapping[str, float], material: str, what: str) -> float:
    """``table[material]``, or a KeyError that names the material and the known ones."""
    try:
        return table[material]
    except KeyError:
        raise KeyError(f"no {what} for material {material!r}; known materials: {sorted(table)}") from None
