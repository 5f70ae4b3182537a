"""Perfect-knowledge policy: the yardstick of over-alloying. Private: it reads the hidden state of each heat,
which no real policy can, and exists only for studies and tests (never registered by name).

It knows each heat's true initial chemistry and temperature and replays the heat through its own physics
(noise-free: the plant's only noise is in the measurements), so it needs no safety margin and works for any
physics: it plans the least-cost additions with the true recoveries its first replay shows, then moves each
element's target by secant steps until the replayed final lands at ``aim`` (the grade's aim, or
``min + guard x width``; some physics recover more of a bigger addition, or lose an element while the heat
waits), and the energy that lands the true final temperature at the grade's aim (bisection on the replay),
with one (final) sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from optimizer.config import Material, PlantConfig, Window
from optimizer.schedule import HeatContext
from optimizer.simulator.heats import SimHeat
from optimizer.simulator.plant import STIR_MIN, _Bath
from optimizer.simulator.policies import HeatPlan, level2_additions

_ROUNDS = 8  # plan -> replay -> true recoveries, then targets moved by the misses; the best plan is kept
_BISECTIONS = 30


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
        t_aim = grade.temperature_degC.target
        known: dict[tuple[str, str], float] = {}  # (material, element) -> recovery the first replay showed

        def rec(m: Material, el: str) -> float:
            return known.get((m.name, el), m.prior_recovery.get(el, 0.0))

        target, prev = dict(aims), None
        best: tuple[float, dict[str, float]] | None = None
        kwh = None
        for k in range(_ROUNDS):
            adds = level2_additions(self.cfg, true_ctx, target, 0.0, rec)
            if k == 1 and _fluxes_only(self.cfg, adds):  # the first replay's recoveries find no plan: keep priors
                known = {}
                adds = level2_additions(self.cfg, true_ctx, target, 0.0, rec)
            if prev is not None and _fluxes_only(self.cfg, adds):  # targets beyond the material bounds: step back
                target = {el: (t + prev[0][el]) / 2 for el, t in target.items()}
                continue
            kwh = self._energy(heat, adds, t_aim) if kwh is None else kwh  # recoveries do not depend on it
            bath = self._replay(heat, adds, kwh)
            final = bath.total_wt_pct()
            miss = max((abs(final[el] - aim) / _width(grade.chemistry_wt_pct[el]) for el, aim in aims.items()),
                       default=0.0)
            if best is None or miss < best[0]:
                best = (miss, adds)
            if k == 0:  # plan again with the true recoveries of these additions
                known = {(a.material, el): r for a in bath.log for el, r in a.recovery.items()}
                continue
            target, prev = _secant(aims, target, final, prev), (dict(target), final)
        adds = best[1] if best is not None else {}
        return HeatPlan(adds, self._energy(heat, adds, t_aim), 1, aims, t_aim, source=self.name)

    def _replay(self, heat: SimHeat, adds: Mapping[str, float], kwh: float) -> _Bath:
        """The true bath after the plant's one-sample timeline (see ``plant.run_controlled_heat``)."""
        bath = _Bath(self.cfg, heat)
        for mat, kg in adds.items():
            bath.add(mat, kg, trim=False)
        bath.wait(STIR_MIN)
        bath.heat_with(kwh)
        bath.wait(self.cfg.sampling.minutes_per_sample)
        bath.wait_for_lab()
        return bath

    def _energy(self, heat: SimHeat, adds: Mapping[str, float], aim_degC: float) -> float:
        """Energy (kWh) whose replay ends at ``aim_degC`` (bisection; the final temperature rises with energy)."""
        lo, hi = 0.0, self.cfg.safety.max_arc_energy_kWh
        if self._replay(heat, adds, lo).temp >= aim_degC:
            return lo
        if self._replay(heat, adds, hi).temp <= aim_degC:
            return hi
        for _ in range(_BISECTIONS):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if self._replay(heat, adds, mid).temp < aim_degC else (lo, mid)
        return (lo + hi) / 2


def _width(w: Window) -> float:
    """A window's width (wt%), for comparing misses across elements."""
    return max((w.max if w.max is not None else 2 * w.target) - w.low, 1e-3)


def _secant(aims: Mapping[str, float], target: dict[str, float], final: Mapping[str, float],
            prev: tuple[dict[str, float], Mapping[str, float]] | None) -> dict[str, float]:
    """Next targets so that each final lands on its aim: per element, a secant step on final(target) (a unit
    slope until there are two points; the final rises with the target, recovery may depend on the amount)."""
    out = {}
    for el, aim in aims.items():
        slope = 1.0
        if prev is not None and abs(target[el] - prev[0][el]) > 1e-9:
            slope = (final[el] - prev[1][el]) / (target[el] - prev[0][el])
        slope = slope if 0.05 < slope < 20 else 1.0
        out[el] = max(target[el] + (aim - final[el]) / slope, 0.0)
    return out


def _fluxes_only(cfg: PlantConfig, adds: Mapping[str, float]) -> bool:
    """True when the alloy calculation found no feasible plan (it then adds every material's minimum only)."""
    return all(kg <= m.min_kg_per_heat for m in cfg.materials for mat, kg in adds.items() if mat == m.name)
