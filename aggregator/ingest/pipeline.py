"""The verification pipeline: raw MQTT message in, a verdict with a reason code out.

Steps, in order (each refusal names its :class:`Reason`): size cap → COSE/CBOR decode →
device known and active → signature → topic names the device → sequence (duplicates
are acknowledged and counted, gaps recorded) → timestamp sanity → schema and physical
ranges → freshness beacon (:mod:`aggregator.ingest.beacon`) → accept. No I/O here
except the key source lookup; the caller stores the verdict.

Status and health documents go through :meth:`Verifier.open_document`: signed envelope →
kid names the topic's device → device known and active → signature.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

from aggregator.ingest.beacon import BeaconCheck
from aggregator.ingest.reasons import WIRE_REASONS, Reason
from aggregator.registry.device_keys import KeySource
from fieldproof.identity import PublicKeyVerifier
from fieldproof.metrics import metric_for
from fieldproof.protocol import DeviceTopic
from fieldproof.wire import (
    MAX_DOCUMENT_SIZE,
    MAX_REPORT_SIZE,
    Beacon,
    Record,
    WireError,
    decode_report,
    open_document,
)

COUNT_UNIT = "count"


@dataclass(frozen=True, slots=True)
class Limits:
    """What the pipeline tolerates; see ``ingest`` in the config."""

    max_bytes: int = MAX_REPORT_SIZE
    max_future_skew_s: float = 300.0
    max_age_s: float = 30 * 86_400.0


@dataclass(frozen=True, slots=True)
class Accepted:
    """A verified report to store. ``gap_after`` is the highest seq seen before a gap."""

    device_id: bytes
    seq: int
    start: int
    end: int
    digest: bytes
    gap_after: int | None = None
    beacon: Beacon | None = None


@dataclass(frozen=True, slots=True)
class Duplicate:
    """The very same report again (a redelivery or replay): acknowledge, store nothing."""

    device_id: bytes
    seq: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """A refused message: goes to the dead-letter table with its reason."""

    reason: Reason
    detail: str
    device_id: bytes | None = None
    seq: int | None = None


Verdict = Accepted | Duplicate | Rejected


def device_from_topic(topic: str, kind: str = "report") -> str | None:
    """The ``<device>`` part of ``fp/v1/<device>/<kind>``, or None for another shape."""
    parsed = DeviceTopic.parse(topic)
    if parsed is None or parsed.kind.value != kind:
        return None
    return parsed.device


class SequenceTracker:
    """Per device: the highest seq stored and the digests of the most recent ones.

    It answers "seen before?" for redeliveries without a database round trip; what it
    does not remember (older seqs, another process's) the ledger's unique key on
    (device, seq) still catches, so it is an optimisation and a gap detector, not the
    guard against double storage.
    """

    def __init__(self, window: int = 256) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._high: dict[bytes, int] = {}
        self._recent: dict[bytes, OrderedDict[int, bytes]] = {}

    def seed(self, device_id: bytes, high: int) -> None:
        with self._lock:
            if high > self._high.get(device_id, -1):
                self._high[device_id] = high

    def high(self, device_id: bytes) -> int | None:
        return self._high.get(device_id)

    def seen(self, device_id: bytes, seq: int) -> bytes | None:
        """The digest stored for (device, seq) if it is remembered."""
        recent = self._recent.get(device_id)
        return None if recent is None else recent.get(seq)

    def record(self, device_id: bytes, seq: int, digest: bytes) -> None:
        with self._lock:
            if seq > self._high.get(device_id, -1):
                self._high[device_id] = seq
            recent = self._recent.setdefault(device_id, OrderedDict())
            recent[seq] = digest
            while len(recent) > self.window:
                recent.popitem(last=False)

    def forget(self, device_id: bytes, seq: int) -> None:
        """Undo :meth:`record` for a report whose batch was not committed."""
        with self._lock:
            recent = self._recent.get(device_id)
            if recent is not None:
                recent.pop(seq, None)


def _check_record(record: Record, start: int, latest: float) -> Rejected | None:
    metric = metric_for(record.name)
    if metric is not None:
        if record.value is None and record.sum is None:
            return Rejected(Reason.WRONG_TYPE, f"{record.name}: expected a number")
        if record.unit != metric.unit:
            return Rejected(
                Reason.UNIT_MISMATCH, f"{record.name}: unit {record.unit!r}, expected {metric.unit}"
            )
        if record.value is not None and not metric.minimum <= record.value <= metric.maximum:
            return Rejected(
                Reason.OUT_OF_RANGE,
                f"{record.name}: {record.value} outside [{metric.minimum}, {metric.maximum}]",
            )
    elif record.unit == COUNT_UNIT:
        if record.value is None and record.sum is None:
            return Rejected(Reason.WRONG_TYPE, f"{record.name}: a count must be a number")
        if record.value is not None and record.value < 0:
            return Rejected(Reason.OUT_OF_RANGE, f"{record.name}: negative count {record.value}")
    if record.time is not None and record.time > latest:
        return Rejected(Reason.TIMESTAMP_FUTURE, f"{record.name}: time {record.time} is ahead")
    if record.time is not None and record.time < start - 86_400:
        return Rejected(
            Reason.TIMESTAMP_TOO_OLD, f"{record.name}: time {record.time} precedes the interval"
        )
    return None


class Verifier:
    """Runs the pipeline. Thread-safe for one caller at a time per device (the writer)."""

    def __init__(
        self,
        keys: KeySource,
        *,
        limits: Limits | None = None,
        tracker: SequenceTracker | None = None,
        beacons: BeaconCheck | None = None,
    ) -> None:
        self.keys = keys
        self.limits = limits or Limits()
        self.tracker = tracker or SequenceTracker()
        # None: beacons are decoded but not checked (no chain configured).
        self.beacons = beacons
        self._verifiers: dict[tuple[bytes, bytes], PublicKeyVerifier] = {}

    def _verifier(self, device_id: bytes, public_key: bytes) -> PublicKeyVerifier:
        key = (device_id, public_key)
        verifier = self._verifiers.get(key)
        if verifier is None:
            verifier = PublicKeyVerifier(public_key)
            if len(self._verifiers) > 100_000:
                self._verifiers.clear()
            self._verifiers[key] = verifier
        return verifier

    def verify(
        self, topic: str, payload: bytes, received_at: float, *, sequence: bool = True
    ) -> Verdict:
        """The verdict on one message from ``topic`` received at ``received_at`` (Unix s).

        ``sequence=False`` leaves the sequence step out (verification in a worker
        process, which has no sequence state nor block cache): the caller then passes
        an Accepted verdict through :meth:`sequence`, which checks the beacon and
        sequences it, so those steps come last instead of before the timestamp check.
        """
        limits = self.limits
        if len(payload) > limits.max_bytes:
            return Rejected(Reason.TOO_LARGE, f"{len(payload)} bytes > {limits.max_bytes}")
        try:
            signed = decode_report(payload, max_size=limits.max_bytes)
        except WireError as exc:
            return Rejected(WIRE_REASONS.get(exc.reason, Reason.MALFORMED), str(exc)[:300])
        report = signed.report
        device_id, seq = report.device_id, report.seq
        try:
            entry = self.keys.lookup(device_id)
        except LookupError as exc:
            return Rejected(Reason.REGISTRY_UNAVAILABLE, str(exc)[:300], device_id, seq)
        if entry is None:
            return Rejected(Reason.UNKNOWN_DEVICE, "device is not registered", device_id, seq)
        if not entry.active:
            return Rejected(Reason.INACTIVE_DEVICE, "device is deactivated", device_id, seq)
        verifier = self._verifier(device_id, entry.public_key)
        if not verifier.verify(signed.to_be_signed, signed.signature):
            return Rejected(Reason.BAD_SIGNATURE, "signature does not verify", device_id, seq)
        topic_device = device_from_topic(topic)
        if topic_device is None or topic_device != "0x" + device_id.hex():
            return Rejected(Reason.WRONG_TOPIC, f"topic {topic[:120]!r}", device_id, seq)
        digest = hashlib.sha256(payload).digest()
        if sequence:
            repeated = self._repeated(device_id, seq, digest)
            if repeated is not None:
                return repeated
        latest = received_at + limits.max_future_skew_s
        if report.end > latest:
            return Rejected(Reason.TIMESTAMP_FUTURE, f"end {report.end} is ahead", device_id, seq)
        if report.start < received_at - limits.max_age_s:
            return Rejected(Reason.TIMESTAMP_TOO_OLD, f"start {report.start}", device_id, seq)
        for record in report.records:
            problem = _check_record(record, report.start, latest)
            if problem is not None:
                return Rejected(problem.reason, problem.detail[:300], device_id, seq)
        candidate = Accepted(device_id, seq, report.start, report.end, digest, beacon=report.beacon)
        if not sequence:
            return candidate
        return self._fresh(candidate) or self._record(candidate)

    def open_document(self, device_id: bytes, payload: bytes) -> bytes | Rejected:
        """The JSON inside a status or health message from ``device_id`` (the topic's
        device) once its signature verifies under the device's registered key; otherwise
        why not. Unsigned documents, and any from an unknown device, are refused."""
        try:
            document = open_document(payload, max_size=MAX_DOCUMENT_SIZE)
        except WireError as exc:
            if exc.reason == "too_large":
                return Rejected(Reason.TOO_LARGE, str(exc)[:300], device_id)
            return Rejected(Reason.UNSIGNED, f"not a signed document: {exc}"[:300], device_id)
        if document.device_id != device_id:
            return Rejected(Reason.DEVICE_MISMATCH, "kid is not the topic's device", device_id)
        try:
            entry = self.keys.lookup(device_id)
        except LookupError as exc:
            return Rejected(Reason.REGISTRY_UNAVAILABLE, str(exc)[:300], device_id)
        if entry is None:
            return Rejected(Reason.UNKNOWN_DEVICE, "device is not registered", device_id)
        if not entry.active:
            return Rejected(Reason.INACTIVE_DEVICE, "device is deactivated", device_id)
        if not document.verify(self._verifier(device_id, entry.public_key)):
            return Rejected(Reason.BAD_SIGNATURE, "signature does not verify", device_id)
        return document.payload

    def _repeated(self, device_id: bytes, seq: int, digest: bytes) -> Verdict | None:
        known = self.tracker.seen(device_id, seq)
        if known is None:
            return None
        if known == digest:
            return Duplicate(device_id, seq)
        return Rejected(Reason.SEQ_REUSED, f"seq {seq} reused with other content", device_id)

    def _fresh(self, candidate: Accepted) -> Rejected | None:
        """Why the report's beacon is refused, if it is (after the duplicate check, so a
        redelivery of a stored report is acknowledged whatever its beacon's age)."""
        if self.beacons is None:
            return None
        refused = self.beacons.check(candidate.beacon, candidate.end)
        if refused is None:
            return None
        return Rejected(refused[0], refused[1], candidate.device_id, candidate.seq)

    def _record(self, candidate: Accepted) -> Accepted:
        device_id, seq = candidate.device_id, candidate.seq
        high = self.tracker.high(device_id)
        gap_after = high if high is not None and seq > high + 1 else None
        self.tracker.record(device_id, seq, candidate.digest)
        if gap_after is None:
            return candidate
        return dataclasses.replace(candidate, gap_after=gap_after)

    def sequence(self, candidate: Accepted) -> Verdict:
        """The beacon and sequence steps for a report verified with ``sequence=False``."""
        repeated = self._repeated(candidate.device_id, candidate.seq, candidate.digest)
        if repeated is not None:
            return repeated
        return self._fresh(candidate) or self._record(candidate)
