"""OPC UA: the setpoint server the DCS reads, a reading client, a plant-server writer, security helpers.

Names are loaded on first use (PEP 562), so a command that only needs the users file or the approval log does not
import asyncua.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_WHERE = {
    "ApprovalRefused": "approvals", "Credentials": "client", "connect": "client", "read_setpoints": "client",
    "read_snapshot": "client", "PlantWriter": "plant_client", "RefusedWrite": "plant_client",
    "create_certificate": "security", "SetpointServer": "server", "UnsafeRecommendationError": "server",
    "add_user": "users",
}

if TYPE_CHECKING:
    from connectors.opcua.approvals import ApprovalRefused
    from connectors.opcua.client import Credentials, connect, read_setpoints, read_snapshot
    from connectors.opcua.plant_client import PlantWriter, RefusedWrite
    from connectors.opcua.security import create_certificate
    from connectors.opcua.server import SetpointServer, UnsafeRecommendationError
    from connectors.opcua.users import add_user


def __getattr__(name: str) -> Any:  # noqa: ANN401 (whatever the named module holds)
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"connectors.opcua.{_WHERE[name]}"), name)


__all__ = [
    "ApprovalRefused", "Credentials", "PlantWriter", "RefusedWrite", "SetpointServer", "UnsafeRecommendationError",
    "add_user", "connect", "create_certificate", "read_setpoints", "read_snapshot",
]
