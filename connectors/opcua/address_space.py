"""The OPC UA address space, declared once: the setpoint server's ``Dosing`` tree and the plant-side node ids.

**Our setpoint server** (``dosing serve``; namespace ``[opcua] namespace_uri``, index looked up at connect time).
Every node has a string node id: the browse names of its path from the Objects folder, joined with ``.``
(``Dosing.G12.H0815.Setpoints.SiMn``). Browse names are in the same namespace, except the AnalogItem properties
``EngineeringUnits`` and ``EURange`` of the setpoints and the arc energy (namespace 0, as the standard
defines them; the setpoints and ArcEnergy have type definition AnalogItemType). :class:`NodePath` builds the
node ids and browse names; the server, its subtree builder, the reading client, the tests and the benchmark
all take them from here, and :func:`doc_table` renders the table of docs/opcua.md section 3 (a test checks the
page holds it). A renamed node is changed here and in that table only.

**Plant-side node ids** (the plant's own server, ids from the config's ``[opcua.node_map]``): for ``dosing
write-plant`` the ``setpoint_prefix`` followed by ``<heat_id>.<material>``, ``<heat_id>.ArcEnergy`` and
``<heat_id>.Samples`` (:func:`plant_setpoint_id`); for the advisor's in-heat exchange the value names and OPC UA
types of every node (:class:`DcsValue`; ``prefix + element`` / ``prefix + material`` for the prefixed ones).
"""

from __future__ import annotations

from dataclasses import dataclass

from asyncua import ua

SEP = "."
"""Separates the browse names of a path in a string node id."""


def string_node_id(identifier: str, ns: int) -> ua.NodeId:
    """The string node id ``ns=<ns>;s=<identifier>``."""
    return ua.NodeId(ua.String(identifier), ua.Int16(ns))


def standard_node_id(identifier: int) -> ua.NodeId:
    """A numeric node id of the standard namespace 0 (``ua.ObjectIds.*``)."""
    return ua.NodeId(ua.Int32(identifier), ua.Int16(0))


@dataclass(frozen=True)
class NodePath:
    """A node of the ``Dosing`` tree as the browse names from the Objects folder down."""

    parts: tuple[str, ...]

    def __truediv__(self, name: str) -> NodePath:
        """The child called ``name`` (ValueError for a name that would split into two path parts)."""
        if not name or SEP in name:
            raise ValueError(f"OPC UA browse name {name!r} below {self.text}: must be non-empty and without {SEP!r} "
                             "(it separates the parts of a node id)")
        return NodePath((*self.parts, name))

    @property
    def name(self) -> str:
        """The node's own browse name (the last part)."""
        return self.parts[-1]

    @property
    def text(self) -> str:
        """The string identifier of the node id: the browse names joined with ``.``."""
        return SEP.join(self.parts)

    def node_id(self, ns: int) -> ua.NodeId:
        return string_node_id(self.text, ns)

    def browse_name(self, ns: int) -> ua.QualifiedName:
        return ua.QualifiedName(self.name, ua.UInt16(ns))


@dataclass(frozen=True)
class Variable:
    """A variable's browse name, OPC UA type and what the docs say of it (``shown``: the type as documented)."""

    name: str
    vtype: ua.VariantType
    meaning: str
    shown: str = ""

    @property
    def type_doc(self) -> str:
        return self.shown or self.vtype.name


@dataclass(frozen=True)
class HeaderVariable(Variable):
    """A variable directly below ``Dosing``, with the value it starts with."""

    initial: object = None


@dataclass(frozen=True)
class Method:
    """An engineer's decision Method below ``Dosing``: ``name(RecommendationId, Comment) -> Status``."""

    name: str
    decision: str  # the audit-log event it records: "approved" or "rejected"
    meaning: str


# ---- the Dosing object: header variables and Methods ----------------------------------------------------------

ROOT = NodePath(("Dosing",))

GENERATION = HeaderVariable("Generation", ua.VariantType.UInt32, "bumped **last** on every publish; subscribe to it",
                            initial=0)
RECOMMENDATION_ID = HeaderVariable("RecommendationId", ua.VariantType.String, "id of the current recommendation",
                                   initial="")
CREATED_AT = HeaderVariable("CreatedAt", ua.VariantType.String, "start of the validity window",
                            "String (ISO 8601 UTC)", initial="")
