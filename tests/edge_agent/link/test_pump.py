"""The outbox pump's rules without a broker: window, order, acks, refusals, failed deletes."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from edge_agent.link.pump import OutboxPump
from edge_agent.outbox import Outbox, OutboxConfig, OutboxError
from fieldproof.protocol import Ack, encode_ack


class FakeLink:
    """Records hand-overs; the test plays the broker by acking message ids."""

    def __init__(self) -> None:
        self.connected = True
        self.sent: list[tuple[int, bytes]] = []
        self._mid = 0
        self._lock = threading.Lock()

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> int:
        with self._lock:
            self._mid += 1
            self.sent.append((self._mid, payload))
            return self._mid


class FlakyOutbox(Outbox):
    def __init__(self, config: OutboxConfig) -> None:
        super().__init__(config)
        self.fail_deletes = 0

    def delete(self, seqs: Iterable[int]) -> int:
        if self.fail_deletes:
            self.fail_deletes -= 1
            raise OutboxError("database is locked")
        return super().delete(seqs)


def _wait(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.01)


def _setup(tmp_path: Path, window: int, count: int) -> tuple[FlakyOutbox, FakeLink, OutboxPump]:
    outbox = FlakyOutbox(OutboxConfig(path=tmp_path / "o.sqlite"))
    for _ in range(count):
        outbox.append(lambda seq: seq.to_bytes(4, "big"))
    link = FakeLink()
    pump = OutboxPump(outbox, link, "t", window=window)  # type: ignore[arg-type]
    return outbox, link, pump


def test_window_order_and_acks(tmp_path: Path) -> None:
    outbox, link, pump = _setup(tmp_path, window=5, count=12)
    pump.start()
    try:
        _wait(lambda: len(link.sent) == 5)
        time.sleep(0.1)
        assert len(link.sent) == 5  # never more than the window unacknowledged
        assert [int.from_bytes(p, "big") for _, p in link.sent] == [1, 2, 3, 4, 5]
        for mid, _ in list(link.sent):
            pump.on_ack(mid, True)
        _wait(lambda: len(link.sent) == 10)
        for mid, _ in list(link.sent[5:]):
            pump.on_ack(mid, True)
        _wait(lambda: len(link.sent) == 12)
        for mid, _ in list(link.sent[10:]):
            pump.on_ack(mid, True)
        assert pump.wait_drained(5)
    finally:
        pump.stop()
    assert [int.from_bytes(p, "big") for _, p in link.sent] == list(range(1, 13))
    assert outbox.stats().depth == 0
    assert pump.stats().acknowledged == 12


def test_nothing_handed_over_while_disconnected(tmp_path: Path) -> None:
    _, link, pump = _setup(tmp_path, window=5, count=3)
    link.connected = False
    pump.start()
    try:
        time.sleep(0.3)
        assert link.sent == []
        link.connected = True
        pump.on_connect()
        _wait(lambda: len(link.sent) == 3)
    finally:
        pump.stop()


def test_refused_kept_and_retried_once_per_connection(tmp_path: Path) -> None:
    outbox, link, pump = _setup(tmp_path, window=10, count=2)
    pump.start()
    try:
        _wait(lambda: len(link.sent) == 2)
        pump.on_ack(link.sent[0][0], False)
        pump.on_ack(link.sent[1][0], True)
        _wait(lambda: pump.stats().acknowledged == 1)
        time.sleep(0.2)
        assert len(link.sent) == 2  # not retried within the same connection
        assert outbox.stats().depth == 1
        pump.on_connect()
        _wait(lambda: len(link.sent) == 3)
        assert int.from_bytes(link.sent[2][1], "big") == 1
        pump.on_ack(link.sent[2][0], True)
        assert pump.wait_drained(5)
    finally:
        pump.stop()
    assert pump.stats().refused == 1


def test_failed_delete_is_retried(tmp_path: Path) -> None:
    outbox, link, pump = _setup(tmp_path, window=10, count=3)
    outbox.fail_deletes = 2
    pump.start()
    try:
        _wait(lambda: len(link.sent) == 3)
        for mid, _ in list(link.sent):
            pump.on_ack(mid, True)
        assert pump.wait_drained(10)
    finally:
        pump.stop()
    assert outbox.fail_deletes == 0
    assert outbox.stats().depth == 0
    assert len(link.sent) == 3  # acknowledged reports are not sent again


def _ledger_setup(
    tmp_path: Path, count: int, clock: Callable[[], float] = time.monotonic
) -> tuple[FlakyOutbox, FakeLink, OutboxPump]:
    outbox = FlakyOutbox(OutboxConfig(path=tmp_path / "o.sqlite"))
    for _ in range(count):
        outbox.append(lambda seq: seq.to_bytes(4, "big"))
    link = FakeLink()
    pump = OutboxPump(
        outbox,
        link,  # type: ignore[arg-type]
        "t",
        window=10,
        ledger_acks=True,
        ack_timeout_s=3600.0,
        clock=clock,
    )
    return outbox, link, pump


def _stored(outbox: Outbox) -> list[int]:
    return [entry.seq for entry in outbox.pending(0, 1000)]


def test_puback_keeps_and_ack_deletes_exactly_the_covered(tmp_path: Path) -> None:
    outbox, link, pump = _ledger_setup(tmp_path, count=8)
    pump.start()
    try:
        _wait(lambda: len(link.sent) == 8)
        for mid, _ in list(link.sent):
            pump.on_ack(mid, True)
        _wait(lambda: pump.stats().awaiting_ack == 8)
        assert _stored(outbox) == list(range(1, 9))  # the broker's PUBACK deletes nothing
        # Seqs 1..3 and 5..6 committed; 4, 7 and 8 are not.
        pump.on_ledger_ack(encode_ack(Ack(3, ((5, 6),))))
        _wait(lambda: pump.stats().awaiting_ack == 3)
        assert _stored(outbox) == [4, 7, 8]
        assert not pump.wait_drained(0.2)
        pump.on_ledger_ack(b'{"through": "x"}')  # a bad ack is counted and ignored
        pump.on_ledger_ack(encode_ack(Ack(8)))
        assert pump.wait_drained(5)
    finally:
        pump.stop()
    assert outbox.stats().depth == 0
    assert pump.stats().acknowledged == 8
    assert pump.stats().bad_acks == 1
    assert len(link.sent) == 8  # nothing was sent twice


def test_unacked_is_sent_again_after_the_timeout(tmp_path: Path) -> None:
    now = [1000.0]
    outbox, link, pump = _ledger_setup(tmp_path, count=4, clock=lambda: now[0])
    pump.ack_timeout_s = 5.0
    pump.start()
    try:
        _wait(lambda: len(link.sent) == 4)
        for mid, _ in list(link.sent):
            pump.on_ack(mid, True)
        _wait(lambda: pump.stats().awaiting_ack == 4)
        pump.on_ledger_ack(encode_ack(Ack(0, ((2, 2),))))
        _wait(lambda: pump.stats().awaiting_ack == 3)
        now[0] += 4.0
        time.sleep(0.4)
        assert len(link.sent) == 4  # not yet: the timeout has not passed
        now[0] += 2.0
        _wait(lambda: len(link.sent) == 7)
        assert sorted(int.from_bytes(p, "big") for _, p in link.sent[4:]) == [1, 3, 4]
        # An ack that arrives before the resend's PUBACK still settles it.
        pump.on_ledger_ack(encode_ack(Ack(4)))
        for mid, _ in list(link.sent[4:]):
            pump.on_ack(mid, True)
        assert pump.wait_drained(5)
    finally:
        pump.stop()
    assert pump.stats().resent == 3
    assert outbox.stats().depth == 0


def test_a_report_never_acked_is_tried_less_and_less_often(tmp_path: Path) -> None:
    now = [1000.0]
    outbox, link, pump = _ledger_setup(tmp_path, count=1, clock=lambda: now[0])
    pump.ack_timeout_s = 5.0
    pump.max_resend_interval_s = 20.0
    pump.start()
    sends_at: list[float] = []
    try:
        # Each send is taken by the broker at once; no aggregator ever acks it.
        def sent(count: int) -> Callable[[], bool]:
            return lambda: len(link.sent) == count

        for attempt in range(6):
            _wait(sent(attempt + 1))
            sends_at.append(now[0])
            pump.on_ack(link.sent[-1][0], True)
            _wait(lambda: pump.stats().awaiting_ack == 1)
            while attempt < 5 and len(link.sent) == len(sends_at):
                now[0] += 1.0
                pump.notify()  # wakes the pump thread, which then looks at the clock
                time.sleep(0.05)
        assert [b - a for a, b in itertools.pairwise(sends_at)] == [
            5.0,
            10.0,
            20.0,
            20.0,
            20.0,
        ]
        assert pump.stats().backing_off == 1
        assert _stored(outbox) == [1]  # kept throughout
        pump.on_ledger_ack(encode_ack(Ack(1)))
        assert pump.wait_drained(5)
        assert pump.stats().backing_off == 0
    finally:
        pump.stop()


def test_a_reconnect_makes_waiting_reports_due_one_ack_timeout_later(tmp_path: Path) -> None:
    now = [1000.0]
    _outbox, link, pump = _ledger_setup(tmp_path, count=1, clock=lambda: now[0])
    pump.ack_timeout_s = 5.0
    pump.start()
    try:
        for sends in range(1, 5):  # tried at 0, 5, 15 and 35 s: the next wait is 40 s
            _wait(lambda n=sends: len(link.sent) == n)  # type: ignore[misc]
            pump.on_ack(link.sent[-1][0], True)
            _wait(lambda: pump.stats().awaiting_ack == 1)
            if sends < 4:
                now[0] += 5.0 * 2 ** (sends - 1)
                pump.notify()
        # The ack of the last try may have been lost with the connection.
        last_try = now[0]
        pump.on_connect()
        while len(link.sent) == 4 and now[0] - last_try < 60:
            now[0] += 1.0
            pump.notify()
            time.sleep(0.05)
        assert len(link.sent) == 5
        # Sent again about one ack timeout after the reconnect, not 40 s after the last try.
        assert now[0] - last_try <= 7.0
    finally:
        pump.stop()
