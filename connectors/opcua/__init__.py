"""OPC UA: the setpoint server the DCS reads, a reading client, a plant-server writer, security helpers."""

from connectors.opcua.client import Credentials, connect, read_setpoints, read_snapshot
from connectors.opcua.plant_client import PlantWriter, RefusedWrite
from connectors.opcua.security import add_user, create_certificate
from connectors.opcua.server import SetpointServer, UnsafeRecommendationError

__all__ = [
    "Credentials", "PlantWriter", "RefusedWrite", "SetpointServer", "UnsafeRecommendationError", "add_user",
    "connect", "create_certificate", "read_setpoints", "read_snapshot",
]
