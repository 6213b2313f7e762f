"""One test over every registered sensor driver."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from edge_agent.errors import AgentError
from edge_agent.sensors import DRIVERS, SensorConfig, create_sensor
from edge_agent.sensors.registry import DRIVER_MODULES
from fieldproof.config import ConfigModel, parse_config
from fieldproof.errors import ConfigError

TMY3 = Path(__file__).resolve().parents[3] / "models" / "data" / "tmy3-723170.csv"

# A minimal config per driver; a new driver without an example fails the test below.
EXAMPLES: dict[str, dict[str, object]] = {
    "replay": {"path": str(TMY3), "realtime": False},
    "sds011": {"port": "/dev/nonexistent-tty"},
    "bme280": {"bus": 97},
}


NEEDS_DEVICE = {"sds011", "bme280"}


class Sensors(ConfigModel):
    sensors: list[SensorConfig]


def test_every_driver_module_is_registered() -> None:
    assert set(DRIVERS) == {m.KEY for m in DRIVER_MODULES} == set(EXAMPLES)


@pytest.mark.parametrize("key", sorted(DRIVERS))
def test_registry_entry(key: str) -> None:
    spec = DRIVERS[key]
    literal = typing.get_type_hints(spec.config)["type"]
    assert typing.get_args(literal) == (key,)
    raw = {"name": f"s-{key}", "type": key, **EXAMPLES[key]}
    config = TypeAdapter(SensorConfig).validate_python(raw)
    assert type(config) is spec.config
    if key in NEEDS_DEVICE:
        # No such device here: the error names the sensor instead of crashing later.
        with pytest.raises(AgentError, match=f"s-{key}"):
            create_sensor(config)
        return
    driver = create_sensor(config)
    assert driver.name == f"s-{key}"
    readings = driver.read()
    assert readings
    assert all(r.name.startswith(f"s-{key}/") for r in readings)
    driver.close()


def test_unknown_type_names_the_key_path() -> None:
    with pytest.raises(ConfigError, match="sensors -> 0"):
        parse_config(Sensors, {"sensors": [{"name": "x", "type": "dht22"}]})
    with pytest.raises(ConfigError, match="port"):
        parse_config(Sensors, {"sensors": [{"name": "x", "type": "sds011", "port": 5}]})
