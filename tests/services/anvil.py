"""anvil (npm @foundry-rs/anvil) on a free port, for the chain tests."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services.ports import free_port, port_open, require_binary, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
ANVIL_BIN_DIR = str(REPO_ROOT / "node_modules" / ".bin")


def rpc(url: str, method: str, params: list[object]) -> object:
    """One raw JSON-RPC call (for node-specific methods such as anvil_setBalance)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def _answers(url: str, port: int) -> bool:
    if not port_open(port):
        return False
    try:
        rpc(url, "eth_chainId", [])
    except OSError:
        return False
    return True


@pytest.fixture(scope="session")
def anvil_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a fresh anvil node (``--hardfork osaka``: it has the P-256 precompile)."""
    binary = require_binary(
        "anvil", "npm ci   (installs @foundry-rs/anvil from package.json)", (ANVIL_BIN_DIR,)
    )
    port = free_port()
    log_path = tmp_path_factory.mktemp("anvil") / "anvil.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [str(binary), "--port", str(port), "--hardfork", "osaka", "--silent"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: process.poll() is None and _answers(url, port),
            30,
            f"anvil (log: {log_path})",
        )
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
