"""OPC UA: the setpoint server the DCS reads, a reading client, a plant-server writer, security helpers."""

from connectors.opcua.approvals import ApprovalRefused
from connectors.opcua.client import Credentials, connect, read_setpoints, read_snapshot
from connectors.opcua.plant_client import PlantWriter, RefusedWrite
from connectors.opcua.security import create_certificate
from connectors.opcua.server import SetpointServer, UnsafeRecommendationError
from connectors.opcua.users import add_user

__all__ = [
    "ApprovalRefused", "Credentials", "PlantWriter", "RefusedWrite", "SetpointServer", "UnsafeRecommendationError",
    "add_user", "connect", "create_certificate", "read_setpoints", "read_snapshot",
]
