"""One way to run a service process: until SIGTERM/SIGINT, with systemd's notify protocol.

A service is anything with ``start()`` and ``stop()``; ``start()`` returns once it is
serving (its own threads do the work). :func:`run_service` installs the signal
handlers, starts it, says ``READY=1``, feeds systemd's watchdog while ``alive()``
holds, and on a signal says ``STOPPING=1`` and stops it::

    from fieldproof.runloop import configure_logging, run_service

    def main(args: argparse.Namespace) -> int:
        configure_logging(args.log_level)
        aggregator = Aggregator(load_aggregator_config(args.config))
        return run_service(aggregator, alive=aggregator.alive, name="aggregator")

Outside systemd (no ``$NOTIFY_SOCKET``) the notifications are skipped; without
``$WATCHDOG_USEC`` nothing is pinged. Standard library only.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Protocol

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Service(Protocol):
    """What :func:`run_service` runs."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def _always_alive() -> bool:
    return True


def configure_logging(level: str | int = "INFO") -> None:
    """Log to stderr with time, level and logger name (what journald and tests read)."""
    if isinstance(level, str):
        level = level.upper()
    logging.basicConfig(level=level, format=LOG_FORMAT)


def sd_notify(message: str, socket_path: str | None = None) -> bool:
    """Send ``message`` (``"READY=1"``, ``"WATCHDOG=1"``…) to ``$NOTIFY_SOCKET``.

    Returns False when not run by systemd or when the socket is gone.
    """
    path = socket_path if socket_path is not None else os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    # A leading "@" names an abstract socket (its first byte is NUL).
    address = "\0" + path[1:] if path.startswith("@") else path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError:
        return False
    return True


def watchdog_interval_s() -> float | None:
    """Half of systemd's ``WatchdogSec`` when this process is the one watched, else None."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        interval = int(usec) / 2e6
    except ValueError:
        return None
    return interval if interval > 0 else None


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGTERM/SIGINT while inside; the previous handlers come back after.

    Signal handlers can only be installed from the main thread; elsewhere (a service
    run from a test thread) only ``stop`` ends the run.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_service(
    service: Service,
    *,
    alive: Callable[[], bool] = _always_alive,
    stop: threading.Event | None = None,
    name: str = "service",
    watchdog_s: float | None = None,
    notify: Callable[[str], bool] = sd_notify,
) -> int:
    """Run ``service`` until SIGTERM/SIGINT or ``stop`` is set; returns the exit status (0).

    ``alive`` is asked before each watchdog ping: while it returns False no ping goes
    out, so systemd restarts a service whose threads died. ``watchdog_s`` defaults to
    half of ``$WATCHDOG_USEC``. A signal during ``start()`` stops the service as soon
    as it has started. ``service.stop()`` runs even when the loop fails.
    """
    stop = stop if stop is not None else threading.Event()
    interval = watchdog_s if watchdog_s is not None else watchdog_interval_s()
    with stop_on_signals(stop):
        service.start()
        try:
            # READY before the first WATCHDOG ping: systemd expects that order.
            notify("READY=1")
            log.info("%s running", name)
            while True:
                if interval is not None and _alive(alive, name):
                    notify("WATCHDOG=1")
                if stop.wait(interval if interval is not None else 1.0):
                    break
        finally:
            notify("STOPPING=1")
            log.info("%s stopping", name)
            service.stop()
    return 0


def _alive(alive: Callable[[], bool], name: str) -> bool:
    try:
        ok = alive()
    except Exception:  # a failing check counts as not alive, never as a crash
        log.exception("%s: liveness check failed", name)
        return False
    if not ok:
        log.warning("%s: not alive; withholding the watchdog ping", name)
    return ok
