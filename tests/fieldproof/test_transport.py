"""The broker URL parser, the TLS model and the one MQTT client builder."""

from __future__ import annotations

from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from fieldproof.config import parse_config
from fieldproof.errors import ConfigError
from fieldproof.transport.config import BrokerAddress, TlsConfig, parse_broker_url
from fieldproof.transport.mqtt import BrokerClient, ClientSpec, Will


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("mqtt://broker", BrokerAddress("broker", 1883, tls=False)),
        ("mqtts://broker", BrokerAddress("broker", 8883, tls=True)),
        ("mqtts://10.0.0.2:8884", BrokerAddress("10.0.0.2", 8884, tls=True)),
    ],
)
def test_broker_urls(url: str, address: BrokerAddress) -> None:
    assert parse_broker_url(url) == address


@pytest.mark.parametrize(
    ("url", "message"),
    [("http://broker", "'http'"), ("mqtt://", "no host"), ("mqtt://broker:99999", "(?i)port")],
)
def test_bad_broker_urls_say_why(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_broker_url(url)


def test_tls_config_forbids_unknown_keys_and_half_pairs() -> None:
    with pytest.raises(ConfigError, match="key_file"):
        parse_config(TlsConfig, {"cert_file": "c.pem"}, "x.yaml")
    with pytest.raises(ConfigError, match="insecure"):
        parse_config(TlsConfig, {"insecure": True}, "x.yaml")
    assert TlsConfig().ca_file is None  # the system's CAs


def test_v5_client_keeps_a_session_with_a_will() -> None:
    spec = ClientSpec(
        url="mqtt://127.0.0.1:1",
        client_id="dev",
        will=Will("fp/v1/dev/status", b"offline"),
        max_in_flight=7,
        session_expiry_s=60,
        receive_maximum=10,
    )
    broker = BrokerClient(spec)
    assert broker.v5
    assert broker.paho.protocol == mqtt.MQTTv5
    assert broker.paho._client_id == b"dev"
    assert broker.paho._will_topic == b"fp/v1/dev/status"
    assert broker.paho._will_retain
    assert broker.paho._max_inflight_messages == 7
    props = broker._properties()
    assert props is not None
    # paho's Properties sets its attributes dynamically.
    assert getattr(props, "SessionExpiryInterval") == 60  # noqa: B009
    assert getattr(props, "ReceiveMaximum") == 10  # noqa: B009


def test_311_client_uses_a_persistent_session() -> None:
    broker = BrokerClient(ClientSpec(url="mqtt://127.0.0.1:1", client_id="agg", protocol="3.1.1"))
    assert broker.paho.protocol == mqtt.MQTTv311
    assert not broker.paho._clean_session
    assert broker._properties() is None


def test_tls_files_that_do_not_load_are_a_config_error(tmp_path: Path) -> None:
    spec = ClientSpec(
        url="mqtts://broker", client_id="x", tls=TlsConfig(ca_file=tmp_path / "missing.pem")
    )
    with pytest.raises(ConfigError, match="tls"):
        BrokerClient(spec)


def test_unknown_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'ws'"):
        BrokerClient(ClientSpec(url="ws://broker", client_id="x"))
