"""``fieldproof verify``'s beacon step: the block must exist on the chain, be that block,
and not precede the report's interval by more than the limit."""

from __future__ import annotations

from fieldproof.cli.verify import STEP_BEACON, check_beacon
from fieldproof.wire import Beacon, Record, Report, sign_report
from tests.aggregator.reports import new_device

DEVICE = new_device()
BLOCK_HASH = bytes(range(32))
BLOCK_TIME = 1_000_000
CHAIN = {42: (BLOCK_HASH, BLOCK_TIME)}


def _signed(beacon: Beacon | None, end: int = BLOCK_TIME + 300) -> bytes:
    report = Report(
        DEVICE.device_id, 1, end - 60, end, (Record("temperature", value=1.0),), beacon=beacon
    )
    return sign_report(report, DEVICE.key)


def test_a_beacon_of_this_chain_before_the_interval_passes() -> None:
    step = check_beacon(_signed(Beacon(42, BLOCK_HASH)), CHAIN.get, 3600)
    assert step is not None
    assert (step.name, step.ok) == (STEP_BEACON, True)
    assert "300 s before the interval's end" in step.detail


def test_an_unknown_block_a_wrong_hash_and_an_old_block_fail() -> None:
    future = check_beacon(_signed(Beacon(43, BLOCK_HASH)), CHAIN.get, 3600)
    assert future is not None
    assert not future.ok
    assert "does not exist" in future.detail
    forged = check_beacon(_signed(Beacon(42, bytes(32))), CHAIN.get, 3600)
    assert forged is not None
    assert not forged.ok
    assert "not a block of this chain" in forged.detail
    early = check_beacon(_signed(Beacon(42, BLOCK_HASH), end=BLOCK_TIME + 7200), CHAIN.get, 3600)
    assert early is not None
    assert not early.ok
    assert "made in advance" in early.detail


def test_a_report_without_a_beacon_has_no_beacon_step() -> None:
    assert check_beacon(_signed(None), CHAIN.get, 3600) is None
