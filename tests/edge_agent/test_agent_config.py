"""The agent's config tree: defaults, composed sections, errors with key paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.config import AgentConfig, load_agent_config
from edge_agent.provisioning.template import AgentYamlValues, render_agent_yaml
from fieldproof.config import parse_config
from fieldproof.errors import ConfigError


def test_defaults_are_valid() -> None:
    config = AgentConfig()
    assert config.link.protocol == "5"
    assert config.cameras == ()
    assert config.sensors == ()


def test_rendered_template_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(
        render_agent_yaml(
            AgentYamlValues(
                device_hex="0x" + "ab" * 32,
                broker_url="mqtts://broker:8883",
                username="0x" + "ab" * 32,
                ca_file="/etc/fieldproof/ca.crt",
                operator_public_key="0x04" + "11" * 64,
            )
        )
    )
    config = load_agent_config(path)
    assert config.link.uses_tls
    assert config.remote.operator_key_bytes == bytes.fromhex("04" + "11" * 64)


def test_cameras_and_sensors_compose() -> None:
    config = parse_config(
        AgentConfig,
        {
            "cameras": [{"name": "door", "url": "rtsp://cam/1"}],
            "sensors": [{"name": "weather", "type": "replay", "path": "tmy3.csv"}],
            "detector": {"type": "nanodet", "score_threshold": 0.4},
        },
    )
    assert config.cameras[0].name == "door"
    assert config.sensors[0].name == "weather"
    assert config.detector is not None


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (
            {
                "cameras": [{"name": "x", "url": 0}],
                "sensors": [{"name": "x", "type": "replay", "path": "a.csv"}],
            },
            "names used twice",
        ),
        ({"sensors": [{"name": "s", "type": "nope"}]}, "sensors -> 0"),
        ({"remote": {"operator_public_key": "0x1234"}}, "remote -> operator_public_key"),
        ({"settings": {"heartbeat_s": 0}}, "settings -> heartbeat_s"),
        ({"health": {"metrics_port": 70000}}, "health -> metrics_port"),
        ({"identity": {"key": "x"}}, "identity -> key"),
    ],
)
def test_errors_name_the_key_path(data: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigError, match=path):
        parse_config(AgentConfig, data, "agent.yaml")


def test_relative_paths_resolve_from_the_file_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "agent.yaml").write_text(
        "identity: {key_file: device.key}\n"
        "outbox: {path: data/outbox.sqlite}\n"
        "sensors: [{name: wx, type: replay, path: weather.csv}]\n"
    )
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_agent_config(folder / "agent.yaml")
    assert config.identity.key_file == folder / "device.key"
    assert config.outbox.path == folder / "data" / "outbox.sqlite"
    assert config.health.disk_path == folder
    assert config.sensors[0].path == folder / "weather.csv"  # type: ignore[union-attr]


def test_state_paths_resolve_from_state_dir(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(
        "state_dir: /var/lib/fieldproof\n"
        "identity: {key_file: device.key, passphrase_file: /run/credentials/x/pass}\n"
        "remote: {models_dir: models}\n"
        "sensors: [{name: wx, type: replay, path: weather.csv}]\n"
    )
    config = load_agent_config(path)
    state = Path("/var/lib/fieldproof")
    assert config.identity.key_file == state / "device.key"
    assert config.identity.passphrase_file == Path("/run/credentials/x/pass")
    assert config.outbox.path == state / "outbox.sqlite"
    assert config.remote.models_dir == state / "models"
    assert config.remote.state_dir == state / "state"
    # Files that come with the config stay beside it.
    assert config.sensors[0].path == tmp_path / "weather.csv"  # type: ignore[union-attr]
