"""OPC UA: the setpoint server the DCS reads, a reading client, and security helpers (asyncua)."""

from connectors.opcua.client import Credentials, connect, read_setpoints, read_snapshot
from connectors.opcua.security import add_user, create_certificate
from connectors.opcua.server import SetpointServer, UnsafeRecommendationError

__all__ = ["Credentials", "SetpointServer", "UnsafeRecommendationError", "add_user", "connect", "create_certificate",
           "read_setpoints", "read_snapshot"]
