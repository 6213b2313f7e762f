"""The demo's agent configs: typed, written as YAML the agent's own check accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from demo.broker import DemoBroker
from demo.devices import SAMPLE_VIDEO, WEATHER, DemoDevice, agent_config, agent_yaml
from edge_agent.config import load_agent_config
from fieldproof.identity import DeviceKey


@pytest.mark.parametrize("camera", [True, False])
def test_agent_yaml_round_trips_and_passes_check_config(tmp_path: Path, camera: bool) -> None:
    device = DemoDevice(0, DeviceKey.generate(), tmp_path, "0x" + "11" * 20, (36.1, -79.9))
    broker = DemoBroker(port=18830, protocol="3.1.1", name="amqtt")
    config = agent_config(device, broker, interval_s=3.0, weather_speed=3600.0, camera=camera)
    device.config_path.write_text(agent_yaml(config))

    assert load_agent_config(device.config_path) == config
    assert config.link.protocol == "3.1.1"
    assert len(config.cameras) == (1 if camera else 0)
    checked = subprocess.run(
        [sys.executable, "-m", "fieldproof", "agent", "check-config", str(device.config_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def test_sample_files_exist() -> None:
    assert SAMPLE_VIDEO.is_file()
    assert WEATHER.is_file()


def test_outbox_stats_wait_for_the_agent(tmp_path: Path) -> None:
    device = DemoDevice(0, DeviceKey.generate(), tmp_path, "0x" + "11" * 20, (36.1, -79.9))
    assert device.outbox_stats() is None
