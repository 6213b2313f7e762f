"""The running agent against Mosquitto: heartbeat, signed config and model updates over MQTT."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.agent import Agent
from edge_agent.config import AgentConfig
from edge_agent.remote.signing import sign_config
from fieldproof.config import parse_config
from fieldproof.identity import DeviceKey
from fieldproof.wire import Record, verify_document
from tests.edge_agent.link.collector import ReportCollector
from tests.services.mosquitto import MosquittoBroker, start_broker
from tests.services.ports import free_port

OPERATOR = DeviceKey.from_secret(0x0BE7A70B)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    started = start_broker(tmp_path, "user root\n")
    yield started
    started.stop()


def _wait(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def _model(tmp_path: Path, content: bytes) -> tuple[str, str]:
    path = tmp_path / f"{hashlib.sha256(content).hexdigest()[:10]}.onnx"
    path.write_bytes(content)
    return path.as_uri(), hashlib.sha256(content).hexdigest()


def test_agent_rejects_bad_config_and_bad_model(tmp_path: Path, broker: MosquittoBroker) -> None:
    key = DeviceKey.from_secret(0xA6E47)
    metrics_port = free_port()
    config = parse_config(
        AgentConfig,
        {
            "link": {"url": broker.url, "reconnect_initial_s": 0.05},
            "outbox": {"path": str(tmp_path / "outbox.sqlite")},
            "health": {"metrics_port": metrics_port, "sysfs_root": str(tmp_path / "nosys")},
            "remote": {
                "operator_public_key": "0x" + OPERATOR.public_key.hex(),
                "state_dir": str(tmp_path / "state"),
                "models_dir": str(tmp_path / "models"),
            },
            "settings": {"heartbeat_s": 0.3},
        },
    )

    def warm_up(path: Path) -> None:
        if path.read_bytes() == b"broken-model":
            raise RuntimeError("ONNX Runtime could not load the graph")

    agent = Agent(config, key, warm_up=warm_up)
    device = agent.device
    public_key = agent.signer.public_key
    collector = ReportCollector(broker.port, "fp/v1/+/#").start()
    operator = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="operator", protocol=mqtt.MQTTv5)
    operator.connect("127.0.0.1", broker.port)
    operator.loop_start()

    def push(document_or_bytes: dict[str, Any] | bytes, signer: DeviceKey = OPERATOR) -> None:
        payload = (
            document_or_bytes
            if isinstance(document_or_bytes, bytes)
            else sign_config(document_or_bytes, signer)
        )
        operator.publish(f"fp/v1/{device}/config", payload, qos=1, retain=True).wait_for_publish(5)

    def status() -> dict[str, Any]:
        for topic, payload, _ in reversed(list(collector.messages)):
            if topic == f"fp/v1/{device}/status":
                result: dict[str, Any] = json.loads(verify_document(payload, public_key))
                return result
        return {}

    def last(kind: str) -> dict[str, Any]:
        result: dict[str, Any] = status().get("last_update", {}).get(kind, {})
        return result

    def submit() -> int:
        now = int(time.time())
        return agent.submit(now - 60, now, (Record("temperature", value=19.5),))

    agent.start()
    try:
        _wait(lambda: status().get("state") == "online")

        # Heartbeats arrive on the health topic with outbox and link figures.
        def connected_beats() -> list[dict[str, Any]]:
            beats = [
                json.loads(verify_document(p, public_key))
                for t, p, _ in list(collector.messages)
                if t.endswith("/health")
            ]
            return [b for b in beats if b["link_connected"]]

        beat = _wait(connected_beats)[-1]
        assert beat["device"] == device
        assert beat["outbox_depth"] == 0

        url1, sha1 = _model(tmp_path, b"model-one")
        good = {
            "version": 1,
            "device": device,
            "settings": {"heartbeat_s": 0.5, "report_interval_s": 30},
            "model": {"model_id": "det-a", "url": url1, "sha256": sha1},
        }
        push(good)
        _wait(lambda: last("model").get("outcome") == "applied")
        assert status()["model"] == {"id": "det-a", "sha256": sha1}
        assert agent.remote.settings.heartbeat_s == 0.5

        # 1. A config signed by someone else: rejected, reported, nothing changes.
        push({**good, "version": 2, "settings": {"heartbeat_s": 9}}, DeviceKey.from_secret(99))
        _wait(lambda: last("config").get("reason") == "bad_signature")
        assert agent.remote.settings.heartbeat_s == 0.5
        assert agent.remote.version == 1
        # ... and so is a correctly signed document whose bytes were altered in transit.
        previous = last("config")["at"]
        tampered = bytearray(sign_config({**good, "version": 3}, OPERATOR))
        tampered[tampered.index(b'"version":3') + len('"version":')] = ord("7")
        push(bytes(tampered))
        _wait(lambda: last("config").get("at", 0) > previous)
        assert last("config")["reason"] == "bad_signature"
        assert agent.remote.version == 1

        # 2. A model whose sha256 does not match: rejected, the old model stays.
        url2, _ = _model(tmp_path, b"model-two")
        push(
            {**good, "version": 4, "model": {"model_id": "det-b", "url": url2, "sha256": "0" * 64}}
        )
        _wait(lambda: last("model").get("reason") == "hash_mismatch")
        assert status()["model"] == {"id": "det-a", "sha256": sha1}
        assert agent.remote.models.current() is not None
        assert agent.remote.models.current().model_id == "det-a"  # type: ignore[union-attr]

        # 3. A model that fails its warm-up: rejected, rolled back.
        url3, sha3 = _model(tmp_path, b"broken-model")
        push({**good, "version": 5, "model": {"model_id": "det-c", "url": url3, "sha256": sha3}})
        _wait(lambda: last("model").get("reason") == "warmup_failed")
        assert status()["model"] == {"id": "det-a", "sha256": sha1}

        # Through all of it, reports keep flowing.
        seqs = [submit() for _ in range(20)]
        assert collector.wait_for(len(seqs), 10)
        assert collector.seqs() == set(seqs)

        # The local Prometheus endpoint shows the same state.
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            metrics = response.read().decode()
        assert "fieldproof_link_connected 1.0" in metrics
        # Documents 4 and 5 were applied as config; only their models were refused.
        assert agent.remote.version == 5
        assert "fieldproof_config_version 5.0" in metrics
        assert 'fieldproof_model_info{model="det-a"} 1.0' in metrics
        assert "fieldproof_outbox_dropped_total 0.0" in metrics
    finally:
        agent.stop()
        operator.loop_stop()
        collector.stop()
