"""The service run loop: signals stop it, systemd hears READY/WATCHDOG/STOPPING over a
real datagram socket, and the watchdog is fed only while the service is alive."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fieldproof.runloop import run_service, sd_notify, watchdog_interval_s


class Recorder:
    """A service that notes its calls; ``on_start`` runs inside ``start()``."""

    def __init__(self, on_start: Callable[[], object] | None = None) -> None:
        self.calls: list[str] = []
        self.started = threading.Event()
        self.on_start = on_start

    def start(self) -> None:
        self.calls.append("start")
        if self.on_start is not None:
            self.on_start()
        self.started.set()

    def stop(self) -> None:
        self.calls.append("stop")


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(path))
        receiver.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.delenv("WATCHDOG_USEC", raising=False)
        yield receiver


def _drain(receiver: socket.socket) -> list[bytes]:
    receiver.settimeout(0.2)
    messages = []
    while True:
        try:
            messages.append(receiver.recv(64))
        except TimeoutError:
            return messages


def test_sd_notify_over_a_real_socket(
    notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sd_notify("READY=1")
    assert sd_notify("WATCHDOG=1")
    assert notify_socket.recv(64) == b"READY=1"
    assert notify_socket.recv(64) == b"WATCHDOG=1"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not sd_notify("READY=1")
    monkeypatch.setenv("WATCHDOG_USEC", "20000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval_s() == 10.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert watchdog_interval_s() is None  # another process is the one watched


def test_sigterm_stops_the_service(notify_socket: socket.socket) -> None:
    service = Recorder()
    before = signal.getsignal(signal.SIGTERM)

    def send_sigterm() -> None:
        service.started.wait(5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=send_sigterm, daemon=True).start()
    assert run_service(service, name="test") == 0
    assert service.calls == ["start", "stop"]
    assert _drain(notify_socket) == [b"READY=1", b"STOPPING=1"]
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_signal_during_start_stops_once_started(notify_socket: socket.socket) -> None:
    service = Recorder(on_start=lambda: os.kill(os.getpid(), signal.SIGINT))
    assert run_service(service, name="test") == 0
    assert service.calls == ["start", "stop"]
    assert _drain(notify_socket) == [b"READY=1", b"STOPPING=1"]


def test_watchdog_pings_only_while_alive(
    notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # ping every 0.05 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    healthy = threading.Event()
    healthy.set()
    stop = threading.Event()
    service = Recorder()
    # Off the main thread: no signal handlers, only ``stop`` ends the run.
    runner = threading.Thread(
        target=run_service, args=(service,), kwargs={"alive": healthy.is_set, "stop": stop}
    )
    runner.start()
    try:
        notify_socket.settimeout(5)
        assert notify_socket.recv(64) == b"READY=1"
        assert [notify_socket.recv(64) for _ in range(3)] == [b"WATCHDOG=1"] * 3
        healthy.clear()
        time.sleep(0.1)  # a ping already under way may still arrive
        _drain(notify_socket)
        time.sleep(0.3)
        assert _drain(notify_socket) == []
        healthy.set()
        notify_socket.settimeout(5)
        assert notify_socket.recv(64) == b"WATCHDOG=1"
    finally:
        stop.set()
        runner.join(5)
    assert not runner.is_alive()
    assert _drain(notify_socket)[-1] == b"STOPPING=1"
    assert service.calls == ["start", "stop"]


def test_a_failing_liveness_check_withholds_the_ping(notify_socket: socket.socket) -> None:
    stop = threading.Event()

    def broken() -> bool:
        stop.set()
        raise RuntimeError("reader failed")

    assert run_service(Recorder(), alive=broken, stop=stop, watchdog_s=0.01) == 0
    assert _drain(notify_socket) == [b"READY=1", b"STOPPING=1"]


def test_stop_runs_even_when_the_loop_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    service = Recorder()

    def notify(message: str) -> bool:
        if message == "READY=1":
            raise OSError("notify failed")
        return False

    with pytest.raises(OSError, match="notify failed"):
        run_service(service, notify=notify)
    assert service.calls == ["start", "stop"]