VALID_UNTIL = HeaderVariable("ValidUntil", ua.VariantType.String, "end of the validity window",
                             "String (ISO 8601 UTC)", initial="")
STATUS = HeaderVariable("Status", ua.VariantType.String, "proposed, approved, rejected, expired (from the audit "
                        "log, never from the file)", initial="none")
STATUS_BY = HeaderVariable("StatusBy", ua.VariantType.String, "engineer who approved or rejected", initial="")
MODEL_VERSIONS = HeaderVariable("ModelVersions", ua.VariantType.String, "surrogate model versions used",
                                "String (JSON)", initial="{}")
HEAT_COUNT = HeaderVariable("HeatCount", ua.VariantType.UInt32, "heats in the recommendation", initial=0)
RECOMMENDATION_JSON = HeaderVariable("RecommendationJson", ua.VariantType.String, "the whole recommendation in one "
                                     "value (consistent by construction)", initial="")
HEARTBEAT = HeaderVariable("Heartbeat", ua.VariantType.UInt32, "+1 per second: watchdog", initial=0)
PUBLISHER_OK = HeaderVariable("PublisherOk", ua.VariantType.Boolean, "false while the last submitted file could "
                              "not be published", initial=True)
PUBLISHER_ERROR = HeaderVariable("PublisherError", ua.VariantType.String, "why (file and reason); empty when ok",
                                 initial="")
HEADER: tuple[HeaderVariable, ...] = (GENERATION, RECOMMENDATION_ID, CREATED_AT, VALID_UNTIL, STATUS, STATUS_BY,
                                      MODEL_VERSIONS, HEAT_COUNT, RECOMMENDATION_JSON, HEARTBEAT, PUBLISHER_OK,
                                      PUBLISHER_ERROR)

APPROVE = Method("Approve", "approved", "engineers only, current id only (section 2)")
REJECT = Method("Reject", "rejected", "engineers only, current id only (section 2)")
METHODS: tuple[Method, ...] = (APPROVE, REJECT)
METHOD_INPUTS = (("RecommendationId", "id of the current recommendation (Dosing.RecommendationId)"),
                 ("Comment", "why (kept in the audit log)"))
METHOD_OUTPUT = "Status"

# ---- one generation's subtree: Dosing.G<gen>.<heat_id> -------------------------------------------------------

HEAT_ID = Variable("HeatId", ua.VariantType.String, "the heat's id")
GRADE = Variable("Grade", ua.VariantType.String, "steel grade")
FEASIBLE = Variable("Feasible", ua.VariantType.Boolean, "false: the optimizer found no feasible plan for the heat "
                    "(see Diagnosis)")
SAMPLES = Variable("Samples", ua.VariantType.UInt16, "number of samples to take")
DIAGNOSIS = Variable("Diagnosis", ua.VariantType.String, "the optimizer's note on the heat (why it is infeasible, a "
                     "window narrower than the models' band); empty when none")
HEAT_VALUES: tuple[Variable, ...] = (HEAT_ID, GRADE, FEASIBLE, SAMPLES, DIAGNOSIS)
ARC_ENERGY = Variable("ArcEnergy", ua.VariantType.Double, "arc energy setpoint",
                      "Double, kWh, EURange 0..max_arc_energy_kWh")
SETPOINTS = "Setpoints"
SETPOINT = Variable("<material>", ua.VariantType.Double, "addition setpoint",
                    "Double, kg (UNECE), EURange = material min..max")
PREDICTED = "Predicted"
PREDICTED_ELEMENT = Variable("<element>", ua.VariantType.Double, "predicted final content", "Double, wt%")
PREDICTED_TEMPERATURE = Variable("Temperature", ua.VariantType.Double, "predicted final temperature",
                                 "Double, degC")
ENGINEERING_UNITS = "EngineeringUnits"
EU_RANGE = "EURange"
PROPERTIES = ((ENGINEERING_UNITS, "EUInformation", "of ArcEnergy and of each setpoint: the unit (UNECE code)"),
              (EU_RANGE, "Range", "of ArcEnergy and of each setpoint: the allowed range"))
"""The AnalogItem properties of ArcEnergy and of each setpoint (name, type, meaning); browse names in namespace 0."""


