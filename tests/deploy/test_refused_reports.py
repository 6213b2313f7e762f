"""Reports the broker refuses (ACL) stay in the outbox and are counted, never dropped."""

from __future__ import annotations

import time
from pathlib import Path

from edge_agent.link import DeviceTopics, LinkConfig
from edge_agent.link.session import ReportLink
from edge_agent.outbox import Outbox, OutboxConfig
from edge_agent.provisioning.fleet import provision_fleet
from fieldproof.config import parse_config
from fieldproof.identity import DeviceKey, parse_device_id
from fieldproof.wire import Record, Report, sign_report
from tests.deploy.broker import secured_broker


def test_refused_reports_are_kept_and_counted(tmp_path: Path) -> None:
    fleet = provision_fleet(2, tmp_path / "fleet")
    a, b = fleet.devices
    broker = secured_broker(tmp_path, fleet.broker_dir / "passwd")
    # Logged in as A but publishing under B's topics: the shipped ACL refuses every report.
    config = parse_config(
        LinkConfig,
        {
            "url": broker.url,
            "username": a.identity.device_id,
            "password": (a.directory / "secrets" / "mqtt-password").read_text(),
            "reconnect_initial_s": 0.05,
        },
    )
    key = DeviceKey.generate()
    outbox = Outbox(OutboxConfig(path=tmp_path / "outbox.sqlite"))
    link = ReportLink(
        config,
        outbox,
        DeviceTopics.for_device_id(parse_device_id(b.identity.device_id)),
        signer=key,
    )
    link.start()
    try:
        assert link.mqtt.wait_connected(10)
        for _ in range(10):
            outbox.append(
                lambda seq: sign_report(
                    Report(key.device_id, seq, 0, 60, (Record("temperature", value=1.0),)), key
                )
            )
            link.notify()
        deadline = time.monotonic() + 10
        while link.pump_stats().refused < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert link.pump_stats().refused == 10
        assert link.pump_stats().acknowledged == 0
        assert outbox.stats().depth == 10
        # No retry storm within one connection: the count stays put.
        time.sleep(0.5)
        assert link.pump_stats().refused == 10
        # After a reconnect each is tried once more (an operator may have fixed the ACL).
        broker.restart()
        deadline = time.monotonic() + 15
        while link.pump_stats().refused < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert link.pump_stats().refused == 20
        assert outbox.stats().depth == 10
    finally:
        link.stop()
        broker.stop()
