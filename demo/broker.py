"""The demo's MQTT broker: Mosquitto when it is on PATH, else amqtt inside this process.

Mosquitto speaks MQTT v5 (shared subscriptions); amqtt speaks only 3.1.1, so clients
against it use their 3.1.1 mode.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from aggregator.errors import AggregatorError

Protocol = Literal["v5", "3.1.1"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AggregatorError(f"{what} did not open port {port} within {timeout} s")


@dataclass
class DemoBroker:
    """A running broker; ``stop()`` ends it."""

    port: int
    protocol: Protocol
    name: str
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _stop: asyncio.Event | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=10)
            self._loop = None


MOSQUITTO_SETTINGS = (
    # Mosquitto's defaults drop QoS 1 messages under load (20 in flight, 1,000 queued).
    "allow_anonymous true\n"
    "set_tcp_nodelay true\n"
    "max_inflight_messages 1000\n"
    "max_queued_messages 100000\n"
)


def start_mosquitto(binary: str, workdir: Path) -> DemoBroker:
    port = free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\n{MOSQUITTO_SETTINGS}"
        f"log_dest file {workdir / 'mosquitto.log'}\n"
    )
    process = subprocess.Popen(
        [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _wait_for_port(port, 10.0, "mosquitto")
    return DemoBroker(port, "v5", "mosquitto", _process=process)


def start_amqtt() -> DemoBroker:
    from amqtt.broker import Broker  # type: ignore[import-untyped]

    port = free_port()
    ready = threading.Event()
    failure: list[BaseException] = []
    holder: dict[str, object] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        holder["stop"] = stop
        holder["loop"] = asyncio.get_running_loop()
        broker = Broker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}}})
        try:
            await broker.start()
        except BaseException as exc:  # reported to the starting thread below
            failure.append(exc)
            ready.set()
            return
        ready.set()
        await stop.wait()
        await broker.shutdown()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), name="amqtt", daemon=True)
    thread.start()
    ready.wait(15)
    if failure:
        raise AggregatorError(f"embedded broker failed to start: {failure[0]}") from failure[0]
    _wait_for_port(port, 10.0, "embedded broker")
    loop = holder["loop"]
    stop = holder["stop"]
    assert isinstance(loop, asyncio.AbstractEventLoop)
    assert isinstance(stop, asyncio.Event)
    return DemoBroker(port, "3.1.1", "amqtt (in-process)", _loop=loop, _thread=thread, _stop=stop)


def start_demo_broker(workdir: Path, *, prefer_mosquitto: bool = True) -> DemoBroker:
    """Mosquitto when installed (and preferred), else the in-process amqtt broker."""
    binary = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if prefer_mosquitto and binary is not None:
        return start_mosquitto(binary, workdir)
    return start_amqtt()
