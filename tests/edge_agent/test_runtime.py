"""The runtime with a real camera source (a video file) and the shipped detector."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge_agent.config import AgentConfig
from edge_agent.quality import QualityScorer
from edge_agent.runtime import Runtime
from fieldproof.config import parse_config
from fieldproof.identity import DeviceKey
from fieldproof.wire import decode_report
from tests.edge_agent.link.collector import ReportCollector
from tests.services.mosquitto import MosquittoBroker, start_broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    started = start_broker(tmp_path, "user root\n")
    yield started
    started.stop()


def _config(tmp_path: Path, broker: MosquittoBroker, sources: dict[str, Any]) -> AgentConfig:
    """An agent on ``broker`` with its state under ``tmp_path``, reading ``sources``."""
    return parse_config(
        AgentConfig,
        {
            "link": {"url": broker.url, "reconnect_initial_s": 0.05},
            "outbox": {"path": str(tmp_path / "outbox.sqlite")},
            "health": {"metrics_port": 0},
            "remote": {"state_dir": str(tmp_path / "s"), "models_dir": str(tmp_path / "m")},
            **sources,
        },
    )


def _video(path: Path, frames: int = 40, fps: float = 10.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (320, 240))
    for i in range(frames):
        image = np.full((240, 320, 3), 40, dtype=np.uint8)
        cv2.rectangle(image, (10 + 6 * i, 80), (60 + 6 * i, 160), (200, 200, 200), -1)
        writer.write(image)
    writer.release()


def test_camera_reports_flow_to_the_broker(tmp_path: Path, broker: MosquittoBroker) -> None:
    video = tmp_path / "street.avi"
    _video(video)
    config = _config(
        tmp_path,
        broker,
        {
            "cameras": [
                {
                    "name": "street",
                    "url": str(video),
                    "file_pacing": "native",
                    "interval_s": 1.0,
                    "lines": [{"name": "line1", "start": [150, 0], "end": [150, 240]}],
                    "reconnect": {"max_attempts": 1},
                }
            ],
        },
    )
    key = DeviceKey.generate()
    collector = ReportCollector(broker.port).start()
    runtime = Runtime(config, key)
    runtime.start()
    try:
        assert collector.wait_for(2, 30), "no camera reports arrived"
        deadline = time.monotonic() + 10
        while not runtime.stats.cameras() and time.monotonic() < deadline:
            time.sleep(0.05)
        camera = runtime.stats.cameras()[0]
        assert camera.name == "street"
    finally:
        runtime.stop()
        collector.stop()
    payloads = [p for t, p, _ in collector.messages if t.endswith("/report")]
    report = decode_report(payloads[0]).report
    assert report.device_id == key.device_id
    assert report.model is not None
    names = {record.name for record in report.records}
    assert {"line1/car/in", "line1/car/out"} <= names


def test_sensor_reports_flow_to_the_broker(tmp_path: Path, broker: MosquittoBroker) -> None:
    csv = tmp_path / "weather.csv"
    csv.write_text("time,temp,rh\n" + "".join(f"{i},{20 + i / 10},{50 + i}\n" for i in range(30)))
    config = _config(
        tmp_path,
        broker,
        {
            "settings": {"report_interval_s": 1.0},
            "sensors": [
                {"name": "wx", "type": "replay", "path": str(csv), "speed": 30.0},
            ],
        },
    )
    key = DeviceKey.generate()
    collector = ReportCollector(broker.port).start()
    runtime = Runtime(config, key)
    runtime.start()
    try:
        assert collector.wait_for(2, 30), "no sensor reports arrived"
    finally:
        runtime.stop()
        collector.stop()
    reports = [decode_report(p).report for t, p, _ in collector.messages if t.endswith("/report")]
    names = set().union(*({r.name for r in report.records} for report in reports))
    assert {"wx/temp", "wx/rh", "wx/samples", "wx/qc"} <= names
    scored = [r for r in reports if any(rec.name == "wx/qc" for rec in r.records)]
    assert all(r.model is not None and r.model.model_id == QualityScorer().model_id for r in scored)
    assert all(
        0.0 <= (rec.value or 0.0) <= 1.0 for r in scored for rec in r.records if rec.name == "wx/qc"
    )
    assert all(report.end - report.start == 1 for report in reports)
