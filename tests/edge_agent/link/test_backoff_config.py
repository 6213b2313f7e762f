"""Pure parts of the link: reconnect policy, topic names, config validation, client build."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.link import DeviceTopics, LinkConfig, LinkError
from edge_agent.link import client as client_module
from edge_agent.link.client import MqttLink
from fieldproof.config import parse_config
from fieldproof.errors import ConfigError
from fieldproof.identity import DeviceKey, device_id_hex
from fieldproof.transport.mqtt import BrokerClient, ClientSpec, Will


def test_reconnect_policy_follows_the_config() -> None:
    config = LinkConfig(reconnect_initial_s=0.1, reconnect_max_s=2.0)
    policy = config.reconnect_policy()
    assert (policy.initial_s, policy.max_s) == (0.1, 2.0)
    assert policy.ceiling(100_000) == 2.0
    assert 0.0 < policy.jitter < 1.0


def test_topics_use_hex_device_id() -> None:
    key = DeviceKey.from_secret(7)
    topics = DeviceTopics.for_device_id(key.device_id)
    device = device_id_hex(key.device_id)
    assert device.startswith("0x")
    assert topics.report == f"fp/v1/{device}/report"
    assert topics.status == f"fp/v1/{device}/status"
    assert topics.health == f"fp/v1/{device}/health"
    assert topics.config == f"fp/v1/{device}/config"


def test_link_config_ports_and_tls() -> None:
    assert LinkConfig(url="mqtt://broker").port == 1883
    config = parse_config(
        LinkConfig, {"url": "mqtts://broker.example:8884", "tls": {"ca_file": "/etc/ca.pem"}}
    )
    assert config.port == 8884
    assert config.uses_tls
    # Without a tls section, mqtts:// verifies against the system's CAs.
    assert LinkConfig(url="mqtts://broker.example").address.tls


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"url": "http://x"}, "url"),
        ({"tls": {"ca_file": "a"}}, "mqtts"),
        ({"protocol": "4"}, "protocol"),
        ({"tls": {"ca_file": "a", "cert_file": "b"}}, "key_file"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_link_config_errors_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(LinkConfig, data, "agent.yaml")


def test_link_builds_through_the_shared_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    specs: list[ClientSpec] = []

    class Recording(BrokerClient):
        def __init__(self, spec: ClientSpec) -> None:
            specs.append(spec)
            super().__init__(spec)

    monkeypatch.setattr(client_module, "BrokerClient", Recording)
    topics = DeviceTopics.for_device_id(DeviceKey.from_secret(7).device_id)
    config = LinkConfig(max_in_flight=9)
    MqttLink(config, topics, online_payload=lambda: b"on", offline_payload=b"off")
    (spec,) = specs
    assert (spec.client_id, spec.max_in_flight, spec.manual_ack) == (topics.device, 9, False)
    assert spec.will == Will(topics.status, b"off", qos=1, retain=True)


def test_unloadable_tls_files_are_a_link_error(tmp_path: Path) -> None:
    topics = DeviceTopics.for_device_id(DeviceKey.from_secret(7).device_id)
    config = parse_config(
        LinkConfig, {"url": "mqtts://broker", "tls": {"ca_file": str(tmp_path / "none.pem")}}
    )
    with pytest.raises(LinkError, match="link -> tls"):
        MqttLink(config, topics, online_payload=lambda: b"on", offline_payload=b"off")
