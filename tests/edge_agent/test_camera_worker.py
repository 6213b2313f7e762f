"""Camera workers survive: long outages, failing runs, and the watchdog sees a stuck one."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest

from edge_agent.camera_worker import CameraWorker
from edge_agent.health.stats import StatsRegistry
from edge_agent.sources import CameraConfig, CameraSource, open_camera
from edge_agent.sources.capture import Capture
from fieldproof.backoff import BackoffPolicy
from tests.edge_agent.camera_fakes import EmptyDetector, Reports, StuckSource, camera
from tests.edge_agent.sources.fakes import FakeClock, ScriptedCapture, ScriptedFactory, picture

RESTART = BackoffPolicy(initial_s=1.0, max_s=8.0, jitter=0.0)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_camera_down_for_2000_attempts_is_read_again_when_it_returns() -> None:
    clock = FakeClock()
    outcomes: list[Capture | Exception] = [OSError("connection refused")] * 2000
    factory = ScriptedFactory([*outcomes, ScriptedCapture([picture(i) for i in range(20)])])

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if not factory.outcomes:
            time.sleep(0.005)  # back after the outage: pace the fake camera's retries

    def open_source(config: CameraConfig, stop: threading.Event) -> CameraSource:
        return open_camera(config, factory=factory, clock=clock, sleep=sleep, stop=stop)

    reports = Reports()
    worker = CameraWorker(
        camera(), EmptyDetector, reports, StatsRegistry(), open_source=open_source
    )
    worker.start()
    try:
        assert wait_for(lambda: worker.frames > 0), "no frame after the camera came back"
    finally:
        worker.stop()
    assert factory.attempts > 2000
    outage = clock.sleeps[:2000]
    assert max(outage) <= 30.0
    assert min(outage) >= 0.25
    assert worker.restarts == 0
    assert reports.items, "the outage was reported as offline intervals"


def test_a_run_that_raises_is_logged_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    opens = 0
    delays: list[float] = []
    stop_run = threading.Event()

    def open_source(config: CameraConfig, stop: threading.Event) -> CameraSource:
        nonlocal opens
        opens += 1
        if opens <= 2:
            raise RuntimeError("driver crashed")
        clock = FakeClock()
        factory = ScriptedFactory([ScriptedCapture([picture(i) for i in range(10)])])

        def sleep(seconds: float) -> None:
            clock.sleep(seconds)
            stop_run.wait(0.005)

        return open_camera(config, factory=factory, clock=clock, sleep=sleep, stop=stop)

    def wait(seconds: float) -> bool:
        delays.append(seconds)
        return False

    detector = EmptyDetector(failures=1)  # the third run's loop raises on its first frame
    worker = CameraWorker(
        camera(),
        lambda: detector,
        Reports(),
        StatsRegistry(),
        open_source=open_source,
        restart=RESTART,
        wait=wait,
    )
    with caplog.at_level(logging.ERROR, logger="edge_agent.camera_worker"):
        worker.start()
        try:
            assert wait_for(lambda: worker.frames > 1), "no frames after the restarts"
        finally:
            worker.stop()
            stop_run.set()
    assert worker.restarts == 3
    assert delays == [1.0, 2.0, 4.0]
    assert opens == 4
    assert sum("restart" in r.getMessage() for r in caplog.records) == 3
    assert worker.healthy()


def test_a_stuck_worker_is_unhealthy_after_its_bound() -> None:
    clock = FakeClock()
    worker = CameraWorker(
        camera(),
        EmptyDetector,
        Reports(),
        StatsRegistry(),
        open_source=lambda config, stop: StuckSource(stop),
        clock=clock,
    )
    worker.start()
    try:
        assert worker.healthy()
        clock.now += worker.stall_after_s - 1.0
        assert worker.healthy()
        clock.now += 2.0
        assert not worker.healthy()
    finally:
        worker.stop()
    assert worker.healthy()  # a stopped worker no longer counts


def test_a_file_that_ends_finishes_the_worker() -> None:
    def open_source(config: CameraConfig, stop: threading.Event) -> CameraSource:
        factory = ScriptedFactory([ScriptedCapture([picture(i) for i in range(5)])])
        return open_camera(config, factory=factory, stop=stop, decode_ahead=0)

    worker = CameraWorker(
        camera(url="clip.mp4"), EmptyDetector, Reports(), StatsRegistry(), open_source=open_source
    )
    worker.start()
    assert wait_for(lambda: worker.finished)
    worker.stop()
    assert worker.frames == 5
    assert worker.restarts == 0
    assert worker.healthy()
