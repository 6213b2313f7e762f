"""Cameras that go away and come back: backoff, no crash, the gap reported as offline time."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.analytics.intervals import IntervalAggregator
from edge_agent.sources import (
    BackoffConfig,
    CameraConfig,
    CameraUnavailableError,
    Frame,
    Offline,
    StreamReader,
    open_camera,
)
from edge_agent.sources.capture import Capture
from tests.edge_agent.sources.fakes import FakeClock, ScriptedCapture, ScriptedFactory, picture
from tests.edge_agent.sources.outages import offline_total, summarise
from tests.services.ports import free_port

FAST = BackoffConfig(initial_s=0.5, factor=2.0, max_s=4.0, jitter=0.0)


def camera(url: str, **kw: object) -> CameraConfig:
    return CameraConfig.model_validate({"name": "cam", "url": url, "reconnect": FAST, **kw})


def write_video(path: Path, frames: int, fps: float = 10.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (64, 48))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(picture(i))
    writer.release()


def test_capture_that_fails_then_recovers_reports_the_gap() -> None:
    clock = FakeClock(start=1000.0)
    factory = ScriptedFactory(
        [
            OSError("connection refused"),
            ScriptedCapture([], opened=False),
            OSError("connection refused"),
            ScriptedCapture([picture(i) for i in range(5)]),  # then the stream drops
            ScriptedCapture([picture(i) for i in range(3)]),
        ]
    )
    stop = threading.Event()
    # The fifth delay happens after the second drop; stop there.
    clock.on_sleep = lambda n: stop.set() if n == 5 else None
    reader = StreamReader(
        camera("rtsp://cam.local/s"), factory=factory, clock=clock, sleep=clock.sleep, stop=stop
    )
    events = list(reader.events())

    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 4.0]
    frames = [e for e in events if isinstance(e, Frame)]
    assert len(frames) == 8
    assert [f.index for f in frames] == list(range(8))
    assert offline_total(events) == pytest.approx(sum(clock.sleeps))
    assert reader.stats.open_failures == 3
    assert reader.stats.read_failures == 2

    # The aggregator turns the gap into offline seconds, not into zero traffic.
    agg = IntervalAggregator("cam", 2.0, 1000.0, lines=["door"], classes=["person"])
    summaries = summarise(agg, events, clock.now + 2.0)
    offline = sum(s.offline_seconds for s in summaries)
    assert offline == pytest.approx(sum(clock.sleeps))
    first = summaries[0]
    records = {r.name: r.value for r in first.records()}
    assert records["cam/offline"] == 2.0
    assert "door/person/in" not in records


def test_blank_frames_never_reach_the_consumer() -> None:
    black = np.zeros((48, 64, 3), dtype=np.uint8)
    factory = ScriptedFactory([ScriptedCapture([black, picture(1), black, picture(2)])])
    reader = StreamReader(camera("clip.avi"), factory=factory)
    frames = [e for e in reader.events() if isinstance(e, Frame)]
    assert len(frames) == 2
    assert all(f.image.any() for f in frames)
    assert reader.stats.blank_frames == 2


def test_file_removed_and_restored(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    write_video(video, 20)
    hidden = tmp_path / "clip.avi.away"
    video.rename(hidden)
    clock = FakeClock()
    clock.on_sleep = lambda n: hidden.rename(video) if n == 3 else None
    reader = StreamReader(camera(str(video)), clock=clock, sleep=clock.sleep)
    events = list(reader.events())
    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert sum(isinstance(e, Frame) for e in events) == 20
    assert offline_total(events) == pytest.approx(3.5)
    assert reader.stats.open_failures == 3


def test_file_that_never_appears_gives_up_when_told() -> None:
    clock = FakeClock()
    cfg = camera("/nonexistent/clip.avi", reconnect={**FAST.model_dump(), "max_attempts": 3})
    reader = StreamReader(cfg, clock=clock, sleep=clock.sleep)
    with pytest.raises(CameraUnavailableError, match="after 3 attempt"):
        list(reader.events())
    assert clock.sleeps == [0.5, 1.0]


def test_refused_rtsp_backs_off_without_crashing() -> None:
    url = f"rtsp://127.0.0.1:{free_port()}/x"
    cfg = camera(url, reconnect=BackoffConfig(initial_s=0.05, factor=2.0, max_s=0.2, jitter=0.0))
    stop = threading.Event()
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        time.sleep(seconds)
        if len(delays) == 5:
            stop.set()

    source = open_camera(cfg, sleep=sleep, stop=stop)
    assert source.live
    started = time.monotonic()
    events = list(source.events())
    elapsed = time.monotonic() - started
    source.close()

    assert delays == [0.05, 0.1, 0.2, 0.2, 0.2]
    assert elapsed >= sum(delays)  # never a tight loop
    assert not any(isinstance(e, Frame) for e in events)
    assert source.stats.open_failures == 5
    gaps = [e for e in events if isinstance(e, Offline)]
    assert offline_total(gaps) == pytest.approx(sum(delays), rel=0.2)
    assert all(b.start == pytest.approx(a.end) for a, b in itertools.pairwise(gaps))

    # In the interval report the outage is offline time, with no counts at all.
    agg = IntervalAggregator("cam", 0.25, gaps[0].start, lines=["door"], classes=["car"])
    summaries = [s for gap in gaps for s in agg.offline(gap.start, gap.end)]
    summaries += agg.advance(gaps[-1].end + 0.25)
    assert sum(s.offline_seconds for s in summaries) == pytest.approx(offline_total(gaps))
    for summary in summaries:
        records = {r.name: r.value for r in summary.records()}
        assert records["cam/offline"] == pytest.approx(summary.offline_seconds)
        assert not any(name.startswith("door/") for name in records) or records["cam/uptime"]
    assert {r.name for r in summaries[1].records()} == {
        "cam/uptime",
        "cam/offline",
        "cam/frames",
        "cam/dropped_frames",
    }


def test_live_source_delivers_newest_frame_and_counts_drops() -> None:
    total = 200
    produced = threading.Semaphore(0)
    frames = [picture(i) for i in range(total)]
    capture = ScriptedCapture(frames, on_read=lambda: (time.sleep(0.001), produced.release()))
    stop = threading.Event()
    factory = ScriptedFactory([capture])
    source = open_camera(camera("rtsp://cam.local/s"), factory=factory, stop=stop)
    delivered = []
    dropped = 0
    for event in source.events():
        if isinstance(event, Frame):
            delivered.append(event)
            dropped += event.dropped
            time.sleep(0.02)  # inference slower than the stream
        if capture.reads == total:
            stop.set()
    source.close()
    assert dropped > 0
    assert len(delivered) + dropped == capture.reads
    assert source.stats.dropped == dropped


def test_native_pacing_skips_frames_when_the_consumer_is_slow() -> None:
    clock = FakeClock(start=0.0)
    capture = ScriptedCapture([picture(i) for i in range(40)], fps=10.0)
    cfg = camera("clip.avi", file_pacing="native")
    reader = StreamReader(cfg, factory=ScriptedFactory([capture]), clock=clock, sleep=clock.sleep)
    delivered = []
    for event in reader.events():
        assert isinstance(event, Frame)
        delivered.append(event)
        clock.now += 0.3  # three frame periods of work per frame
    assert len(delivered) + reader.stats.dropped == 40
    assert 8 <= len(delivered) <= 14
    assert capture.grabs == reader.stats.dropped
    assert sum(f.dropped for f in delivered) <= reader.stats.dropped


def test_looping_file_keeps_video_time_running(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    write_video(video, 10)
    stop = threading.Event()
    reader = StreamReader(camera(str(video), file_loop=True), stop=stop, video_time=True)
    frames = []
    for event in reader.events():
        assert isinstance(event, Frame)
        frames.append(event)
        if len(frames) == 25:
            stop.set()
    assert [f.index for f in frames] == list(range(25))
    assert [f.timestamp for f in frames] == pytest.approx([i / 10.0 for i in range(25)])
    assert reader.stats.opens == 3


def test_looping_empty_file_backs_off() -> None:
    clock = FakeClock()
    stop = threading.Event()
    clock.on_sleep = lambda n: stop.set() if n == 3 else None
    factory = ScriptedFactory([ScriptedCapture([]) for _ in range(5)])
    reader = StreamReader(
        camera("clip.avi", file_loop=True),
        factory=factory,
        clock=clock,
        sleep=clock.sleep,
        stop=stop,
    )
    assert [e for e in reader.events() if isinstance(e, Frame)] == []
    assert clock.sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("url", ["/dev/video99", f"http://127.0.0.1:{free_port()}/mjpg"])
def test_missing_device_or_refused_http_backs_off(url: str) -> None:
    clock = FakeClock()
    stop = threading.Event()
    clock.on_sleep = lambda n: stop.set() if n == 3 else None
    reader = StreamReader(camera(url), clock=clock, sleep=clock.sleep, stop=stop)
    events = list(reader.events())
    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert reader.stats.open_failures == 3
    assert offline_total(events) == pytest.approx(3.5)


def test_stalled_stream_is_offline_from_its_last_frame() -> None:
    clock = FakeClock(start=100.0)

    def stall() -> None:
        # The third read blocks for the whole read timeout before failing.
        if capture.reads == 2:
            clock.now += 10.0

    capture = ScriptedCapture([picture(0), picture(1)], on_read=stall)
    stop = threading.Event()
    clock.on_sleep = lambda n: stop.set()
    reader = StreamReader(
        camera("rtsp://cam.local/s"),
        factory=ScriptedFactory([capture]),
        clock=clock,
        sleep=clock.sleep,
        stop=stop,
    )
    events = list(reader.events())
    (gap,) = [e for e in events if isinstance(e, Offline)]
    assert gap.start == 100.0  # the last frame's time, not when the timeout fired
    assert gap.end == pytest.approx(110.5)


def test_file_camera_decodes_ahead_in_its_own_thread(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    write_video(video, 12)
    source = open_camera(camera(str(video)), video_time=True)
    assert not source.live
    indices = []
    for event in source.events():
        assert isinstance(event, Frame)
        indices.append(event.index)
        if event.index == 0:
            assert any(t.name == "decode-cam" for t in threading.enumerate())
    assert indices == list(range(12))
    direct = open_camera(camera(str(video)), video_time=True, decode_ahead=0)
    assert sum(1 for _ in direct.events()) == 12


def test_two_thousand_failed_opens_then_frames() -> None:
    clock = FakeClock(start=1000.0)
    outcomes: list[Capture | Exception] = [OSError("connection refused")] * 2000
    factory = ScriptedFactory([*outcomes, ScriptedCapture([picture(i) for i in range(3)])])
    stop = threading.Event()
    cfg = camera("rtsp://cam.local/s", reconnect={"initial_s": 0.5, "max_s": 30.0})
    reader = StreamReader(cfg, factory=factory, clock=clock, sleep=clock.sleep, stop=stop)
    frames = []
    for event in reader.events():
        if isinstance(event, Frame):
            frames.append(event)
            if len(frames) == 3:
                break
    assert len(frames) == 3
    assert len(clock.sleeps) == 2000
    assert all(0.0 <= delay <= 30.0 for delay in clock.sleeps)
