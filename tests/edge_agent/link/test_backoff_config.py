"""Pure parts of the link: reconnect backoff, topic names, config validation."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.link import DeviceTopics, LinkConfig
from edge_agent.link.backoff import ReconnectBackoff
from fieldproof.config import parse_config
from fieldproof.errors import ConfigError
from fieldproof.identity import DeviceKey, device_id_hex


def test_backoff_grows_then_caps_and_resets() -> None:
    backoff = ReconnectBackoff(initial_s=0.5, max_s=4.0, jitter=0.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


@given(st.integers(0, 200), st.floats(0.0, 1.0), st.integers(0, 2**32))
def test_backoff_never_exceeds_cap(failures: int, jitter: float, seed: int) -> None:
    backoff = ReconnectBackoff(
        initial_s=0.1, max_s=30.0, jitter=jitter, rng=random.Random(seed), failures=failures
    )
    delay = backoff.next_delay()
    assert 0.0 <= delay <= 30.0
    assert delay >= min(30.0, 0.1 * 2.0 ** min(failures, 64)) * (1.0 - jitter) - 1e-9


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


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"url": "http://x"}, "url"),
        ({"url": "mqtts://x"}, "tls"),
        ({"protocol": "4"}, "protocol"),
        ({"tls": {"ca_file": "a", "cert_file": "b"}}, "key_file"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_link_config_errors_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(LinkConfig, data, "agent.yaml")
