"""The notebooks engineers start from run top to bottom on simulator data, show their plots inline, and notebook 3
shows the diagnosis of a heat without a plan."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from nbformat import NotebookNode

pytestmark = pytest.mark.slow  # executes every notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def _outputs(nb: NotebookNode) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_and_shows_its_plots(path: Path):
    # Imported here, not at the top: importing nbformat costs ~3 s of CPU (7 s on a loaded machine; jsonschema's
    # format checker builds rfc3987_syntax's Lark grammar), which every pytest-xdist worker paid at collection
    # although one of them runs the notebooks (one group in tests/xdist_groups.py).
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    outs = _outputs(nb)
    errors = [o for o in outs if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    shown = [o for o in outs if o.output_type in ("display_data", "execute_result")
             and ({"image/png", "image/svg+xml"} & set(o.get("data", {})) or "<svg" in o["data"].get("text/html", ""))]
    assert shown, f"{path.name} shows no plot"
    if path.name.startswith("03"):
        text = "".join(o.get("text", "") for o in outs if o.output_type == "stream")
        assert "NO PLAN: " in text, "notebook 3 shows no heat without a plan and its diagnosis"
