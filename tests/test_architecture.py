"""The import graph of optimizer/ and connectors/, read from the source with ``ast``: imports at the top of a
module and inside functions alike. Data flows one way: no cycles between modules, ``optimizer`` never imports
``connectors``, and every import goes to the same unit or to a lower layer of ``LAYERS``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("optimizer", "connectors")

# Lowest first. A module may import modules of its own unit (a package or a module listed here) or of any unit
# in a lower layer; never one of the same layer (siblings stay independent) or a higher one.
LAYERS: list[list[str]] = [
    ["optimizer.errors", "optimizer.defaults"],
    ["optimizer.config"],
    ["optimizer.schema", "optimizer.tables", "optimizer.costs"],
    ["optimizer.validation"],
    ["optimizer.schedule", "optimizer.recommendation"],
    ["optimizer.surrogates", "optimizer.embedding", "optimizer.safety", "optimizer.stages"],
    ["optimizer.dosing", "optimizer.ladle", "optimizer.advisor"],
    ["optimizer.simulator"],
    ["optimizer.savings"],
    ["optimizer"],
    ["connectors.net"],
    ["connectors.tracking", "connectors.files", "connectors.ladle_files", "connectors.opcua", "connectors.report"],
    ["connectors.model_registry", "connectors.ingest"],
    ["connectors.ladle_registry", "connectors.recommendations"],
    ["connectors.nightly"],
    ["connectors.scale", "connectors.demo"],
    ["connectors.cli"],
    ["connectors"],
]

Graph = dict[str, set[str]]


def module_name(path: Path, root: Path = ROOT) -> str:
    """``optimizer/dosing/run.py`` -> ``optimizer.dosing.run``; a package's ``__init__.py`` is the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, is_package: bool, known: set[str]) -> set[str]:
    """Our modules that ``source`` (the text of ``module``) imports anywhere in it, functions included. ``from
    a import b`` is an import of module ``a.b`` when that is a module, else of ``a``."""
    out: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in out if m in known}


def import_graph(root: Path = ROOT) -> Graph:
    """{module: modules of optimizer/ and connectors/ it imports}."""
    files = {module_name(p, root): p for pkg in PACKAGES for p in sorted((root / pkg).rglob("*.py"))}
    known = set(files)
    return {m: imported(p.read_text(), m, p.name == "__init__.py", known) - {m} for m, p in files.items()}


def cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                found.append(sorted(scc))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def unit_of(module: str, layers: list[list[str]] = LAYERS) -> str | None:
    """The most specific unit of ``layers`` that holds ``module``; a package root (``optimizer``) holds only its
    ``__init__``, so a new subpackage must be given a layer."""
    units = [u for layer in layers for u in layer]
    holders = [u for u in units if module == u or (module.startswith(u + ".") and u not in PACKAGES)]
    return max(holders, key=len, default=None)


def layer_violations(graph: Graph, layers: list[list[str]] = LAYERS) -> list[str]:
    """Every import that goes to a sibling unit of the same layer or up, and every module without a layer."""
    rank = {u: i for i, layer in enumerate(layers) for u in layer}
    bad = [f"{m}: in no layer of LAYERS" for m in sorted(graph) if unit_of(m, layers) is None]
    for src in sorted(graph):
        us = unit_of(src, layers)
        for dst in sorted(graph[src]):
            ud = unit_of(dst, layers)
            if us is None or ud is None or us == ud:
                continue
            if rank[ud] >= rank[us]:
                where = "a sibling" if rank[ud] == rank[us] else "a higher layer"
                bad.append(f"{src} imports {dst}, {where} ({ud} is layer {rank[ud]}, {us} is layer {rank[us]})")
    return bad


def optimizer_to_connectors(graph: Graph) -> list[str]:
    return [f"{src} imports {dst}" for src in sorted(graph) if src.split(".")[0] == "optimizer"
            for dst in sorted(graph[src]) if dst.split(".")[0] == "connectors"]


@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph()


def test_the_graph_is_the_whole_source(graph):
    assert {"optimizer.dosing.run", "optimizer.schedule", "connectors.cli.app"} <= set(graph)
    assert "optimizer.schedule" in graph["optimizer.dosing.model"]


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_optimizer_never_imports_connectors(graph):
    assert optimizer_to_connectors(graph) == []


