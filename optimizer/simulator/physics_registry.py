"""Plant physics by name: ``standard`` (the default, the shipped plant), ``slag`` (a second plant with its own
recovery, arc and cooling laws and its own operators) and ``carryover`` (a third, held out from the advisor's
development: carry-over EAF slag, a dissolution lag, foaming-slag arcs and its own operators) and ``stirred`` (a fourth,
held out too: a partly blocked porous plug, mixing lag, a ladle campaign, a per-shift spectrometer bias and its own
operators) and ``lots`` (a fifth, held out too: the steel weight, the feeders' kg and the ferroalloys' delivery
lots are not what the level-2 believes, a slow conventional lab, its own operators) and ``glaze`` (a sixth, held out
too: ladles glazed with earlier heats' slag that burn Al early in a heat, failed dips and slag-contaminated
samples, its own operators) and ``cycle`` (a seventh, held out too: ladles at the thermal state their cycle
left them in, arc-zone losses of Mn and Al, its own operators) and ``damp`` (an eighth, held out too: bulk
materials wet from open stockpiles by the weather, whose water the bath's Al takes, arc heating by the energy
of each arcing, its own operators) and ``tariff`` (a ninth, held out too: a transformer tap that follows the
electricity tariff of the hour, a heavy slag that takes part of each arcing's heat and passes it to the steel
later, its own operators) and ``revert`` (a tenth, held out too: a slag built by the heat's own additions whose
silica and MnO the dissolved Al reduces back into the steel while the heat waits, its own operators) and
``skull`` (an eleventh, held out too: ladles that arrive with a skull of an earlier heat's steel, which melts back
into the bath during the treatment, mixing that heat's chemistry into this one and taking its heat, its own
operators). The implementations stay private; only names are public."""

from __future__ import annotations

from collections.abc import Callable

from optimizer.simulator._carryover import CarryoverPhysics
from optimizer.simulator._cycle import CyclePhysics
from optimizer.simulator._damp import DampPhysics
from optimizer.simulator._glaze import GlazePhysics
from optimizer.simulator._lots import LotsPhysics
from optimizer.simulator._physics import StandardPhysics
from optimizer.simulator._revert import RevertPhysics
from optimizer.simulator._skull import SkullPhysics
from optimizer.simulator._slag import SlagPhysics
from optimizer.simulator._stirred import StirredPhysics
from optimizer.simulator._tariff import TariffPhysics
from optimizer.simulator.physics import Physics

DEFAULT_PHYSICS = "standard"

_REGISTRY: dict[str, Callable[[], Physics]] = {
    "standard": StandardPhysics,
    "slag": SlagPhysics,
    "carryover": CarryoverPhysics,
    "stirred": StirredPhysics,
    "lots": LotsPhysics,
    "glaze": GlazePhysics,
    "cycle": CyclePhysics,
    "damp": DampPhysics,
    "tariff": TariffPhysics,
    "revert": RevertPhysics,
    "skull": SkullPhysics,
}


def register_physics(name: str, factory: Callable[[], Physics]) -> None:
    """Make a physics selectable by name; ``factory() -> Physics`` (its ``name`` should be ``name``)."""
    if not name or not name.isidentifier():
        raise ValueError(f"physics name must be a non-empty identifier, got {name!r}")
    _REGISTRY[name] = factory


def physics_names() -> list[str]:
    """Registered physics names (sorted)."""
    return sorted(_REGISTRY)


def get_physics(spec: str | Physics | None = None) -> Physics:
    """The physics called ``spec`` (None: ``standard``); a :class:`Physics` object is returned as it is."""
    if spec is None:
        spec = DEFAULT_PHYSICS
    if not isinstance(spec, str):
        if not isinstance(spec, Physics):
            raise TypeError(f"physics must be a name or a Physics object, got {type(spec).__name__}")
        return spec
    if spec not in _REGISTRY:
        raise ValueError(f"unknown physics {spec!r}; use one of {physics_names()}")
    return _REGISTRY[spec]()
