"""Names of the program's limits where they leave the model: the elastic terms the diagnosis relaxes
(:class:`RelaxationTerm`) and the keys of the marginal costs read from the duals (:class:`MarginalKey`).

A limit is named by its constraint family and the index of that family in the Pyomo model:

- ``spec`` (heat, outcome, side): a chemistry or temperature window of one heat, side ``min`` or ``max``
- ``material`` (heat, material): the most (elastic mode) a heat may get of a material
- ``material_min`` (heat, material): the least a heat must get of a material
- ``inventory`` (material,): the day's stock of a material, shared by every heat of the program
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

RelaxKind = Literal["spec", "material", "inventory"]
MarginalKind = Literal["spec", "inventory", "material_min"]
EVERY_RELAXATION: tuple[RelaxKind, ...] = ("spec", "material", "inventory")


@dataclass(frozen=True)
class RelaxationTerm:
    """One non-negative slack of the elastic program: how far limit ``key`` of family ``kind`` gives way, in
    units of ``scale`` (0.01 wt% or 1 degC for a spec, 100 kg for a material or the stock)."""

    var: Any  # the slack, a Pyomo variable
    scale: float
    kind: RelaxKind
    key: tuple[str, ...]  # the index of the family (module doc)


@dataclass(frozen=True)
class MarginalKey:
    """The limit a marginal cost (the absolute dual of its row) belongs to."""

    kind: MarginalKind
    key: tuple[str, ...]  # the index of the family (module doc)

    @classmethod
    def inventory(cls, material: str) -> MarginalKey:
        """The day's stock row of ``material``."""
        return cls("inventory", (material,))

    @property
    def label(self) -> str:
        """The key as a heat's plan reports it: ``final_Mn_wt_pct min`` for a spec limit (outcome and side),
        ``inventory ('SiMn',)`` for a stock row, as the plans have always shown it."""
        if self.kind == "spec":
            return f"{self.key[1]} {self.key[2]}"
        return f"{self.kind} {self.key!r}"

    def shown_for(self, heat_id: str) -> bool:
        """A heat's plan shows its own spec limits and the day's stock rows (shared by every heat)."""
        return (self.kind == "spec" and self.key[0] == heat_id) or self.kind == "inventory"
