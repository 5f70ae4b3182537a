"""``python -m connectors.cli``: the ``dosing`` command."""

from connectors.cli import app

app()
