"""Sensor drivers (replay, SDS011, BME280) behind one registry."""

from edge_agent.sensors.intervals import SensorAggregator, SensorInterval, SensorSeries
from edge_agent.sensors.poller import SensorPoller
from edge_agent.sensors.registry import DRIVERS, DriverSpec, SensorConfig, create_sensor
from edge_agent.sensors.types import DriverStats, Reading, SensorConfigBase, SensorDriver

__all__ = [
    "DRIVERS",
    "DriverSpec",
    "DriverStats",
    "Reading",
    "SensorAggregator",
    "SensorConfig",
    "SensorConfigBase",
    "SensorDriver",
    "SensorInterval",
    "SensorPoller",
    "SensorSeries",
    "create_sensor",
]
