"""The record of acknowledged reports that the audit still has to find in an anchored root.

The outbox deletes a report once an aggregator acknowledges it; in the same transaction
this journal keeps what the audit needs of it: the seq, its interval, the keccak256 of
its signed bytes (the leaf's report hash) and when it was acknowledged. About 70 bytes a
report, and only until an audit finds it anchored; a report the audit cannot find stays,
marked missing, until it is.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from fieldproof.verify import report_hash
from fieldproof.wire import WireError, decode_report

SCHEMA = """
CREATE TABLE IF NOT EXISTS acked (
    seq INTEGER PRIMARY KEY,
    start INTEGER NOT NULL,
    end_ INTEGER NOT NULL,
    digest BLOB NOT NULL,
    acked_at REAL NOT NULL,
    missing INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS audit_device (one INTEGER PRIMARY KEY CHECK (one = 1), id BLOB);
"""


@dataclass(frozen=True, slots=True)
class AckedReport:
    seq: int
    start: int
    end: int
    digest: bytes
    acked_at: float
    missing: bool


class AckJournal:
    """Acknowledged, not yet audited reports, in the outbox's database file."""

    def __init__(
        self,
        connection: Callable[[], sqlite3.Connection],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._connection = connection
        self._clock = clock
        connection().executescript(SCHEMA)

    def retire(self, conn: sqlite3.Connection, rows: Iterable[tuple[int, bytes]]) -> None:
        """Record reports leaving the outbox on an ack (inside its delete transaction)."""
        now = self._clock()
        kept = []
        device_id = None
        for seq, data in rows:
            try:
                report = decode_report(data).report
            except WireError:  # the device signed it; it cannot fail, but never block a delete
                continue
            device_id = report.device_id
            kept.append((seq, report.start, report.end, report_hash(data), now))
        if device_id is not None:
            # So that `fieldproof agent audit` needs no key to know whose reports these are.
            conn.execute("INSERT OR IGNORE INTO audit_device (one, id) VALUES (1, ?)", (device_id,))
        conn.executemany(
            "INSERT OR REPLACE INTO acked (seq, start, end_, digest, acked_at) "
            "VALUES (?, ?, ?, ?, ?)",
            kept,
        )

    def due(self, acked_before: float) -> list[AckedReport]:
        """Reports acknowledged before ``acked_before``, oldest first."""
        rows = (
            self._connection()
            .execute(
                "SELECT seq, start, end_, digest, acked_at, missing FROM acked "
                "WHERE acked_at < ? ORDER BY seq",
                (acked_before,),
            )
            .fetchall()
        )
        return [AckedReport(r[0], r[1], r[2], bytes(r[3]), r[4], bool(r[5])) for r in rows]

    def settle(self, found: Sequence[int], missing: Sequence[int]) -> None:
        """Forget the reports ``found`` anchored; mark the ``missing`` ones."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("DELETE FROM acked WHERE seq = ?", [(s,) for s in found])
            conn.executemany("UPDATE acked SET missing = 1 WHERE seq = ?", [(s,) for s in missing])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def device_id(self) -> bytes | None:
        row = self._connection().execute("SELECT id FROM audit_device").fetchone()
        return None if row is None else bytes(row[0])

    def missing(self) -> list[int]:
        rows = self._connection().execute("SELECT seq FROM acked WHERE missing = 1 ORDER BY seq")
        return [int(row[0]) for row in rows]

    def pending(self) -> int:
        row = self._connection().execute("SELECT count(*) FROM acked").fetchone()
        return int(row[0])
