"""The agent's runtime with its local view on, over the synthetic scene (no broker needed)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_agent.config import load_agent_config
from edge_agent.runtime import Runtime
from edge_agent.sources.config import CameraConfig
from fieldproof.identity import DeviceKey
from tests.edge_agent.camera_fakes import Reports
from tests.edge_agent.view.scene import SceneDetector, SceneSource
from tests.services.ports import free_port


@dataclass
class Live:
    runtime: Runtime
    reports: Reports
    config_path: Path

    @property
    def url(self) -> str:
        assert self.runtime.view is not None
        return self.runtime.view.url

    def record_names(self) -> set[str]:
        return {r.name for _, _, records, _ in list(self.reports.items) for r in records}

    def counted(self, line: str) -> int:
        return sum(
            int(r.value or 0)
            for _, _, records, _ in list(self.reports.items)
            for r in records
            if r.name.startswith(f"{line}/")
        )


def agent_yaml(
    tmp_path: Path,
    cameras: list[dict[str, Any]],
    view: dict[str, Any],
    remote: dict[str, Any] | None = None,
) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(
        "# written by the test\n"
        + yaml.safe_dump(
            {
                # Nobody listens there: the reports are taken from the runtime directly.
                "link": {"url": f"mqtt://127.0.0.1:{free_port()}", "reconnect_max_s": 0.5},
                "outbox": {"path": "outbox.sqlite"},
                "health": {"metrics_port": 0},
                "remote": {"state_dir": "state", "models_dir": "models", **(remote or {})},
                "view": {"enabled": True, "port": 0, **view},
                "cameras": cameras,
            },
            sort_keys=False,
        )
    )
    return path


def street(**extra: Any) -> dict[str, Any]:
    return {
        "name": "street",
        "url": "rtsp://street.local/stream",
        "motion": {"enabled": False},
        "interval_s": 1.0,
        **extra,
    }


@contextmanager
def live_runtime(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cameras: list[dict[str, Any]],
    *,
    view: dict[str, Any] | None = None,
    remote: dict[str, Any] | None = None,
    still: bool = False,
) -> Iterator[Live]:
    path = agent_yaml(tmp_path, cameras, view or {}, remote)
    runtime = Runtime(load_agent_config(path), DeviceKey.generate(), config_path=path)
    reports = Reports()
    detector = SceneDetector()

    def open_scene(camera: CameraConfig, stop: threading.Event) -> SceneSource:
        return SceneSource(stop, still=still)

    monkeypatch.setattr("edge_agent.camera_worker.open_camera", open_scene)
    monkeypatch.setattr(runtime.models, "detector", lambda: detector)
    monkeypatch.setattr(runtime.agent, "submit", reports)
    runtime.start()
    try:
        yield Live(runtime, reports, path)
    finally:
        runtime.stop(drain_s=0.0)


def non_loopback_address() -> str | None:
    """An address of this machine other than the loopback, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
            address = str(probe.getsockname()[0])
    except OSError:
        return None
    return None if address.startswith("127.") else address
