"""The view's server without a browser: who may change lines, what a bad line gets,
which hosts are served, and the pipeline taking new lines at an interval boundary."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_agent.camera_pipeline import PerceptionPipeline
from edge_agent.config import load_agent_config
from edge_agent.view.server import is_loopback
from tests.edge_agent.view.live import live_runtime, street
from tests.edge_agent.view.scene import SceneDetector, scene_frames


def _post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_peers_on_the_loopback_are_local() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("192.0.2.7")
    assert not is_loopback("fd00::2")


def test_line_changes_are_validated_and_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live_runtime(tmp_path, monkeypatch, [street()]) as live:
        url = live.url + "api/cameras/street/lines"
        before = live.config_path.read_text()
        status, body = _post(url, {"name": "door", "start": [5, 5], "end": [5, 5]})
        assert status == 400
        assert "same point" in body["detail"]
        status, body = _post(url, {"name": "bad name!", "start": [0, 1], "end": [5, 5]})
        assert status == 400
        line = {"name": "door", "start": [0, 100], "end": [320, 100]}
        assert _post(live.url + "api/cameras/nowhere/lines", line)[0] == 404
        assert live.config_path.read_text() == before

        # A form post from another site carries no JSON and an Origin of its own.
        assert (
            _post(
                url, {"name": "a", "start": [0, 1], "end": [5, 5]}, {"Content-Type": "text/plain"}
            )[0]
            == 415
        )
        origin = {"Origin": "http://evil.example"}
        assert _post(url, {"name": "a", "start": [0, 1], "end": [5, 5]}, origin)[0] == 403
        assert live.config_path.read_text() == before

        status, body = _post(url, {"name": "door", "start": [0, 100], "end": [320, 100]})
        assert status == 200
        (camera,) = body["cameras"]
        assert camera["pending_lines"] == [{"name": "door", "start": [0, 100], "end": [320, 100]}]
        written = yaml.safe_load(live.config_path.read_text())
        assert written["cameras"][0]["lines"] == [
            {"name": "door", "start": [0.0, 100.0], "end": [320.0, 100.0]}
        ]
        # Everything else in the file is as it was.
        original = yaml.safe_load(before)
        written["cameras"][0].pop("lines")
        assert written == original

        request = urllib.request.Request(url + "/door", method="DELETE")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        assert load_agent_config(live.config_path).cameras[0].lines == ()


def test_requests_by_a_host_name_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live_runtime(tmp_path, monkeypatch, [street()]) as live:
        view = live.runtime.view
        assert view is not None
        connection = http.client.HTTPConnection("127.0.0.1", view.port, timeout=10)
        # A page that rebinds its own name to the loopback sends that name as Host.
        connection.request("GET", "/api/state", headers={"Host": f"evil.example:{view.port}"})
        assert connection.getresponse().status == 403
        connection.close()
        with urllib.request.urlopen(f"http://localhost:{view.port}/api/state", timeout=10) as r:
            assert r.status == 200


def test_cameras_from_a_signed_config_are_not_edited_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live_runtime(tmp_path, monkeypatch, [street()]) as live:
        live.runtime._remote_cameras(live.runtime.config.cameras)
        status, body = _post(
            live.url + "api/cameras/street/lines",
            {"name": "door", "start": [0, 100], "end": [320, 100]},
        )
        assert status == 409
        assert "signed remote config" in body["detail"]


def test_new_lines_count_from_the_next_interval_boundary() -> None:
    camera = street(lines=[{"name": "old", "start": [0, 120], "end": [320, 120]}])
    from edge_agent.sources.config import CameraConfig

    config = CameraConfig.model_validate(camera)
    pipeline = PerceptionPipeline(config, SceneDetector(), origin=1000.0)
    frames = scene_frames(60, start=1000.0, fps=10.0)  # 1 s intervals, 10 frames each
    closed = []
    for frame in frames[:15]:
        closed += pipeline.process(frame)
    moved = config.model_copy(
        update={
            "lines": (
                config.lines[0],
                config.lines[0].model_copy(update={"name": "new"}),
            )
        }
    )
    pipeline.reconfigure(moved)
    for frame in frames[15:]:
        closed += pipeline.process(frame)
    assert pipeline.pending is None
    names = [{r.name.split("/")[0] for r in s.records()} for s in closed]
    # The interval in progress at the change keeps its lines; the next has both.
    assert all("new" not in n for n in names[:2])
    assert all({"old", "new"} <= n for n in names[2:])
    assert [s.start for s in closed] == [1000.0 + i for i in range(len(closed))]
    # The unchanged line kept its state across the switch: no crossing lost or doubled.
    total = {
        line: sum(s.count(line, "person", d) for s in closed[2:] for d in ("in", "out"))
        for line in ("old", "new")
    }
    assert total["old"] == total["new"] > 0
