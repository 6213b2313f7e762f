"""The ingest consumer builds its client through the shared builder and reaches a real
Mosquitto over TLS with a client certificate; a broker signed by another CA is refused."""

from __future__ import annotations

import queue
from pathlib import Path

import pytest

from aggregator.config import MqttConfig
from aggregator.ingest import consumer as consumer_module
from aggregator.ingest.consumer import Message, MqttConsumer
from edge_agent.provisioning.tls import CertificateAuthority
from fieldproof.config import parse_config
from fieldproof.errors import ConfigError
from fieldproof.transport.mqtt import BrokerClient, ClientSpec
from tests.services.mosquitto import start_broker
from tests.services.ports import free_port, port_open, wait_until


def _write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def test_consumer_builds_through_the_shared_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    specs: list[ClientSpec] = []

    class Recording(BrokerClient):
        def __init__(self, spec: ClientSpec) -> None:
            specs.append(spec)
            super().__init__(spec)

    monkeypatch.setattr(consumer_module, "BrokerClient", Recording)
    config = parse_config(
        MqttConfig, {"url": "mqtt://127.0.0.1:1", "client_id": "agg-1", "receive_maximum": 50}
    )
    MqttConsumer(config, queue.Queue())
    assert [(s.client_id, s.manual_ack, s.receive_maximum) for s in specs] == [("agg-1", True, 50)]


def test_tls_section_only_with_mqtts() -> None:
    with pytest.raises(ConfigError, match="mqtts"):
        parse_config(MqttConfig, {"tls": {"ca_file": "ca.pem"}}, "aggregator.yaml")


def test_consumer_over_tls_with_a_client_certificate(tmp_path: Path) -> None:
    ca = CertificateAuthority.generate()
    server = ca.issue_server(["127.0.0.1"])
    client = ca.issue_client("0xaggregator")
    ca_file = _write(tmp_path, "ca.crt", ca.cert_pem)
    tls_port = free_port()
    broker = start_broker(
        tmp_path,
        f"listener {tls_port} 127.0.0.1\n"
        f"cafile {ca_file}\n"
        f"certfile {_write(tmp_path, 'server.crt', server.cert_pem)}\n"
        f"keyfile {_write(tmp_path, 'server.key', server.key_pem)}\n"
        "require_certificate true\n",
    )
    try:
        wait_until(lambda: port_open(tls_port), 10.0, "TLS listener")
        tls = {
            "ca_file": str(ca_file),
            "cert_file": str(_write(tmp_path, "client.crt", client.cert_pem)),
            "key_file": str(_write(tmp_path, "client.key", client.key_pem)),
        }
        config = parse_config(
            MqttConfig,
            {"url": f"mqtts://127.0.0.1:{tls_port}", "client_id": "agg-tls", "tls": tls},
        )
        consumer = MqttConsumer(config, queue.Queue[Message]())
        consumer.start()
        try:
            assert consumer.wait_connected(10)
        finally:
            consumer.stop()

        # Verification is on: a CA that did not sign the broker gets no connection.
        other = _write(tmp_path, "other-ca.crt", CertificateAuthority.generate().cert_pem)
        stranger = parse_config(
            MqttConfig,
            {
                "url": f"mqtts://127.0.0.1:{tls_port}",
                "client_id": "agg-stranger",
                "tls": {**tls, "ca_file": str(other)},
            },
        )
        refused = MqttConsumer(stranger, queue.Queue[Message]())
        refused.start()
        try:
            assert not refused.wait_connected(2)
        finally:
            refused.stop()
    finally:
        broker.stop()