def test_imports_only_go_down_the_layers(graph):
    assert layer_violations(graph) == []


# The checks themselves, on graphs with known violations.

def test_imports_inside_functions_are_edges_too():
    known = {"optimizer.dosing.run", "optimizer.dosing.pool", "optimizer.dosing", "optimizer.schedule"}
    src = "from optimizer.schedule import HeatContext\n\ndef f():\n    from optimizer.dosing.run import x\n"
    assert imported(src, "optimizer.dosing.pool", False, known) == {"optimizer.schedule", "optimizer.dosing.run"}
    rel = "from . import run\nfrom .pool import HeatPool\n"
    assert imported(rel, "optimizer.dosing", True, known) == {"optimizer.dosing.run", "optimizer.dosing.pool"}


def test_a_cycle_is_found():
    fake = {"optimizer.dosing.pool": {"optimizer.dosing.run"}, "optimizer.dosing.run": {"optimizer.dosing.pool"},
            "optimizer.schedule": set()}
    assert cycles(fake) == [["optimizer.dosing.pool", "optimizer.dosing.run"]]
    longer = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(longer) == [["a", "b", "c"]]


def test_upward_sibling_and_connector_imports_are_found():
    fake = {
        "optimizer.simulator.heats": {"optimizer.schedule"},  # down: fine
        "optimizer.schedule": set(),
        "optimizer.surrogates.train": {"optimizer.dosing.prior"},  # up
        "optimizer.dosing.prior": set(),
        "optimizer.embedding.api": {"optimizer.surrogates.train"},  # sibling
        "optimizer.dosing.run": {"connectors.tracking"},  # optimizer -> connectors
        "connectors.tracking": set(),
        "optimizer.newpkg.mod": set(),  # no layer
    }
    bad = layer_violations(fake)
    r = _rank()
    assert bad == [
        "optimizer.newpkg.mod: in no layer of LAYERS",
        f"optimizer.dosing.run imports connectors.tracking, a higher layer (connectors.tracking is layer "
        f"{r['connectors.tracking']}, optimizer.dosing is layer {r['optimizer.dosing']})",
        f"optimizer.embedding.api imports optimizer.surrogates.train, a sibling (optimizer.surrogates is layer "
        f"{r['optimizer.surrogates']}, optimizer.embedding is layer {r['optimizer.embedding']})",
        f"optimizer.surrogates.train imports optimizer.dosing.prior, a higher layer (optimizer.dosing is layer "
        f"{r['optimizer.dosing']}, optimizer.surrogates is layer {r['optimizer.surrogates']})",
    ]
    assert optimizer_to_connectors(fake) == ["optimizer.dosing.run imports connectors.tracking"]


def _rank() -> dict[str, int]:
    return {u: i for i, layer in enumerate(LAYERS) for u in layer}


def test_the_checks_fail_on_the_tree_before_this_layering(tmp_path):
    """The tree as it was (pool.py and run.py importing each other inside functions, the simulator importing
    the dosing package that imports it back): both checks fail."""
    for rel, text in {
        "optimizer/__init__.py": "",
        "optimizer/dosing/__init__.py": "from optimizer.dosing.run import optimize_heats\n",
        "optimizer/dosing/run.py": "from optimizer.dosing.pool import HeatPool\n",
        "optimizer/dosing/pool.py": "def solve():\n    from optimizer.dosing.run import _results\n",
        "optimizer/dosing/schedule.py": "",
        "optimizer/dosing/policy.py": "from optimizer.simulator.policies import HeatPlan\n",
        "optimizer/simulator/__init__.py": "",
        "optimizer/simulator/policies.py": "from optimizer.dosing.schedule import HeatContext\n",
        "optimizer/simulator/registry.py": "def f():\n    from optimizer.dosing.policy import x\n",
        "connectors/__init__.py": "",
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    old = import_graph(tmp_path)
    assert ["optimizer.dosing.pool", "optimizer.dosing.run"] in cycles(old)
    r = _rank()
    want = f"optimizer.dosing.policy imports optimizer.simulator.policies, a higher layer (optimizer.simulator is " \
           f"layer {r['optimizer.simulator']}, optimizer.dosing is layer {r['optimizer.dosing']})"
    assert want in layer_violations(old)
