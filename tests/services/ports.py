"""Free loopback ports and binary lookup shared by the service fixtures."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from demo.broker import free_port

__all__ = ["free_port", "require_binary"]

INSTALL_SERVICES = "deploy/dev/install-test-services.sh"


def require_binary(name: str, install_hint: str, extra_dirs: tuple[str, ...] = ()) -> Path:
    """Path of ``name``; fails the test (never skips) with the command that installs it."""
    for directory in extra_dirs:
        candidate = Path(directory) / name
        if candidate.exists():
            return candidate
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} not found; install it with: {install_hint}\n"
            f"(every service the tests start: sudo {INSTALL_SERVICES})",
            pytrace=False,
        )
    return Path(found)


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` until it is true or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    pytest.fail(f"{what} did not become ready within {timeout} s", pytrace=False)


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0
