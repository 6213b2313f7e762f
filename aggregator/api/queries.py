"""Read-only ledger queries the API needs and the ledger does not offer (yet).

They run through the ledger's own statement helper, so they work on every ledger
dialect; they only read.
"""

from __future__ import annotations

from dataclasses import dataclass

from aggregator.ledger.sql import SqlLedger


@dataclass(frozen=True, slots=True)
class ReportHead:
    """A stored report without its bytes."""

    seq: int
    start: int
    end: int
    received_at: float


def device_reports(
    ledger: SqlLedger, device_id: bytes, *, before_seq: int | None, limit: int
) -> list[ReportHead]:
    """The device's reports, newest first, with seq below ``before_seq`` when given."""
    sql = "SELECT seq, start_time, end_time, received_at FROM reports WHERE device = ?"
    params: list[object] = [bytes(device_id)]
    if before_seq is not None:
        sql += " AND seq < ?"
        params.append(before_seq)
    sql += " ORDER BY seq DESC LIMIT ?"
    params.append(limit)
    rows = ledger._fetch(sql, params)
    return [ReportHead(int(r[0]), int(r[1]), int(r[2]), float(r[3])) for r in rows]
