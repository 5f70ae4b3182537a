"""The ``dosing`` command line: thin entry points that load config, call the domain, write outputs.

Each sub-module registers its commands on the shared ``app`` when imported.
"""

from connectors.cli import (  # noqa: F401  (each module registers its commands)
    advise_cmds,
    advisor_service_cmds,
    config_cmds,
    lf_cmds,
    model_cmds,
    nightly_cmds,
    opcua_cmds,
    optimize_cmds,
    scale_cmds,
    sim_cmds,
)
from connectors.cli.app import app

__all__ = ["app"]
