"""The address space a DCS sees is the one docs/opcua.md documents: the page holds the tables rendered from
``address_space``; ``walk`` and ``undocumented_names`` compare a real server's ``Dosing`` tree with the page
(used in test_opcua.py's generation test, which has a server running anyway: a start costs 3-16 s)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from asyncua import Node, ua

from connectors.opcua import address_space as space

DOC = Path(__file__).resolve().parents[3] / "docs" / "opcua.md"
REGENERATE = 'python -c "from connectors.opcua.address_space import doc_table; print(doc_table())"'


@pytest.mark.parametrize("table", [space.doc_table, space.plant_doc_table])
def test_docs_hold_the_tables_of_the_module(table):
    assert table() in DOC.read_text(encoding="utf-8"), (
        f"docs/opcua.md does not hold {table.__name__}() of connectors/opcua/address_space.py verbatim; paste its "
        f"output ({REGENERATE.replace('doc_table', table.__name__)}) into the page")


def documented_patterns() -> list[re.Pattern[str]]:
    """The node ids of the docs' address-space table (read from the page, not the module) as patterns:
    ``<gen>`` a number, ``<heat_id>`` / ``<material>`` / ``<element>`` one browse name."""
    text = DOC.read_text(encoding="utf-8").split("## 3. Address space")[1].split("## 4.")[0]
    out = []
    for node_id in re.findall(r"^\| `([^`]+)` \|", text, flags=re.M):
        node_id = node_id.replace("<setpoint or ArcEnergy>", "Dosing.G<gen>.<heat_id>.(?:ArcEnergy|Setpoints.<x>)")
        pattern = re.escape(node_id).replace(re.escape("(?:ArcEnergy|Setpoints.<x>)"), r"(?:ArcEnergy|Setpoints\.<x>)")
        pattern = pattern.replace(re.escape("<gen>"), r"\d+")
        for placeholder in ("<heat_id>", "<material>", "<element>", "<x>"):
            pattern = pattern.replace(re.escape(placeholder), r"[^.]+")
        out.append(re.compile(pattern))
    return out


async def walk(node: Node, out: dict[str, tuple[int, str]]) -> None:
    """Node id -> (browse-name namespace, browse name) of ``node`` and every node below it (the Methods'
    standard argument properties left out). Browsed in the server's process: the same address space a client
    browses, without a round trip per node (18 s over SignAndEncrypt on a loaded machine)."""
    name = await node.read_browse_name()
    out[str(node.nodeid.Identifier)] = (name.NamespaceIndex, name.Name)
    if await node.read_node_class() == ua.NodeClass.Method:
        return
    for child in await node.get_children():
        await walk(child, out)


def undocumented_names(served: dict[str, tuple[int, str]], ns: int) -> list[str]:
    """What differs between ``served`` (from :func:`walk`) and the docs' table: served node ids the table does
    not list, table rows nothing is served for, browse names that are not the last part of the node id or not in
    the expected namespace (``ns``; namespace 0 for the AnalogItem properties)."""
    patterns = documented_patterns()
    out = [f"not documented: {n}" for n in served if not any(p.fullmatch(n) for p in patterns)]
    out += [f"documented, not served: {p.pattern}" for p in patterns if not any(p.fullmatch(n) for n in served)]
    for node_id, (name_ns, name) in served.items():
        if name != node_id.rpartition(".")[2]:
            out.append(f"{node_id}: browse name {name!r}")
        if name_ns != (0 if name in (space.ENGINEERING_UNITS, space.EU_RANGE) else ns):
            out.append(f"{node_id}: browse name in namespace {name_ns}")
    return out


def test_a_browse_name_with_the_separator_is_refused():
    with pytest.raises(ValueError, match=r"browse name 'H\.1' below Dosing.G3: must be non-empty and without '\.'"):
        space.heat(3, "H.1")
