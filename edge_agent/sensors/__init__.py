"""Sensor drivers (replay, SDS011, BME280) behind one registry."""

from edge_agent.sensors.registry import DRIVERS, DriverSpec, SensorConfig, create_sensor
from edge_agent.sensors.types import DriverStats, Reading, SensorConfigBase, SensorDriver

__all__ = [
    "DRIVERS",
    "DriverSpec",
    "DriverStats",
    "Reading",
    "SensorConfig",
    "SensorConfigBase",
    "SensorDriver",
    "create_sensor",
]