def header(var: HeaderVariable) -> NodePath:
    """``Dosing.<var>``."""
    return ROOT / var.name


def method(m: Method) -> NodePath:
    """``Dosing.Approve`` / ``Dosing.Reject``."""
    return ROOT / m.name


def generation_name(gen: int | str) -> str:
    """``G<gen>``: the browse name of generation ``gen``'s folder."""
    return f"G{gen}"


def generation(gen: int) -> NodePath:
    """``Dosing.G<gen>``: the folder of generation ``gen``."""
    return ROOT / generation_name(gen)


def heat(gen: int, heat_id: str) -> NodePath:
    """``Dosing.G<gen>.<heat_id>``: one heat's object."""
    return generation(gen) / heat_id


def heat_value(gen: int, heat_id: str, var: Variable) -> NodePath:
    """``Dosing.G<gen>.<heat_id>.<var>`` (HeatId, Grade, Feasible, Samples, Diagnosis, ArcEnergy)."""
    return heat(gen, heat_id) / var.name


def setpoints(gen: int, heat_id: str) -> NodePath:
    """``Dosing.G<gen>.<heat_id>.Setpoints``: the folder of the addition setpoints."""
    return heat(gen, heat_id) / SETPOINTS


def setpoint(gen: int, heat_id: str, material: str) -> NodePath:
    """``Dosing.G<gen>.<heat_id>.Setpoints.<material>`` (kg)."""
    return setpoints(gen, heat_id) / material


def predictions(gen: int, heat_id: str) -> NodePath:
    """``Dosing.G<gen>.<heat_id>.Predicted``: the folder of the predicted final values."""
    return heat(gen, heat_id) / PREDICTED


def predicted(gen: int, heat_id: str, element: str) -> NodePath:
    """``Dosing.G<gen>.<heat_id>.Predicted.<element>`` (wt%)."""
    return predictions(gen, heat_id) / element


def predicted_temperature(gen: int, heat_id: str) -> NodePath:
    """``Dosing.G<gen>.<heat_id>.Predicted.Temperature`` (degC)."""
    return predictions(gen, heat_id) / PREDICTED_TEMPERATURE.name


def standard_browse_name(name: str) -> ua.QualifiedName:
    """A browse name of namespace 0 (the AnalogItem properties)."""
    return ua.QualifiedName(name, ua.UInt16(0))


# ---- plant-side node ids (the plant's own server; prefixes from the config's node map) --------------------------

PLANT_ARC_ENERGY = ARC_ENERGY.name
PLANT_SAMPLES = SAMPLES.name


def prefixed(prefix: str, name: str) -> str:
    """A node-map prefix followed by an element or material name (``ns=2;s=LF1.Heat.Sample.`` + ``Mn``)."""
    return f"{prefix}{name}"


def plant_setpoint_id(prefix: str, heat_id: str, leaf: str) -> str:
    """``setpoint_prefix + "<heat_id>.<leaf>"``; ``leaf`` is a material, ``PLANT_ARC_ENERGY`` or
    ``PLANT_SAMPLES``."""
    return f"{prefix}{heat_id}{SEP}{leaf}"


# The in-heat exchange of the advisor service (``[opcua.node_map.heat]`` / ``[opcua.node_map.advice]``): every
# value has a name (the node-map field, or ``wt_pct.<element>`` / ``add_kg.<material>`` for the prefixed ones),
# the node id from the config, and its OPC UA type on the DCS server.
DCS_TYPES: dict[str, ua.VariantType] = {
    "heat_id": ua.VariantType.String, "sample_counter": ua.VariantType.Int32, "state_json": ua.VariantType.String,
    "grade": ua.VariantType.String, "finish": ua.VariantType.Boolean, "closing": ua.VariantType.String,
    "status": ua.VariantType.String, "reason": ua.VariantType.String, "flags": ua.VariantType.String,
    "decision_id": ua.VariantType.String, "approve": ua.VariantType.String}
"""Types of the in-heat exchange's values that are not numbers; the numbers (kg, kWh, min, degC, wt%, t, ppm)
are Double."""


@dataclass(frozen=True)
class DcsValue:
    """One value of the in-heat exchange on the DCS server (``material``/``element``: of a prefixed value)."""

    name: str
    node_id: str
    vtype: ua.VariantType
    material: str | None = None
    element: str | None = None


