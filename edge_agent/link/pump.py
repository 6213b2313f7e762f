"""Moves reports from the outbox to the broker: oldest first, a bounded window in flight.

The pump thread is the only one that hands reports to the link and the only one that
deletes them. With ledger acks (the default) the broker's PUBACK only moves a report
to "awaiting": the broker may lose it (restart, wiped store, expired session of a
stopped aggregator), so it is deleted when an aggregator's ack on the ack topic covers
its seq, and sent again if none has after ``ack_timeout_s`` (the ledger dedupes), each
further try of the same report waiting twice as long, up to ``max_resend_interval_s``:
one the aggregator refuses for good (it is in the dead letters, with its reason) stays
stored and is tried now and then, never in a storm. With
``ledger_acks=False`` the PUBACK deletes it. PUBACKs and acks arrive on the link thread
and are queued here, because paho calls ``on_publish`` holding its own lock, which
``publish`` takes too. A process restart starts the cursor at 0, so everything still
stored is replayed; within a process, paho itself retransmits messages without a PUBACK
after a reconnect, so the pump does not send them a second time.
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge_agent.link.client import MqttLink
from edge_agent.outbox import Outbox, OutboxError
from fieldproof.protocol import Ack, parse_ack
from fieldproof.protocol.payloads import PayloadError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PumpStats:
    """Counters of the pump since start."""

    published: int
    acknowledged: int
    refused: int
    in_flight: int
    awaiting_ack: int = 0
    resent: int = 0
    bad_acks: int = 0
    backing_off: int = 0  # reports sent three times or more without an ack


class OutboxPump:
    """Publishes stored reports on ``topic`` with QoS 1 and deletes them once acknowledged."""

    def __init__(
        self,
        outbox: Outbox,
        link: MqttLink,
        topic: str,
        *,
        window: int,
        ledger_acks: bool = False,
        ack_timeout_s: float = 30.0,
        max_resend_interval_s: float = 3600.0,
        max_awaiting: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.outbox = outbox
        self.link = link
        self.topic = topic
        self.window = window
        self.ledger_acks = ledger_acks
        self.ack_timeout_s = ack_timeout_s
        self.max_resend_interval_s = max(max_resend_interval_s, ack_timeout_s)
        self.max_awaiting = max_awaiting
        self._clock = clock
        # seq -> when it is due to be sent again; the heap orders those times (entries
        # for seqs acked or re-timed since are skipped when they come up).
        self._awaiting: dict[int, float] = {}
        self._due: list[tuple[float, int]] = []
        # seq -> how many times it was sent in this process.
        self._sends: dict[int, int] = {}
        self._warned_at = float("-inf")
        self._restart_clocks = False
        # Seqs an ack covered while their PUBACK was still outstanding.
        self._settled: set[int] = set()
        self._ledger_queue: queue.SimpleQueue[Ack] = queue.SimpleQueue()
        self._spans_pending: list[tuple[int, int]] = []
        self._resent = 0
        self._bad_acks = 0
        self._acks: queue.SimpleQueue[tuple[int, bool]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._in_flight: dict[int, int] = {}
        self._cursor = 0
        self._refused: set[int] = set()
        self._acknowledged_pending: list[int] = []
        self._retry_refused = False
        self._published = 0
        self._acknowledged = 0
        self._refused_total = 0
        self._idle = threading.Event()

    # Wired as the link's callbacks.
    def on_ack(self, mid: int, ok: bool) -> None:
        self._acks.put((mid, ok))
        self._wake.set()

    def on_ledger_ack(self, payload: bytes) -> None:
        """An aggregator's ack arrived on the ack topic (link thread)."""
        try:
            ack = parse_ack(payload)
        except PayloadError as exc:
            self._bad_acks += 1
            log.warning("ignored an ack: %s", exc)
            return
        if self.ledger_acks:
            self._ledger_queue.put(ack)
            self._wake.set()

    def on_connect(self) -> None:
        # Reports the broker refused are tried again once per connection, never in a loop.
        self._retry_refused = True
        # Acks published while this device was away may be lost with the old connection:
        # whatever still waits for one is due again one ack timeout from now.
        self._restart_clocks = True
        self._wake.set()

    def notify(self) -> None:
        """A new report was stored."""
        self._idle.clear()
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="outbox-pump", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        """True while the pump thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def stats(self) -> PumpStats:
        return PumpStats(
            self._published,
            self._acknowledged,
            self._refused_total,
            len(self._in_flight),
            len(self._awaiting),
            self._resent,
            self._bad_acks,
            sum(1 for n in self._sends.values() if n >= 3),
        )

    def wait_drained(self, timeout: float) -> bool:
        """True once nothing is stored or in flight (tests, benchmarks, shutdown)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        self.outbox.relax_sync_for_this_thread()
        try:
            while not self._stop.is_set():
                self._wake.wait(0.2)
                self._wake.clear()
                try:
                    self._step()
                except OutboxError:
                    # A busy or full disk is often transient; the watchdog covers the rest.
                    log.exception("outbox pump")
                    self._stop.wait(1.0)
        finally:
            self.outbox.close()

    def _step(self) -> None:
        self._drain_acks()
        self._drain_ledger_acks()
        if self.link.connected:
            if self._restart_clocks:
                self._restart_clocks = False
                self._restart_ack_clocks()
            self._resend_expired()
            self._fill_window()
        if (
            not self._in_flight
            and not self._awaiting
            and not self._acknowledged_pending
            and not self._spans_pending
            and self.outbox.is_empty()
        ):
            self._idle.set()
        else:
            self._idle.clear()

    def _drain_acks(self) -> None:
        # Acknowledged seqs wait here until their delete commits, so a failed delete is
        # retried on the next step rather than forgotten.
        done = self._acknowledged_pending
        while True:
            try:
                mid, ok = self._acks.get_nowait()
            except queue.Empty:
                break
            seq = self._in_flight.pop(mid, None)
            if seq is None:
                continue  # a status/health message, not a report
            if ok:
                if not self.ledger_acks:
                    done.append(seq)
                elif seq in self._settled:
                    self._settled.discard(seq)
                    self._sends.pop(seq, None)
                else:
                    self._await(seq)
            else:
                # Kept in the outbox and counted: never dropped silently.
                self._refused.add(seq)
                self._refused_total += 1
                log.warning("broker refused report seq %d; kept for retry", seq)
        if done:
            self.outbox.delete(done)
            self._acknowledged += len(done)
            done.clear()

    def _drain_ledger_acks(self) -> None:
        spans = self._spans_pending
        while True:
            try:
                ack = self._ledger_queue.get_nowait()
            except queue.Empty:
                break
            covered = ack.spans()
            spans.extend(covered)
            for first, last in covered:
                if last - first < len(self._awaiting):
                    for seq in range(first, last + 1):
                        self._awaiting.pop(seq, None)
                        self._sends.pop(seq, None)
                else:
                    for seq in [s for s in self._awaiting if first <= s <= last]:
                        del self._awaiting[seq]
                        self._sends.pop(seq, None)
            for seq in self._in_flight.values():
                if ack.covers(seq):
                    self._settled.add(seq)
        if spans:
            # Kept until the delete commits, so a failed delete is retried next step.
            self._acknowledged += self.outbox.delete_spans(spans)
            spans.clear()

    def _await(self, seq: int) -> None:
        """The broker took ``seq``: wait for its ack, longer after each try."""
        sends = self._sends.get(seq, 1)
        wait = min(self.ack_timeout_s * 2 ** (sends - 1), self.max_resend_interval_s)
        due = self._clock() + wait
        self._awaiting[seq] = due
        heapq.heappush(self._due, (due, seq))
        # One line a minute at most: an aggregator outage puts every report here at once.
        if sends >= 3 and due - self._warned_at >= 60.0:
            self._warned_at = due
            log.warning(
                "%d reports sent 3 times or more without an ack (seq %d among them); each is "
                "tried again less often, every %.0f s at most (an aggregator that refuses one "
                "lists it in its dead letters)",
                sum(1 for n in self._sends.values() if n >= 3),
                seq,
                self.max_resend_interval_s,
            )
        if len(self._due) > 2 * len(self._awaiting) + 1024:
            self._due = [(when, s) for s, when in self._awaiting.items()]
            heapq.heapify(self._due)

    def _restart_ack_clocks(self) -> None:
        due = self._clock() + self.ack_timeout_s
        for seq in self._awaiting:
            self._awaiting[seq] = due
            self._sends[seq] = 1
        self._due = [(due, seq) for seq in self._awaiting]
        heapq.heapify(self._due)

    def _resend_expired(self) -> None:
        # The broker took these but no ack came: it may have lost them, so send again.
        now = self._clock()
        room = self.window - len(self._in_flight)
        expired: list[int] = []
        while self._due and self._due[0][0] <= now and len(expired) < room:
            due, seq = heapq.heappop(self._due)
            if self._awaiting.get(seq) == due:
                del self._awaiting[seq]
                expired.append(seq)
        for seq in expired:
            entry = self.outbox.get(seq)
            if entry is not None:  # else acked meanwhile, or dropped by the cap
                self._send(entry.seq, entry.data)
                self._resent += 1
            else:
                self._sends.pop(seq, None)

    def _fill_window(self) -> None:
        room = self.window - len(self._in_flight)
        if self.ledger_acks:
            room = min(room, self.max_awaiting - len(self._awaiting) - len(self._in_flight))
        if room <= 0:
            return
        if self._retry_refused:
            self._retry_refused = False
            retry = sorted(self._refused)[:room]
            self._refused.difference_update(retry)
            for seq in retry:
                entry = self.outbox.get(seq)
                if entry is not None:
                    self._send(entry.seq, entry.data)
            room = self.window - len(self._in_flight)
            if room <= 0:
                return
        for entry in self.outbox.pending(self._cursor, room):
            self._send(entry.seq, entry.data)
            self._cursor = entry.seq

    def _send(self, seq: int, data: bytes) -> None:
        mid = self.link.publish(self.topic, data, qos=1)
        self._in_flight[mid] = seq
        self._published += 1
        if self.ledger_acks:
            self._sends[seq] = self._sends.get(seq, 0) + 1
