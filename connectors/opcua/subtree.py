"""One generation's subtree ``Dosing.G<gen>``: built heat by heat, dropped heat by heat.

Both yield to the event loop after every heat, so the server keeps answering reads while a large
recommendation is built (asyncua's node management does not suspend by itself: a 200-heat build held the
loop for seconds). A failed build is dropped again, so no partial subtree stays visible.
"""

from __future__ import annotations

import asyncio
import logging

from asyncua import Node, Server, ua

from connectors.opcua import address_space as space
from connectors.opcua.address_space import NodePath
from optimizer.config import PlantConfig
from optimizer.recommendation import HeatRecommendation, Recommendation

log = logging.getLogger(__name__)
KG = ua.EUInformation(NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact", UnitId=4933453,
                      DisplayName=ua.LocalizedText("kg"), Description=ua.LocalizedText("kilogram"))
KWH = ua.EUInformation(NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact", UnitId=4937544,
                       DisplayName=ua.LocalizedText("kWh"), Description=ua.LocalizedText("kilowatt hour"))
DOUBLE = space.standard_node_id(ua.ObjectIds.Double)


class SubtreeBuilder:
    """Adds and removes ``Dosing.G<gen>`` below ``root`` (namespace ``ns``; names from ``address_space``)."""

    def __init__(self, server: Server, root: Node, ns: int, cfg: PlantConfig) -> None:
        self.server, self.root, self.ns, self.cfg = server, root, ns, cfg

    async def build(self, gen: int, rec: Recommendation) -> None:
        """Add the complete subtree of ``rec`` as generation ``gen``; on any failure remove what was added."""
        try:
            folder = await self.add_generation(gen)
            for h in rec.heats:
                await self.add_heat(folder, gen, h)
                await asyncio.sleep(0)  # let the server answer reads between heats
        except Exception:
            await self.drop(gen)
            raise

    async def add_generation(self, gen: int) -> Node:
        """The (empty) folder of generation ``gen``."""
        path = space.generation(gen)
        return await self.root.add_folder(path.node_id(self.ns), path.browse_name(self.ns))

    async def add_heat(self, folder: Node, gen: int, h: HeatRecommendation) -> None:
        """One heat's object with its setpoints and predictions."""
        ns, path = self.ns, space.heat(gen, h.heat_id)
        obj = await folder.add_object(path.node_id(ns), path.browse_name(ns))
        values = {space.HEAT_ID: h.heat_id, space.GRADE: h.grade, space.FEASIBLE: h.feasible,
                  space.SAMPLES: h.n_samples, space.DIAGNOSIS: h.diagnosis}
        for var in space.HEAT_VALUES:
            leaf = path / var.name
            await obj.add_variable(leaf.node_id(ns), leaf.browse_name(ns), ua.Variant(values[var], var.vtype))
        await self._analog(obj, path / space.ARC_ENERGY.name, h.arc_energy_kWh, KWH,
                           (0.0, self.cfg.safety.max_arc_energy_kWh))
        sp_path = space.setpoints(gen, h.heat_id)
        sp = await obj.add_folder(sp_path.node_id(ns), sp_path.browse_name(ns))
        for m in self.cfg.materials:
            await self._analog(sp, sp_path / m.name, h.additions_kg.get(m.name, 0.0), KG,
                               (m.min_kg_per_heat, m.max_kg_per_heat))
        pr_path = space.predictions(gen, h.heat_id)
        pr = await obj.add_folder(pr_path.node_id(ns), pr_path.browse_name(ns))
        for el, iv in h.predicted_wt_pct.items():
            leaf = pr_path / el
            await pr.add_variable(leaf.node_id(ns), leaf.browse_name(ns), iv.predicted)
        if h.predicted_temperature_degC is not None:
            leaf = space.predicted_temperature(gen, h.heat_id)
            await pr.add_variable(leaf.node_id(ns), leaf.browse_name(ns), h.predicted_temperature_degC.predicted)

    async def _analog(self, parent: Node, path: NodePath, value: float, unit: ua.EUInformation,
                      eu_range: tuple[float, float]) -> None:
        """A read-only Double variable of type definition AnalogItemType with its ``EngineeringUnits`` and
        ``EURange`` properties (asyncua's ``add_variable`` always makes a BaseDataVariableType)."""
        item = ua.AddNodesItem(
            ParentNodeId=parent.nodeid, ReferenceTypeId=space.standard_node_id(ua.ObjectIds.HasComponent),
            RequestedNewNodeId=path.node_id(self.ns), BrowseName=path.browse_name(self.ns),
            NodeClass=ua.NodeClass.Variable, TypeDefinition=space.standard_node_id(ua.ObjectIds.AnalogItemType),
            NodeAttributes=_read_only_double(path.name, value))
        (result,) = await parent.session.add_nodes([item])
        result.StatusCode.check()
        node = self.server.get_node(result.AddedNodeId)
        await node.add_property((path / space.ENGINEERING_UNITS).node_id(self.ns),
                                space.standard_browse_name(space.ENGINEERING_UNITS), unit)
        await node.add_property((path / space.EU_RANGE).node_id(self.ns), space.standard_browse_name(space.EU_RANGE),
                                ua.Range(Low=float(eu_range[0]), High=float(eu_range[1])))

    async def drop(self, gen: int) -> None:
        """Remove generation ``gen`` with everything below it (missing or partial subtrees included)."""
        node = self.server.get_node(space.generation(gen).node_id(self.ns))
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


def _read_only_double(name: str, value: float) -> ua.VariableAttributes:
    """The attributes of a scalar Double that clients may read but never write."""
    read = ua.AccessLevel.CurrentRead.mask
    return ua.VariableAttributes(
        DisplayName=ua.LocalizedText(name), Description=ua.LocalizedText(name), DataType=DOUBLE,
        Value=ua.Variant(float(value), ua.VariantType.Double), ValueRank=ua.ValueRank.Scalar,
        AccessLevel=read, UserAccessLevel=read, WriteMask=0, UserWriteMask=0, Historizing=False)
