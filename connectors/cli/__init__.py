"""The ``dosing`` command line: thin entry points that load config, call the domain, write outputs.

Each sub-module registers its commands on the shared ``app`` when imported.
"""

from connectors.cli import (
    config_cmds,  # noqa: F401  (config, schema, validate)
    optimize_cmds,  # noqa: F401  (optimize)
)
from connectors.cli.app import app

__all__ = ["app"]
