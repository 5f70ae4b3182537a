"""One definition of each saving against today's practice, used by the report, the CLI (`dosing optimize`,
`dosing nightly`) and the demo.

A plan (one heat's additions, arc energy and samples) is costed by :func:`optimizer.costs.plan_cost`, the
plant's one cost formula (material, energy and sampling money; CO2 and its internal charge, never folded into
"money").

Today's practice is the level-2 calculation (:class:`~optimizer.simulator.policies.Level2Policy`) for the same
heats, costed by the same function. A saving is today's figure minus ours, over the heats that got a plan.
Arc energy (kWh) and samples are carried along, so "energy saved" and "samples saved" mean the same everywhere.
:data:`TOTALS` lists the figures in the order every place shows them, :func:`day_line` is the one-line summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from optimizer.config import PlantConfig
from optimizer.costs import CostCoefficients, PlanCost, plan_cost
from optimizer.recommendation import Recommendation
from optimizer.schema import material_of
from optimizer.simulator.policies import Level2Policy


def total(costs: Iterable[PlanCost]) -> PlanCost:
    """Sum of plans."""
    out = PlanCost()
    for c in costs:
        out = out + c
    return out


def executed_cost(cfg: PlantConfig, records: Iterable) -> PlanCost:  # noqa: ANN001
    """Sum of heats as executed (anything with ``additions_kg``, ``arc_energy_kWh``, ``n_samples``, e.g. the
    simulator's heat records), costed by :func:`plan_cost`."""
    coef = CostCoefficients.from_config(cfg)
    return total(plan_cost(coef, r.additions_kg, r.arc_energy_kWh, r.n_samples) for r in records)


def practice_costs(cfg: PlantConfig, heats: Sequence) -> dict[str, PlanCost]:  # noqa: ANN001
    """Today's practice (level-2 calculation) per heat id, costed by :func:`plan_cost`."""
    pol, coef = Level2Policy(cfg), CostCoefficients.from_config(cfg)
    out = {}
    for h in heats:
        p = pol.decide(h)
        out[h.heat_id] = plan_cost(coef, p.additions_kg, p.arc_energy_kWh, p.n_samples)
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
    coef = CostCoefficients.from_config(cfg)
    ours = total(plan_cost(coef, h.additions_kg, h.arc_energy_kWh, h.n_samples) for h in ok)
    today = total(practice[h.heat_id] for h in ok)
    return Savings(ours, today, len(ok), cfg.objective.co2_price_per_t)


def practice_from_frame(cfg: PlantConfig, baseline) -> dict[str, PlanCost]:  # noqa: ANN001
    """Today's practice per heat from a baseline table (columns heat_id, add_<m>_kg, energy_kWh, samples), as
    written by the nightly run."""
    coef, out = CostCoefficients.from_config(cfg), {}
    for row in baseline.to_dict("records"):
        adds = {mat: float(v) for c, v in row.items() if (mat := material_of(c)) is not None and v == v}
        out[str(row["heat_id"])] = plan_cost(coef, adds, float(row["energy_kWh"]), float(row["samples"]))
    return out


# (label, PlanCost field, number format); ``{cur}`` is the plant currency, ``{price}`` the CO2 price per t
TOTALS: tuple[tuple[str, str, str], ...] = (
    ("material, {cur}", "material_money", ",.0f"),
    ("arc energy, {cur}", "energy_money", ",.0f"),
    ("sampling, {cur}", "sampling_money", ",.0f"),
    ("money, {cur}", "money", ",.0f"),
    ("CO2 emitted, t", "co2_t", ",.2f"),
    ("internal CO2 charge at {price:g} {cur}/t, {cur} (not paid)", "co2_charge", ",.0f"),
    ("arc energy, kWh", "energy_kWh", ",.0f"),
    ("samples", "samples", ",.0f"),
)


def totals_rows(s: Savings, currency: str) -> list[list[str]]:
    """[label, today's practice, recommended, saved, saved %] for every figure of :data:`TOTALS`."""
    return [[label.format(cur=currency, price=s.co2_price_per_t), f"{getattr(s.today, f):{fmt}}",
             f"{getattr(s.ours, f):{fmt}}", f"{s.saved(f):{fmt}}", f"{s.pct(f):+.1f} %"]
            for label, f, fmt in TOTALS]


def savings_text(s: Savings, currency: str, over: str = "planned heat(s)") -> str:
    """Money saved with CO2 on its own, e.g. ``saves 1,234 USD (2.1 % of today's 58,000) against today's practice
    over 28 planned heat(s); CO2 (separate from money) 0.45 t less``."""
    money, co2 = s.saved("money"), s.saved("co2_t")
    word = "saves" if money >= 0 else "costs"
    more = "" if money >= 0 else " more"
    return (f"{word} {abs(money):,.0f} {currency}{more} ({abs(s.pct('money')):.1f} % of today's "
            f"{s.today.money:,.0f}) against today's practice over {s.heats} {over}; CO2 (separate from "
            f"money) {abs(co2):,.2f} t {'less' if co2 >= 0 else 'more'}")


def unplanned_text(rec: Recommendation, shown: int = 5) -> str:
    """``0 without a plan`` or ``2 without a plan (H7, H9)``; more than ``shown`` ids are counted."""
    ids = [h.heat_id for h in rec.heats if not h.feasible]
    if not ids:
        return "0 without a plan"
    listed = ", ".join(ids[:shown]) + (f", ... {len(ids) - shown} more" if len(ids) > shown else "")
    return f"{len(ids)} without a plan ({listed})"


def day_line(rec: Recommendation, s: Savings, currency: str) -> str:
    """One line for a console or a cron mail: heats planned and without a plan, and what the day saves."""
    planned = sum(h.feasible for h in rec.heats)
    return f"planned {planned} of {len(rec.heats)} heats, {unplanned_text(rec)}; {savings_text(s, currency)}"
