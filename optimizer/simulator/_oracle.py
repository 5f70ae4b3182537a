"""Perfect-knowledge policy: the yardstick of over-alloying. Private: it reads the hidden state of each heat,
which no real policy can, and exists only for studies and tests (never registered by name).

It knows each heat's true initial chemistry and temperature, the true recovery of every element for the main
addition, the true arc efficiency, heat loss and chill, so it needs no safety margin: it plans the least-cost
additions that land every constrained element exactly at ``aim`` (the grade's aim, or ``min + guard x width``)
and the energy that lands the temperature at the grade's aim, with one (final) sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from optimizer.config import Material, PlantConfig
from optimizer.schedule import HeatContext
from optimizer.simulator import _physics as phys
from optimizer.simulator.heats import SimHeat
from optimizer.simulator.plant import STIR_MIN
from optimizer.simulator.policies import HeatPlan, level2_additions


@dataclass
class PerfectKnowledgePolicy:
    """See module doc. ``guard`` None = aim at the grade's aim; a fraction = ``min + guard x (max - min)``."""

    cfg: PlantConfig
    heats: dict[str, SimHeat]
    guard: float | None = None
    name: str = "perfect knowledge"

    @classmethod
    def for_heats(cls, cfg: PlantConfig, heats: Sequence[SimHeat],
                  guard: float | None = None) -> PerfectKnowledgePolicy:
        """The policy for these simulated heats."""
        return cls(cfg, {h.context.heat_id: h for h in heats}, guard)

    def decide_many(self, contexts: Sequence[HeatContext]) -> list[HeatPlan]:
        """Plans for several heats."""
        return [self.decide(c) for c in contexts]

    def decide(self, context: HeatContext) -> HeatPlan:
        """The plan of one heat (its hidden state looked up by heat id)."""
        heat = self.heats[context.heat_id]
        grade = self.cfg.grade(context.grade)
        true_ctx = replace(context, initial_wt_pct=dict(heat.true_initial_wt_pct),
                           initial_temperature_degC=heat.true_initial_temperature_degC)
        aims = {}
        for el, w in grade.chemistry_wt_pct.items():
            if w.min is None:
                continue
            aims[el] = w.target if self.guard is None or w.max is None else w.min + self.guard * (w.max - w.min)

        def rec(m: Material, el: str) -> float:
            return phys.recovery(el, heat.hidden, heat.true_initial_temperature_degC, trim=False)

        adds = level2_additions(self.cfg, true_ctx, aims, 0.0, rec)
        t_aim = grade.temperature_degC.target
        return HeatPlan(adds, self._energy(heat, adds, t_aim), 1, aims, t_aim, source=self.name)

    def _energy(self, heat: SimHeat, adds: dict[str, float], aim_degC: float) -> float:
        """Exact heat balance of the plant's one-sample timeline (see ``plant.run_heat``)."""
        e, h = self.cfg.energy, heat.hidden
        w_t = heat.context.steel_weight_t
        chill = sum(self.cfg.material(m).chill_degC_t_per_kg * h.chill_factor * kg / w_t for m, kg in adds.items())
        hold = h.loss_degC_per_min * (STIR_MIN + self.cfg.sampling.minutes_per_sample)
        net_rise = aim_degC - heat.true_initial_temperature_degC + chill + hold
        rise = net_rise / (1.0 - h.loss_degC_per_min / e.max_heating_rate_degC_per_min)
        kwh = rise * e.steel_heat_kWh_per_t_per_degC * w_t / h.arc_efficiency
        return float(min(max(kwh, 0.0), self.cfg.safety.max_arc_energy_kWh))
