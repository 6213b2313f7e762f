"""Helpers to configure, run and feed a real aggregator in tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml

from aggregator.config import AggregatorConfig
from aggregator.registry.allowlist import write_allowlist
from fieldproof.identity import did_key_from_public_key
from tests.aggregator.reports import Device

REPO = Path(__file__).resolve().parents[2]


def config_dict(
    tmp: Path,
    broker_port: int,
    devices: Sequence[Device],
    *,
    ledger_url: str | None = None,
    series_url: str | None = None,
    protocol: str = "5",
    client_id: str = "agg-test",
    inactive: Sequence[Device] = (),
    **ingest: Any,
) -> dict[str, Any]:
    allowlist = tmp / "devices.yaml"
    entries = [(did_key_from_public_key(d.key.public_key), True) for d in devices]
    entries += [(did_key_from_public_key(d.key.public_key), False) for d in inactive]
    write_allowlist(allowlist, entries)
    return {
        "mqtt": {
            "url": f"mqtt://127.0.0.1:{broker_port}",
            "protocol": protocol,
            "client_id": client_id,
            "group": "ingest",
        },
        "ingest": {"batch_size": 200, "batch_ms": 20, **ingest},
        "ledger": {"url": ledger_url or f"sqlite:///{tmp}/ledger.db"},
        "series": {"url": series_url or f"sqlite:///{tmp}/series.db", "interval_s": 0.1},
        "registry": {"mode": "allowlist", "allowlist": {"path": str(allowlist), "reload_s": 0.2}},
        "metrics": {"enabled": True, "port": 0},
    }


def make_config(*args: Any, **kwargs: Any) -> AggregatorConfig:
    return AggregatorConfig.model_validate(config_dict(*args, **kwargs))


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def spawn_aggregator(config_path: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m aggregator run`` in a subprocess (so it can be SIGKILLed)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "aggregator", "run", "--config", str(config_path)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def publish_all(
    port: int, messages: Sequence[tuple[str, bytes]], *, protocol: int = mqtt.MQTTv5
) -> None:
    """Publish QoS 1 messages as fast as the broker takes them; return when all are acked."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{time.monotonic_ns()}", protocol=protocol
    )
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(60)
    finally:
        client.disconnect()
        client.loop_stop()


def wait_for(check: Any, timeout: float, what: str) -> float:
    """Poll ``check`` until it holds; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def await_subscription(
    port: int, probe: tuple[str, bytes], arrived: Any, timeout: float = 30
) -> None:
    """Publish ``probe`` until ``arrived()``: proves a subscriber (and its session) exists.

    A message published before the subscription is made reaches nobody; the copies sent
    after the first one is stored are duplicates and are acknowledged as such.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        publish_all(port, [probe])
        step = time.monotonic() + 1.0
        while time.monotonic() < step:
            if arrived():
                return
            time.sleep(0.05)
    raise AssertionError(f"no subscriber took the probe within {timeout} s")
