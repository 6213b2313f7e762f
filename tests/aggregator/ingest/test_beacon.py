"""The freshness beacon on a real chain (anvil): a stale, unknown or future beacon is a
dead letter with its reason; a recent one passes; version 1 reports follow the switch."""

from __future__ import annotations

import dataclasses

import pytest
from web3 import Web3

from aggregator.ingest.beacon import BeaconCheck, BeaconPolicy, Block, BlockCache, Web3Blocks
from aggregator.ingest.beacon_publisher import BeaconPublisher
from aggregator.ingest.consumer import Message
from aggregator.ingest.pipeline import Accepted, Rejected, Verifier
from aggregator.ingest.reasons import Reason
from aggregator.ingest.writer import BatchBuilder
from aggregator.metrics import IngestMetrics
from aggregator.registry.static import StaticKeySource
from fieldproof.chain.backends import connect
from fieldproof.protocol.beacon import parse_beacon
from fieldproof.wire import Beacon, sign_report
from tests.aggregator.reports import new_device
from tests.services.anvil import rpc

DEVICE = new_device()


class CountingBlocks(Web3Blocks):
    """The real chain, counting the reads (the check must not read it per report)."""

    def __init__(self, w3: Web3) -> None:
        super().__init__(w3)
        self.reads = 0

    def latest(self) -> Block:
        self.reads += 1
        return super().latest()

    def block(self, number: int) -> Block | None:
        self.reads += 1
        return super().block(number)


@pytest.fixture
def chain(anvil_url: str) -> tuple[Web3, str]:
    w3 = connect(anvil_url)
    rpc(anvil_url, "anvil_mine", ["0x5"])
    return w3, anvil_url


def _block(w3: Web3, number: int | str = "latest") -> Block:
    found = Web3Blocks(w3).block(w3.eth.block_number if number == "latest" else int(number))
    assert found is not None
    return found


def _verifier(cache: BlockCache, *, allow_missing: bool = True) -> Verifier:
    keys = StaticKeySource([DEVICE.key.public_key])
    return Verifier(keys, beacons=BeaconCheck(cache, BeaconPolicy(600.0, allow_missing)))


def _signed(seq: int, beacon: Beacon | None, end: int | None = None) -> bytes:
    report = DEVICE.report(seq)
    if end is not None:
        report = dataclasses.replace(report, start=end - 60, end=end, records=())
    return sign_report(dataclasses.replace(report, beacon=beacon), DEVICE.key)


def test_beacons_are_checked_from_the_cache_with_their_reasons(
    chain: tuple[Web3, str],
) -> None:
    w3, _ = chain
    source = CountingBlocks(w3)
    cache = BlockCache(source, keep=64)
    cache.refresh()
    head = _block(w3)
    old = _block(w3, head.number - 3)
    verifier = _verifier(cache)
    builder = BatchBuilder(verifier, IngestMetrics(), 4096)
    end = head.timestamp + 30
    cases = {
        "fresh": (Beacon(head.number, head.block_hash), end, None),
        "stale": (Beacon(old.number, old.block_hash), old.timestamp + 601, Reason.BEACON_STALE),
        "unknown": (Beacon(head.number, bytes(32)), end, Reason.BEACON_UNKNOWN),
        "future": (Beacon(head.number + 50, head.block_hash), end, Reason.BEACON_FUTURE),
        "version 1": (None, end, None),
    }
    reads = source.reads
    messages = [
        Message(DEVICE.topic, _signed(seq, beacon, at), seq, 1, float(head.timestamp + 700), 0)
        for seq, (beacon, at, _) in enumerate(cases.values(), start=1)
    ]
    batch, accepted, _ = builder.build(messages)
    # A lookup per report would show here: the check reads only the cache.
    assert source.reads == reads
    assert sorted(a.seq for a in accepted) == [1, 5]
    letters = {letter.seq: letter for letter in batch.dead_letters}
    for seq, (name, (_, _, reason)) in enumerate(cases.items(), start=1):
        if reason is None:
            assert seq not in letters, name
        else:
            assert letters[seq].reason == reason.value, name
    assert "ahead of the chain's head" in letters[4].detail
    assert f"not block {head.number}" in letters[3].detail


def test_version_1_reports_are_refused_once_the_switch_is_off(chain: tuple[Web3, str]) -> None:
    w3, _ = chain
    cache = BlockCache(Web3Blocks(w3))
    cache.refresh()
    head = _block(w3)
    end = head.timestamp + 10
    unbeaconed = _signed(1, None, end)
    verdict = _verifier(cache, allow_missing=False).verify(DEVICE.topic, unbeaconed, float(end))
    assert isinstance(verdict, Rejected)
    assert verdict.reason == Reason.BEACON_MISSING
    assert isinstance(_verifier(cache).verify(DEVICE.topic, unbeaconed, float(end)), Accepted)
    beaconed = _signed(2, Beacon(head.number, head.block_hash), end)
    assert isinstance(_verifier(cache).verify(DEVICE.topic, beaconed, float(end)), Accepted)


def test_an_old_block_is_looked_up_once(
    chain: tuple[Web3, str],
) -> None:
    w3, url = chain
    source = CountingBlocks(w3)
    cache = BlockCache(source, keep=16, backfill=4)
    rpc(url, "anvil_mine", ["0x20"])
    cache.refresh()
    head = _block(w3)
    deep = _block(w3, head.number - 20)  # below what the cache keeps
    check = BeaconCheck(cache, BeaconPolicy(10**9, True))
    reads = source.reads
    for _ in range(5):
        assert check.check(Beacon(deep.number, deep.block_hash), head.timestamp) is None
    assert source.reads == reads + 1
    # A hash that is not the chain's at that number is unknown, however old.
    refused = check.check(Beacon(deep.number - 1, deep.block_hash), head.timestamp)
    assert refused is not None
    assert refused[0] == Reason.BEACON_UNKNOWN


def test_the_publisher_sends_the_head_retained_and_throttled() -> None:
    sent: list[tuple[str, bytes, bool]] = []
    now = [100.0]
    publisher = BeaconPublisher(lambda t, p, r: sent.append((t, p, r)), 10.0, clock=lambda: now[0])
    block = Block(7, b"\x01" * 32, b"\x00" * 32, 1_764_000_000)
    publisher(block)
    publisher(dataclasses.replace(block, number=8))
    now[0] += 10.0
    publisher(dataclasses.replace(block, number=9))
    assert [(t, r) for t, _, r in sent] == [("fp/v1/beacon", True)] * 2
    parsed = [parse_beacon(p) for _, p, _ in sent]
    assert [b.beacon.number for b in parsed] == [7, 9]
    assert parsed[0].beacon.block_hash == b"\x01" * 32
    assert parsed[0].timestamp == 1_764_000_000
