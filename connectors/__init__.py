"""Connectors to the outside world: OPC UA, MLflow registry, files."""
