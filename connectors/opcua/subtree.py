"""One generation's subtree ``Dosing.G<gen>``: built heat by heat, dropped heat by heat.

Both yield to the event loop after every heat, so the server keeps answering reads while a large
recommendation is built (asyncua's node management does not suspend by itself: a 200-heat build held the
loop for seconds). A failed build is dropped again, so no partial subtree stays visible.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from asyncua import Node, Server, ua

from optimizer.config import PlantConfig
from optimizer.recommendation import HeatRecommendation, Recommendation

log = logging.getLogger(__name__)
KG = ua.EUInformation(NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact", UnitId=4933453,
                      DisplayName=ua.LocalizedText("kg"), Description=ua.LocalizedText("kilogram"))
KWH = ua.EUInformation(NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact", UnitId=4937544,
                       DisplayName=ua.LocalizedText("kWh"), Description=ua.LocalizedText("kilowatt hour"))
NodeIds = Callable[[str], ua.NodeId]


class SubtreeBuilder:
    """Adds and removes ``Dosing.G<gen>`` below ``root`` (node ids from ``nid``, namespace ``ns``)."""

    def __init__(self, server: Server, root: Node, nid: NodeIds, ns: int, cfg: PlantConfig) -> None:
        self.server, self.root, self.nid, self.ns, self.cfg = server, root, nid, ns, cfg

    async def build(self, gen: int, rec: Recommendation) -> None:
        """Add the complete subtree of ``rec`` as generation ``gen``; on any failure remove what was added."""
        try:
            folder = await self.root.add_folder(self.nid(f"G{gen}"), ua.QualifiedName(f"G{gen}", self.ns))
            for h in rec.heats:
                await self.add_heat(folder, f"G{gen}.{h.heat_id}", h)
                await asyncio.sleep(0)  # let the server answer reads between heats
        except Exception:
            await self.drop(gen)
            raise

    async def add_heat(self, folder: Node, base: str, h: HeatRecommendation) -> None:
        """One heat's object with its setpoints and predictions."""
        obj = await folder.add_object(self.nid(base), ua.QualifiedName(h.heat_id, self.ns))
        for name, val, vt in [("HeatId", h.heat_id, ua.VariantType.String), ("Grade", h.grade, ua.VariantType.String),
                              ("Feasible", h.feasible, ua.VariantType.Boolean),
                              ("Samples", h.n_samples, ua.VariantType.UInt16),
                              ("Diagnosis", h.diagnosis, ua.VariantType.String)]:
            await obj.add_variable(self.nid(f"{base}.{name}"), ua.QualifiedName(name, self.ns), ua.Variant(val, vt))
        await self._analog(obj, f"{base}.ArcEnergy", "ArcEnergy", h.arc_energy_kWh, KWH,
                           (0.0, self.cfg.safety.max_arc_energy_kWh))
        sp = await obj.add_folder(self.nid(f"{base}.Setpoints"), ua.QualifiedName("Setpoints", self.ns))
        for m in self.cfg.materials:
            await self._analog(sp, f"{base}.Setpoints.{m.name}", m.name, h.additions_kg.get(m.name, 0.0), KG,
                               (m.min_kg_per_heat, m.max_kg_per_heat))
        pr = await obj.add_folder(self.nid(f"{base}.Predicted"), ua.QualifiedName("Predicted", self.ns))
        for el, iv in h.predicted_wt_pct.items():
            await pr.add_variable(self.nid(f"{base}.Predicted.{el}"), ua.QualifiedName(el, self.ns), iv.predicted)
        if h.predicted_temperature_degC is not None:
            await pr.add_variable(self.nid(f"{base}.Predicted.Temperature"),
                                  ua.QualifiedName("Temperature", self.ns), h.predicted_temperature_degC.predicted)

    async def _analog(self, parent: Node, path: str, name: str, value: float, unit: ua.EUInformation,
                      eu_range: tuple[float, float]) -> None:
        node = await parent.add_variable(self.nid(path), ua.QualifiedName(name, self.ns),
                                         ua.Variant(float(value), ua.VariantType.Double),
                                         varianttype=ua.NodeId(ua.ObjectIds.AnalogItemType),
                                         datatype=ua.NodeId(ua.ObjectIds.Double))
        await node.add_property(self.nid(f"{path}.EngineeringUnits"), "EngineeringUnits", unit)
        await node.add_property(self.nid(f"{path}.EURange"), "EURange",
                                ua.Range(Low=float(eu_range[0]), High=float(eu_range[1])))

    async def drop(self, gen: int) -> None:
        """Remove generation ``gen`` with everything below it (missing or partial subtrees included)."""
        node = self.server.get_node(self.nid(f"G{gen}"))
        try:
            children = await node.get_children()
        except ua.UaStatusCodeError:  # BadNodeIdUnknown: nothing was added
            return
        try:
            # Only the generation folder is referenced from outside its subtree. Deleting the children without
            # "delete target references" avoids asyncua's scan of the whole address space per deleted node
            # (measured: 6-15 s for a 20-heat generation; experiments/bench_opcua.py).
            for child in children:
                await child.delete(delete_references=False, recursive=True)
                await asyncio.sleep(0)
            await node.delete()
        except ua.UaError as exc:  # a half-deleted old subtree is not worth failing a publish for
            log.warning("could not delete generation %s completely: %s", gen, exc)