def dcs_value(name: str, node_id: str) -> DcsValue:
    """The node-map field ``name`` (``heat_id``, ``status``, ...) at ``node_id``."""
    return DcsValue(name, node_id, DCS_TYPES.get(name, ua.VariantType.Double))


def element_value(prefix: str, element: str) -> DcsValue:
    """``wt_pct.<element>`` at ``prefix + element`` (Double, wt%)."""
    return DcsValue(element_key(element), prefixed(prefix, element), ua.VariantType.Double, element=element)


def material_value(prefix: str, material: str) -> DcsValue:
    """``add_kg.<material>`` at ``prefix + material`` (Double, kg)."""
    return DcsValue(material_key(material), prefixed(prefix, material), ua.VariantType.Double, material=material)


def element_key(element: str) -> str:
    """The value name of an element's wt% in the latest sample: ``wt_pct.<element>``."""
    return f"wt_pct{SEP}{element}"


def material_key(material: str) -> str:
    """The value name of a material's kg (added in the stage, or to add now): ``add_kg.<material>``."""
    return f"add_kg{SEP}{material}"


# ---- documentation ------------------------------------------------------------------------------------------


def doc_rows() -> list[tuple[str, str, str]]:
    """(node id, type, meaning) of every node of the ``Dosing`` tree, as docs/opcua.md section 3 lists them."""
    args = ", ".join(name for name, _ in METHOD_INPUTS)
    rows = [(ROOT.text, "object", "below the Objects folder: everything the server publishes")]
    rows += [(header(v).text, v.type_doc, v.meaning) for v in HEADER]
    rows += [(method(m).text, f"Method ({args}) -> {METHOD_OUTPUT}", m.meaning) for m in METHODS]
    folder = ROOT / generation_name("<gen>")
    rows.append((folder.text, "folder", f"one generation's subtree, immutable once {GENERATION.name} points at it "
                 "(section 4)"))
    obj = folder / "<heat_id>"
    rows.append((obj.text, "object", "one heat of the recommendation"))
    rows += [((obj / v.name).text, v.type_doc, v.meaning) for v in (*HEAT_VALUES, ARC_ENERGY)]
    rows.append(((obj / SETPOINTS).text, "folder", "the addition setpoints"))
    rows.append(((obj / SETPOINTS / SETPOINT.name).text, SETPOINT.type_doc, SETPOINT.meaning))
    rows.append(((obj / PREDICTED).text, "folder", "the predicted final values"))
    rows += [((obj / PREDICTED / v.name).text, v.type_doc, v.meaning) for v in (PREDICTED_ELEMENT,
                                                                                 PREDICTED_TEMPERATURE)]
    rows += [(f"<setpoint or ArcEnergy>{SEP}{name}", f"Property {kind} (browse name in namespace 0)", meaning)
             for name, kind, meaning in PROPERTIES]
    return rows


def doc_table() -> str:
    """The markdown table of :func:`doc_rows` (docs/opcua.md section 3 holds it verbatim)."""
    lines = ["| node id | type | meaning |", "|---|---|---|"]
    lines += [f"| `{node}` | {kind} | {meaning} |" for node, kind, meaning in doc_rows()]
    return "\n".join(lines)


def plant_doc_rows() -> list[tuple[str, str, str]]:
    """(node id, type, what) of the plant-side setpoint nodes ``dosing write-plant`` writes (docs/opcua.md 6)."""
    def leaf(name: str) -> str:
        return f'`setpoint_prefix + "{plant_setpoint_id("", "<heat_id>", name)}"`'

    return [(leaf("<material>"), "Double, kg", "written: addition setpoint"),
            (leaf(PLANT_ARC_ENERGY), "Double, kWh", "written: arc energy setpoint"),
            (leaf(PLANT_SAMPLES), "UInt16", "written: number of samples"),
            ("`current_heat_id`, `measured_temperature_degC`", "read",
             "the plant's current heat and its last temperature")]


def plant_doc_table() -> str:
    """The markdown table of :func:`plant_doc_rows` (docs/opcua.md section 6 holds it verbatim)."""
    lines = ["| node id | type | written / read |", "|---|---|---|"]
    lines += [f"| {node} | {kind} | {what} |" for node, kind, what in plant_doc_rows()]
    return "\n".join(lines)
