"""The sensor driver registry: one module per driver, declaring its key, config and class.

The discriminated config union (``type`` picks the driver) and the registry are
built from the same modules, and a test runs over every entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Annotated, Any

from pydantic import Field

from edge_agent.errors import AgentValueError
from edge_agent.sensors import bme280, replay, sds011
from edge_agent.sensors.types import SensorConfigBase, SensorDriver

DRIVER_MODULES: tuple[ModuleType, ...] = (replay, sds011, bme280)

SensorConfig = Annotated[
    replay.ReplayConfig | sds011.Sds011Config | bme280.Bme280Config,
    Field(discriminator="type"),
]


@dataclass(frozen=True, slots=True)
class DriverSpec:
    key: str
    config: type[SensorConfigBase]
    create: Callable[[Any], SensorDriver]


DRIVERS: dict[str, DriverSpec] = {
    module.KEY: DriverSpec(key=module.KEY, config=module.CONFIG, create=module.DRIVER.from_config)
    for module in DRIVER_MODULES
}


def create_sensor(config: SensorConfigBase) -> SensorDriver:
    """Open the driver that ``config.type`` names."""
    key = getattr(config, "type", None)
    spec = DRIVERS.get(str(key))
    if spec is None or not isinstance(config, spec.config):
        raise AgentValueError(f"sensor {config.name}: no driver for type {key!r}")
    return spec.create(config)
