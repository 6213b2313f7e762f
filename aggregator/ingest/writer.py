"""The single writer: takes messages from the queue, verifies them, commits a batch to
the ledger (N messages or T ms, whichever first), and only then acknowledges them.

A failed commit is retried with the same messages (nothing acknowledged, nothing lost);
every refusal becomes a dead letter in the same transaction as the batch's reports.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from aggregator.ingest.acks import LedgerAcks
from aggregator.ingest.consumer import Message
from aggregator.ingest.freshness import DocumentFreshness
from aggregator.ingest.pipeline import (
    Accepted,
    Duplicate,
    Rejected,
    Verdict,
    Verifier,
    device_from_topic,
)
from aggregator.ingest.reasons import Reason
from aggregator.ingest.workers import VerifierPool
from aggregator.ledger.models import (
    Batch,
    DeadLetter,
    Gap,
    HealthUpdate,
    IncomingReport,
    StatusUpdate,
)
from aggregator.ledger.sql import SqlLedger
from aggregator.metrics import IngestMetrics
from aggregator.progress import ProgressWatch
from fieldproof import protocol
from fieldproof.errors import FieldproofError
from fieldproof.identity import parse_device_id
from fieldproof.protocol.payloads import PayloadError

log = logging.getLogger(__name__)

# A heartbeat is a few hundred bytes of JSON; this leaves room for the envelope too.
MAX_HEALTH_BYTES = 8192

AckFn = Callable[[Sequence[Message]], None]
Checked = Callable[[], dict[int, Verdict]]


class BatchBuilder:
    """Turns messages into one :class:`Batch` (pure apart from the verifier's key lookups)."""

    def __init__(
        self,
        verifier: Verifier,
        metrics: IngestMetrics,
        dead_letter_bytes: int,
        *,
        pool: VerifierPool | None = None,
        freshness: DocumentFreshness | None = None,
    ) -> None:
        self.verifier = verifier
        self.metrics = metrics
        self.freshness = freshness or DocumentFreshness(
            max_age_s=600.0, max_future_skew_s=verifier.limits.max_future_skew_s
        )
        self.dead_letter_bytes = dead_letter_bytes
        self.pool = pool

    def _dead(self, message: Message, rejected: Rejected) -> DeadLetter:
        self.metrics.reject(rejected.reason.value)
        return DeadLetter(
            received_at=message.received_at,
            topic=message.topic[:256],
            reason=rejected.reason.value,
            detail=rejected.detail[:500],
            raw=message.payload[: self.dead_letter_bytes],
            size=len(message.payload),
            device_id=rejected.device_id,
            seq=rejected.seq,
        )

    def _device_of(self, topic: str, kind: str) -> bytes | None:
        text = device_from_topic(topic, kind)
        if text is None:
            return None
        try:
            return bytes(parse_device_id(text))
        except FieldproofError:
            return None

    def build(
        self, messages: Sequence[Message], checked: Checked | None = None
    ) -> tuple[Batch, list[Accepted], list[Duplicate]]:
        """The batch for ``messages``, its accepted reports and its duplicates (already
        stored); ``checked`` resolves verdicts submitted to the pool."""
        batch = Batch()
        accepted: list[Accepted] = []
        repeated: list[Duplicate] = []
        checked_verdicts = (checked or self.submit(messages))()
        for index, message in enumerate(messages):
            kind = message.topic.rsplit("/", 1)[-1]
            if kind == "report":
                verdict = checked_verdicts.get(index) or self._verify(message)
                if isinstance(verdict, Accepted):
                    accepted.append(verdict)
                    batch.reports.append(
                        IncomingReport(
                            verdict.device_id, verdict.seq, message.received_at, verdict.start,
                            verdict.end, message.payload, verdict.digest,
                        )
                    )  # fmt: skip
                    if verdict.gap_after is not None:
                        after, at = verdict.gap_after, message.received_at
                        batch.gaps.append(Gap(verdict.device_id, after, verdict.seq, at))
                elif isinstance(verdict, Duplicate):
                    repeated.append(verdict)
                else:
                    batch.dead_letters.append(self._dead(message, verdict))
            elif kind in ("status", "health"):
                self._device_message(message, kind, batch)
            else:
                batch.dead_letters.append(
                    self._dead(message, Rejected(Reason.WRONG_TOPIC, "not a fieldproof topic"))
                )
        if repeated:
            self.metrics.count("duplicates", len(repeated))
        return batch, accepted, repeated

    def submit(self, messages: Sequence[Message]) -> Checked:
        """Hand the batch's reports to the worker pool (if there is one). The returned
        function waits for their verdicts and applies the sequence step here; call it
        in batch order."""
        pool = self.pool
        if pool is None:
            return dict
        indices = [
            i
            for i, m in enumerate(messages)
            if m.verdict is None and m.topic.rsplit("/", 1)[-1] == "report"
        ]
        wait = pool.submit(
            [(messages[i].topic, messages[i].payload, messages[i].received_at) for i in indices]
        )

        def resolve() -> dict[int, Verdict]:
            return {
                i: self.verifier.sequence(r) if isinstance(r, Accepted) else r
                for i, r in zip(indices, wait(), strict=True)
            }

        return resolve

    def _verify(self, message: Message) -> Accepted | Duplicate | Rejected:
        verdict = message.verdict
        if verdict is None:
            verdict = self.verify(message.topic, message.payload, message.received_at)
        if isinstance(verdict, Accepted | Duplicate | Rejected):
            return verdict
        return Rejected(Reason.WRONG_TOPIC, "not a report topic")

    def verify(self, topic: str, payload: bytes, received_at: float) -> Verdict | None:
        """The pipeline's verdict on a report topic's message (None for other topics)."""
        if not topic.endswith("/report"):
            return None
        try:
            return self.verifier.verify(topic, payload, received_at)
        except Exception as exc:
            # One bad message must never stop the stream; keep it for a post-mortem.
            log.exception("pipeline failed on a message from %s", topic)
            return Rejected(Reason.MALFORMED, f"internal error: {type(exc).__name__}: {exc}")

    def _device_message(self, message: Message, kind: str, batch: Batch) -> None:
        device_id = self._device_of(message.topic, kind)
        if device_id is None:
            batch.dead_letters.append(
                self._dead(message, Rejected(Reason.WRONG_TOPIC, f"bad {kind} topic"))
            )
            return
        if kind == "health" and len(message.payload) > MAX_HEALTH_BYTES:
            batch.dead_letters.append(
                self._dead(message, Rejected(Reason.TOO_LARGE, "health payload too large"))
            )
            return
        try:
            document = self.verifier.open_document(device_id, message.payload)
        except Exception as exc:
            # One bad message must never stop the stream; keep it for a post-mortem.
            log.exception("pipeline failed on a message from %s", message.topic)
            document = Rejected(Reason.MALFORMED, f"internal error: {type(exc).__name__}: {exc}")
        if isinstance(document, Rejected):
            batch.dead_letters.append(self._dead(message, document))
            return
        try:
            if kind == "status":
                status = protocol.parse_status(document)
                stale = self.freshness.check_status(device_id, status, message.received_at)
                if stale is None:
                    update = StatusUpdate(device_id, status.state, message.received_at)
                    batch.statuses.append(update)
            else:
                health = protocol.parse_health(document)
                stale = self.freshness.check_health(device_id, health, message.received_at)
                if stale is None:
                    text = document.decode("utf-8")
                    batch.healths.append(HealthUpdate(device_id, text, message.received_at))
        except PayloadError as exc:
            stale = Rejected(Reason.MALFORMED, str(exc), device_id)
        if stale is not None:
            batch.dead_letters.append(self._dead(message, stale))
            return
        self.metrics.count(f"{kind}_updates")


class IngestWriter:
    """The writer thread. ``ack`` is called with each batch's messages after its commit,
    then ``acks`` (if given) tells each device of the batch what the ledger holds."""

    def __init__(
        self,
        source: queue.Queue[Message],
        ledger: SqlLedger,
        builder: BatchBuilder,
        ack: AckFn,
        metrics: IngestMetrics,
        *,
        batch_size: int,
        batch_ms: int,
        acks: LedgerAcks | None = None,
        progress: ProgressWatch | None = None,
    ) -> None:
        self.source = source
        self.progress = progress or ProgressWatch("ingest", float("inf"))
        self.acks = acks
        self.ledger = ledger
        self.builder = builder
        self.ack = ack
        self.metrics = metrics
        self.batch_size = batch_size
        self.batch_s = batch_ms / 1000
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.committed = threading.Condition()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """True while the thread works (False before start and after it ended)."""
        return self._thread is not None and self._thread.is_alive()

    def _collect(self, first_timeout: float = 0.2) -> list[Message]:
        try:
            first = self.source.get(timeout=first_timeout)
        except queue.Empty:
            return []
        messages = [first]
        deadline = time.monotonic() + self.batch_s
        while len(messages) < self.batch_size:
            try:
                messages.append(self.source.get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # Poll rather than block on the queue: a blocking get would wake this thread
            # (and take the interpreter lock from the receiving thread) once per message.
            time.sleep(min(remaining, 0.005))
        return messages

    def process(self, messages: Sequence[Message], checked: Checked | None = None) -> None:
        """Verify, commit (retrying until it succeeds or we stop), then acknowledge."""
        started = time.perf_counter()
        self.metrics.count("received", len(messages))
        batch, accepted, repeated = self.builder.build(messages, checked)
        delay = 0.1
        while True:
            try:
                inserted = self.ledger.write_batch(batch)
                break
            except Exception as exc:
                log.error("ledger commit failed (%s); retrying in %.1f s", exc, delay)
                if self._stop.wait(delay):
                    # Not committed and not acknowledged: the broker redelivers them.
                    for item in accepted:
                        self.builder.verifier.tracker.forget(item.device_id, item.seq)
                    raise
                delay = min(delay * 2, 5.0)
        self.ack(messages)
        if self.acks is not None and (accepted or repeated):
            committed: dict[bytes, list[int]] = {}
            for device_id, seq in [(a.device_id, a.seq) for a in accepted] + [
                (d.device_id, d.seq) for d in repeated
            ]:
                committed.setdefault(device_id, []).append(seq)
            self.acks.after_commit(committed)
        self.metrics.count("accepted", inserted)
        self.metrics.count("processed", len(messages))
        if len(batch.reports) > inserted:
            # Stored by an earlier delivery (crash before ack, or another process).
            self.metrics.count("duplicates", len(batch.reports) - inserted)
        self.metrics.count("gaps", len(batch.gaps))
        oldest = min(message.received_at for message in messages)
        self.metrics.observe_batch(time.perf_counter() - started, time.time() - oldest)
        self.progress.progressed()
        with self.committed:
            self.committed.notify_all()

    def _run(self) -> None:
        # With a worker pool, batch k+1 is collected and verifying while batch k is
        # committed; without one, ``submit`` does nothing and this is a plain loop.
        pending: tuple[list[Message], Checked] | None = None
        while not self._stop.is_set():
            messages = self._collect(0.01 if pending else 0.2)
            if not messages and pending is None:
                self.progress.progressed()  # nothing waits: idle is not a stall
            following = (messages, self.builder.submit(messages)) if messages else None
            if pending is not None:
                try:
                    self.process(*pending)
                except Exception:
                    if self._stop.is_set():
                        return
                    log.exception("ingest batch failed")
            pending = following
        if pending is not None:
            try:
                self.process(*pending)
            except Exception:
                log.exception("batch failed at stop; the broker will redeliver it")
        # Drain what is already received so a clean stop acknowledges it.
        rest: list[Message] = []
        while True:
            try:
                rest.append(self.source.get_nowait())
            except queue.Empty:
                break
        if rest:
            try:
                self.process(rest)
            except Exception:
                log.exception("final batch failed; the broker will redeliver it")
