"""The shipped mosquitto.conf: a provisioned device publishes over TLS with its client
certificate and password; the aggregator reads on the loopback listener."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.link import DeviceTopics
from edge_agent.link.config import LinkConfig
from edge_agent.link.session import ReportLink
from edge_agent.outbox import Outbox, OutboxConfig
from edge_agent.provisioning.fleet import provision_fleet
from fieldproof.config import parse_config
from fieldproof.identity import load_key
from fieldproof.wire import Record, Report, sign_report
from tests.deploy.broker import production_broker
from tests.edge_agent.link.collector import ReportCollector


def test_tls_link_with_client_certificate(tmp_path: Path) -> None:
    fleet = provision_fleet(1, tmp_path / "fleet", broker_hosts=("127.0.0.1",))
    bundle = fleet.devices[0]
    broker_dir = fleet.broker_dir
    broker = production_broker(tmp_path, broker_dir)
    tls_port = broker.tls_port
    service = json.loads((fleet.operator_dir / "service-passwords.json").read_text())
    directory = bundle.directory
    key = load_key(directory / "device.key", (directory / "secrets/key-passphrase").read_bytes())
    config = parse_config(
        LinkConfig,
        {
            "url": f"mqtts://127.0.0.1:{tls_port}",
            "username": bundle.identity.device_id,
            "password": (directory / "secrets/mqtt-password").read_text(),
            "tls": {
                "ca_file": str(directory / "ca.crt"),
                "cert_file": str(directory / "client.crt"),
                "key_file": str(directory / "client.key"),
            },
            "reconnect_initial_s": 0.05,
            # The collector is a bare reader that sends no ledger acks.
            "delete_on": "broker",
        },
    )
    collector = ReportCollector(broker.plain_port)
    collector.client.username_pw_set("aggregator", service["aggregator"])
    collector.start()
    outbox = Outbox(OutboxConfig(path=tmp_path / "outbox.sqlite"))
    link = ReportLink(config, outbox, DeviceTopics.for_device_id(key.device_id), signer=key)
    try:
        link.start()
        assert link.mqtt.wait_connected(10), link.state()
        for _ in range(20):
            outbox.append(
                lambda seq: sign_report(
                    Report(key.device_id, seq, 0, 60, (Record("temperature", value=1.0),)), key
                )
            )
            link.notify()
        assert collector.wait_for(20, 10)
        assert link.wait_drained(10)
    finally:
        link.stop()
        collector.stop()

    # Without a client certificate the TLS handshake itself fails.
    bare = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bare", protocol=mqtt.MQTTv5)
    bare.tls_set_context(ssl.create_default_context(cafile=str(directory / "ca.crt")))
    bare.username_pw_set(bundle.identity.device_id, "x")

    def handshake() -> None:
        bare.connect("127.0.0.1", tls_port)
        for _ in range(20):
            rc = bare.loop(0.1)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                raise OSError(f"loop: {rc}")

    try:
        with pytest.raises((ssl.SSLError, OSError)):
            handshake()
        # Anonymous logins are refused on the loopback listener too.
        anonymous = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="anon", protocol=mqtt.MQTTv5)
        codes: list[Any] = []
        anonymous.on_connect = lambda c, u, f, rc, p: codes.append(rc)
        anonymous.connect("127.0.0.1", broker.plain_port)
        for _ in range(50):
            anonymous.loop(0.05)
            if codes:
                break
        assert codes
        assert codes[0].is_failure
    finally:
        broker.stop()
