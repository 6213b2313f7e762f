"""Key sources: the allowlist file (reloaded on change) and the DeviceRegistry contract
on a real in-process chain, both driving the verification pipeline."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from eth_account import Account

from aggregator.ingest.pipeline import Accepted, Rejected, Verifier
from aggregator.ingest.reasons import Reason
from aggregator.registry import KeySource
from aggregator.registry.allowlist import AllowlistKeySource, write_allowlist
from aggregator.registry.chain import ChainKeySource
from fieldproof.chain.backends import connect, prefunded_keys
from fieldproof.chain.bindings import DeviceRegistry
from fieldproof.chain.deploy import deploy_all
from fieldproof.chain.pop import sign_pop
from fieldproof.chain.sender import Sender
from fieldproof.errors import ConfigError
from fieldproof.identity import did_key_from_public_key
from tests.aggregator.reports import new_device


def verdict_reason(keys: KeySource, seq: int, device: object) -> Reason | None:
    verdict = Verifier(keys).verify(device.topic, device.signed(seq), time.time())  # type: ignore[attr-defined]
    return None if isinstance(verdict, Accepted) else verdict.reason  # type: ignore[union-attr]


def test_allowlist_reloads_when_the_file_changes(tmp_path: Path) -> None:
    a, b = new_device(), new_device()
    path = tmp_path / "devices.yaml"
    write_allowlist(path, [(did_key_from_public_key(a.key.public_key), True)])
    keys = AllowlistKeySource(path, reload_s=0.01)
    assert verdict_reason(keys, 1, a) is None
    assert verdict_reason(keys, 1, b) == Reason.UNKNOWN_DEVICE
    time.sleep(0.02)
    write_allowlist(
        path,
        [
            (did_key_from_public_key(a.key.public_key), False),
            ("0x" + b.key.public_key.hex(), True),
        ],
    )
    future = time.time() + 5
    os.utime(path, (future, future))  # a distinct mtime even on coarse clocks
    time.sleep(0.02)
    assert verdict_reason(keys, 2, a) == Reason.INACTIVE_DEVICE
    assert verdict_reason(keys, 2, b) is None


def test_allowlist_errors_name_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "devices.yaml"
    path.write_text("devices:\n  - key: not-a-key\n")
    with pytest.raises(ConfigError, match=r"devices -> 0 -> key"):
        AllowlistKeySource(path)


def test_chain_key_source_follows_the_device_registry() -> None:
    w3 = connect("eth-tester://")
    account = Account.from_key(prefunded_keys(w3)[0])
    sender = Sender(w3, account, receipt_timeout=30)
    deployment = deploy_all(sender)
    registry_address = deployment.contracts["DeviceRegistry"].address
    registry = DeviceRegistry(w3, registry_address, sender)
    device, stranger = new_device(), new_device()
    pop = sign_pop(device.key, registry_address, w3.eth.chain_id, account.address, 0)
    registry.register(pop)

    now = [0.0]
    keys = ChainKeySource(
        DeviceRegistry(w3, registry_address), cache_s=60, negative_cache_s=5,
        clock=lambda: now[0],
    )  # fmt: skip
    entry = keys.lookup(device.device_id)
    assert entry is not None
    assert (entry.public_key, entry.active) == (device.key.public_key, True)
    assert keys.lookup(stranger.device_id) is None
    assert verdict_reason(keys, 1, device) is None
    assert verdict_reason(keys, 1, stranger) == Reason.UNKNOWN_DEVICE

    registry.deactivate(device.device_id)
    assert verdict_reason(keys, 2, device) is None  # cached for cache_s
    now[0] += 61
    assert verdict_reason(keys, 3, device) == Reason.INACTIVE_DEVICE


def test_registry_outage_is_a_reason_not_a_crash() -> None:
    class Down:
        def registration_of(self, device_id: bytes) -> None:
            raise OSError("connection refused")

        def public_key_of(self, device_id: bytes) -> bytes:
            raise AssertionError

        def is_active(self, device_id: bytes) -> bool:
            raise AssertionError

    device = new_device()
    verdict = Verifier(ChainKeySource(Down())).verify(device.topic, device.signed(1), time.time())
    assert isinstance(verdict, Rejected)
    assert verdict.reason == Reason.REGISTRY_UNAVAILABLE
