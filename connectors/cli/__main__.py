"""``python -m connectors.cli``: the same as the ``dosing`` command."""

from connectors.cli import app

app(prog_name="dosing")
