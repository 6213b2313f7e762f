"""A real network camera (MJPEG over HTTP) that drops, is unreachable, and comes back."""

from __future__ import annotations

import threading
import time

import pytest

from edge_agent.analytics.intervals import IntervalAggregator
from edge_agent.sources import BackoffConfig, CameraConfig, Frame, Offline, open_camera
from tests.edge_agent.sources.mjpeg_server import MjpegCamera
from tests.edge_agent.sources.outages import offline_total, summarise
from tests.services.ports import free_port


def test_http_camera_drop_outage_and_return() -> None:
    port = free_port()
    camera = MjpegCamera(port)
    down_s = 0.8
    script = camera.run_script(frames=20, fps=40.0, down_s=down_s)
    assert camera.listening.wait(5.0)

    stop = threading.Event()
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        stop.wait(seconds)

    cfg = CameraConfig(
        name="cam",
        url=f"http://127.0.0.1:{port}/stream.mjpg",
        reconnect=BackoffConfig(initial_s=0.1, factor=2.0, max_s=0.4, jitter=0.0),
        open_timeout_s=2.0,
        read_timeout_s=2.0,
    )
    source = open_camera(cfg, sleep=sleep, stop=stop)
    events: list[Frame | Offline] = []
    frames_seen = 0
    started = time.monotonic()
    deadline = started + 20.0
    for event in source.events():
        events.append(event)
        if isinstance(event, Frame):
            frames_seen += 1 + event.dropped
        # Done once both sessions are consumed and the second drop was noticed.
        if (
            camera.sessions_served == 2 and isinstance(event, Offline)
        ) or time.monotonic() > deadline:
            stop.set()
    source.close()
    script.join(5.0)

    assert frames_seen == 40
    frames = [e for e in events if isinstance(e, Frame)]
    assert all(f.image.shape == (240, 320, 3) for f in frames)
    # Growing, capped delays while the camera was unreachable; never a tight loop.
    assert delays[:3] == [0.1, 0.2, 0.4]
    assert max(delays) == 0.4
    assert len(delays) <= 2 + down_s / 0.1
    # The outage: every gap between the last frame of the first session and the
    # first frame of the second.
    first_gap = next(i for i, e in enumerate(events) if isinstance(e, Offline))
    back = next(i for i, e in enumerate(events) if i > first_gap and isinstance(e, Frame))
    outage = offline_total(events[first_gap:back])
    assert outage >= down_s * 0.75

    # The outage appears as offline seconds in the interval report, never as zero traffic.
    assert isinstance(events[0], Frame)
    agg = IntervalAggregator("cam", 0.2, events[0].timestamp, lines=["door"], classes=["person"])
    until = events[-1].end + 0.2 if isinstance(events[-1], Offline) else 0.0
    summaries = summarise(agg, events, until)
    all_gaps = offline_total(events)
    assert sum(s.offline_seconds for s in summaries) == pytest.approx(all_gaps, abs=1e-3)
    dark = [s for s in summaries if s.frames == 0 and s.uptime_seconds == 0.0]
    assert dark
    for summary in dark:
        assert not any(r.name.startswith("door/") for r in summary.records())
