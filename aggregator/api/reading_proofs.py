"""Which signed report each exported reading came from, and that report's proof.

The series store keeps values, not their reports: a page of points is matched back to
the ledger by device, record name, time and value, and each report's proof is cut from
its epoch's bundle. A point with no report found, or whose epoch is still open, gets
what is known (nothing, or the report without a proof): an export is streamed, and a
failure half-way through could only cut the file, never answer an error.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aggregator.anchoring.state import EpochRecord
from aggregator.api.epochs import EpochIndex
from aggregator.ledger.sql import SqlLedger
from aggregator.series.points import SeriesPoint, points_from_stored, series_key
from fieldproof.bundle import ipfs_uri
from fieldproof.errors import FieldproofError
from fieldproof.verify import data_leaf_hash, report_hash

log = logging.getLogger(__name__)

# A record's time may stray from its report's interval (a late sample, a clock step):
# reports this far around a page's readings are searched too.
SLACK_S = 3600.0


@dataclass(frozen=True, slots=True)
class ReadingProof:
    """What one reading's row carries to be checked without the aggregator."""

    seq: int
    report: bytes
    leaf: bytes
    epoch: int | None = None
    proof: tuple[bytes, ...] = ()
    root: bytes | None = None
    anchor_tx: str | None = None


Prover = Callable[[str, Sequence[SeriesPoint]], list[ReadingProof | None]]

# (time in ms, value) of a reading -> (seq, received_at, raw) of its report
_Index = dict[tuple[int, float], tuple[int, float, bytes]]


class ReadingProver:
    """Proofs for pages of raw points of one metric, from the ledger and the bundles."""

    def __init__(self, ledger: SqlLedger, epochs: EpochIndex | None) -> None:
        self.ledger = ledger
        self.epochs = epochs

    def _index(self, metric: str, device: str, points: Sequence[SeriesPoint]) -> _Index:
        key = series_key(metric)
        try:
            device_id = bytes.fromhex(device.removeprefix("0x"))
        except ValueError:
            return {}  # not a device's series: nothing signed it
        start = min(p.time for p in points) - SLACK_S
        end = max(p.time for p in points) + SLACK_S
        index: _Index = {}
        for head in self.ledger.reports_overlapping(device_id, start, end):
            stored = self.ledger.report(device_id, head.seq)
            if stored is None:
                continue
            try:
                found = points_from_stored(stored.raw)
            except FieldproofError:
                continue  # the ledger holds only reports that decoded; never expected
            for point in found:
                if (point.measurement, point.tags) == key:
                    # Two reports holding the same reading: either one proves it.
                    index.setdefault(
                        (point.time_ms, point.value), (stored.seq, stored.received_at, stored.raw)
                    )
        return index

    def __call__(self, metric: str, page: Sequence[SeriesPoint]) -> list[ReadingProof | None]:
        by_device: dict[str, list[SeriesPoint]] = defaultdict(list)
        for point in page:
            by_device[point.device].append(point)
        indexes = {device: self._index(metric, device, pts) for device, pts in by_device.items()}
        records = None if self.epochs is None else self.epochs.epochs()
        proofs: dict[tuple[str, int], ReadingProof] = {}
        out: list[ReadingProof | None] = []
        for point in page:
            found = indexes[point.device].get((round(point.time * 1000), point.value))
            if found is None:
                out.append(None)
                continue
            seq, received_at, raw = found
            cached = proofs.get((point.device, seq))
            if cached is None:
                cached = self._prove(point.device, seq, received_at, raw, records)
                proofs[(point.device, seq)] = cached
            out.append(cached)
        return out

    def _prove(
        self,
        device: str,
        seq: int,
        received_at: float,
        raw: bytes,
        records: list[EpochRecord] | None,
    ) -> ReadingProof:
        device_id = bytes.fromhex(device.removeprefix("0x"))
        leaf = data_leaf_hash(device_id, seq, report_hash(raw))
        bare = ReadingProof(seq, raw, leaf)
        if self.epochs is None or records is None:
            return bare
        record = self.epochs.containing(received_at, records)
        if record is None or record.cid is None:
            return bare
        try:
            bundle, _ = self.epochs.bundle(record)
            proof = bundle.proof(device_id, seq, ipfs_uri(record.cid))
        except FieldproofError as exc:
            log.warning("export: no proof for %s seq %d: %s", device, seq, exc)
            return bare
        return ReadingProof(seq, raw, leaf, record.epoch, proof.proof, proof.root, record.anchor_tx)
