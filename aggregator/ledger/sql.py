"""The ledger over SQL: one implementation, two dialects (SQLite and PostgreSQL).

Statements are written with ``?`` placeholders and ``{id}``/``{blob}``/``{real}`` type
names; each dialect fills them in. One :class:`SqlLedger` holds one connection guarded
by a lock; the aggregator gives its writer thread its own instance (one writer per
process) and readers another.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, ClassVar

from aggregator.errors import AggregatorError
from aggregator.ledger.migrations import MIGRATIONS
from aggregator.ledger.models import (
    Batch,
    DeadLetter,
    DeadPoint,
    DeviceStatus,
    EpochRecord,
    EpochStatus,
    Gap,
    ReportHead,
    StoredReport,
)

_REPORT_COLUMNS = "id, device, seq, received_at, start_time, end_time, raw"


def _report(row: Sequence[Any]) -> StoredReport:
    return StoredReport(
        row_id=int(row[0]),
        device_id=bytes(row[1]),
        seq=int(row[2]),
        received_at=float(row[3]),
        start=int(row[4]),
        end=int(row[5]),
        raw=bytes(row[6]),
    )


_EPOCH_COLUMNS = (
    "epoch, start_at, end_at, status, count, root, cid, reward_root, total_cumulative,"
    " cumulative, anchor_tx, reward_tx"
)


def _epoch(row: Sequence[Any]) -> EpochRecord:
    cumulative = None if row[9] is None else {k: int(v) for k, v in json.loads(row[9]).items()}
    return EpochRecord(
        epoch=int(row[0]),
        start=int(row[1]),
        end=int(row[2]),
        status=EpochStatus(row[3]),
        count=int(row[4]),
        root=None if row[5] is None else bytes(row[5]),
        cid=row[6],
        reward_root=None if row[7] is None else bytes(row[7]),
        total_cumulative=None if row[8] is None else int(row[8]),
        cumulative=cumulative,
        anchor_tx=row[10],
        reward_tx=row[11],
    )


class SqlLedger:
    """Record of truth: raw signed reports, dead letters, gaps, device status, cursors,
    and the anchorer's state (closed epochs and the leader lease)."""

    dialect = "sql"
    types: ClassVar[dict[str, str]] = {}
    placeholder = "?"
    begin_sql = "BEGIN"

    def __init__(self, url: str, connection: Any) -> None:
        self.url = url
        self._conn = connection
        self._lock = threading.RLock()

    # -- dialect hooks ---------------------------------------------------------------

    def _q(self, sql: str) -> str:
        return sql.replace("?", self.placeholder) if self.placeholder != "?" else sql

    def _changes(self, cursor: Any) -> int:
        """Rows inserted by the last executemany on ``cursor``."""
        return int(cursor.rowcount)

    def _lock_migrations(self, cursor: Any) -> None:
        """Keep two processes from migrating at once (no-op where one writer is given)."""

    def _lock_commit_order(self, cursor: Any) -> None:
        """Make row ids visible in increasing order (needed where writers run in parallel)."""

    def _connection(self) -> Any:
        """The connection to use now (a server-side backend may replace a broken one)."""
        return self._conn

    # -- plumbing --------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._lock:
            cursor = self._connection().cursor()
            cursor.execute(self.begin_sql)
            try:
                yield cursor
            except BaseException:
                # On a broken connection the rollback fails too; the server has already
                # dropped the transaction, and the original error is what matters.
                with suppress(Exception):
                    cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def _execute(self, cursor: Any, sql: str, params: Sequence[Any] = ()) -> None:
        cursor.execute(self._q(sql), tuple(params))

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            cursor = self._connection().cursor()
            cursor.execute(self._q(sql), tuple(params))
            rows: list[Any] = cursor.fetchall()
            return rows

    def migrate(self) -> int:
        """Apply the migrations not applied yet; return the schema version."""
        with self._transaction() as cursor:
            self._lock_migrations(cursor)
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            cursor.execute("SELECT version FROM schema_migrations")
            applied = {int(row[0]) for row in cursor.fetchall()}
            for version, statements in MIGRATIONS:
                if version in applied:
                    continue
                for statement in statements:
                    cursor.execute(statement.format(**self.types))
                cursor.execute(
                    self._q("INSERT INTO schema_migrations VALUES (?, CURRENT_TIMESTAMP)"),
                    (version,),
                )
            cursor.execute("SELECT MAX(version) FROM schema_migrations")
            return int(cursor.fetchone()[0])

    def schema_version(self) -> int:
        rows = self._fetch("SELECT MAX(version) FROM schema_migrations")
        return int(rows[0][0] or 0)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- writes ----------------------------------------------------------------------

    def write_batch(self, batch: Batch) -> int:
        """Commit ``batch`` in one transaction; return how many reports were new.

        A report whose (device, seq) is already stored is skipped (idempotent), so a
        redelivered batch after a crash stores nothing twice.
        """
        inserted = 0
        with self._transaction() as cursor:
            if batch.reports:
                self._lock_commit_order(cursor)
                cursor.executemany(
                    self._q(
                        "INSERT INTO reports (device, seq, received_at, start_time, end_time, "
                        "raw, digest) VALUES (?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (device, seq) DO NOTHING"
                    ),
                    [
                        (r.device_id, r.seq, r.received_at, r.start, r.end, r.raw, r.digest)
                        for r in batch.reports
                    ],
                )
                inserted = self._changes(cursor)
                last_seen: dict[bytes, float] = {}
                for r in batch.reports:
                    last_seen[r.device_id] = max(r.received_at, last_seen.get(r.device_id, 0.0))
                cursor.executemany(
                    self._q(
                        "INSERT INTO devices (device, last_seen) VALUES (?, ?) "
                        "ON CONFLICT (device) DO UPDATE SET last_seen = CASE "
                        "WHEN devices.last_seen IS NULL OR excluded.last_seen > devices.last_seen "
                        "THEN excluded.last_seen ELSE devices.last_seen END"
                    ),
                    sorted(last_seen.items()),
                )
            if batch.dead_letters:
                cursor.executemany(
                    self._q(
                        "INSERT INTO dead_letters (received_at, topic, reason, detail, device, "
                        "seq, size, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    [
                        (
                            d.received_at,
                            d.topic,
                            d.reason,
                            d.detail,
                            d.device_id,
                            d.seq,
                            d.size,
                            d.raw,
                        )
                        for d in batch.dead_letters
                    ],
                )
            if batch.gaps:
                cursor.executemany(
                    self._q(
                        "INSERT INTO sequence_gaps (device, after_seq, seq, received_at) "
                        "VALUES (?, ?, ?, ?)"
                    ),
                    [(g.device_id, g.after_seq, g.seq, g.received_at) for g in batch.gaps],
                )
            if batch.statuses:
                cursor.executemany(
                    self._q(
                        "INSERT INTO devices (device, state, state_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (device) DO UPDATE SET state = excluded.state, "
                        "state_at = excluded.state_at WHERE devices.state_at IS NULL "
                        "OR excluded.state_at >= devices.state_at"
                    ),
                    [(s.device_id, s.state, s.at) for s in batch.statuses],
                )
            if batch.healths:
                cursor.executemany(
                    self._q("INSERT INTO health_log (device, at, payload) VALUES (?, ?, ?)"),
                    [(h.device_id, h.at, h.payload) for h in batch.healths],
                )
                # Applied in message order, as the per-row statements were: the guard keeps
                # the newest heartbeat of each device.
                cursor.executemany(
                    self._q(
                        "INSERT INTO devices (device, health, health_at, last_seen) "
                        "VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (device) DO UPDATE SET health = excluded.health, "
                        "health_at = excluded.health_at, last_seen = CASE "
                        "WHEN devices.last_seen IS NULL OR excluded.last_seen > devices.last_seen "
                        "THEN excluded.last_seen ELSE devices.last_seen END "
                        "WHERE devices.health_at IS NULL OR excluded.health_at >= devices.health_at"
                    ),
                    [(h.device_id, h.payload, h.at, h.at) for h in batch.healths],
                )
        return inserted

    def set_cursor(self, name: str, expected: int, position: int) -> bool:
        """Move cursor ``name`` from ``expected`` to ``position``; False if it had moved."""
        with self._transaction() as cursor:
            cursor.execute(
                self._q(
                    "INSERT INTO cursors (name, position) VALUES (?, 0) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                (name,),
            )
            cursor.execute(
                self._q("UPDATE cursors SET position = ? WHERE name = ? AND position = ?"),
                (position, name, expected),
            )
            return bool(cursor.rowcount == 1)

    def set_cursor_with_dead_points(
        self, name: str, expected: int, position: int, dead: Sequence[DeadPoint]
    ) -> bool:
        """Move cursor ``name`` from ``expected`` to ``position`` and record ``dead`` in
        the same transaction; False (and nothing recorded) if the cursor had moved."""
        with self._transaction() as cursor:
            cursor.execute(
                self._q(
                    "INSERT INTO cursors (name, position) VALUES (?, 0) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                (name,),
            )
            cursor.execute(
                self._q("UPDATE cursors SET position = ? WHERE name = ? AND position = ?"),
                (position, name, expected),
            )
            if cursor.rowcount != 1:
                return False
            if dead:
                cursor.executemany(
                    self._q(
                        "INSERT INTO series_dead_points "
                        "(report_id, device, seq, measurement, line, reason, at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    [
                        (d.report_id, d.device_id, d.seq, d.measurement, d.line, d.reason, d.at)
                        for d in dead
                    ],
                )
            return True

    def _purge_older(self, table: str, time_column: str, before: float, chunk: int) -> int:
        # Oldest ids first, ``chunk`` at a time, so a large purge never holds one long lock.
        with self._transaction() as cursor:
            cursor.execute(
                self._q(
                    f"DELETE FROM {table} WHERE id IN "
                    f"(SELECT id FROM {table} WHERE {time_column} < ? ORDER BY id LIMIT ?)"
                ),
                (before, chunk),
            )
            return int(cursor.rowcount)

    def purge_health(self, before: float, chunk: int) -> int:
        """Delete up to ``chunk`` health rows older than ``before``; return how many."""
        return self._purge_older("health_log", "at", before, chunk)

    def purge_dead_letters(self, before: float, chunk: int) -> int:
        """Delete up to ``chunk`` dead letters received before ``before``; return how many."""
        return self._purge_older("dead_letters", "received_at", before, chunk)

    def purge_dead_points(self, before: float, chunk: int) -> int:
        """Delete up to ``chunk`` refused series points recorded before ``before``."""
        return self._purge_older("series_dead_points", "at", before, chunk)

    # -- reads -----------------------------------------------------------------------

    def get_cursor(self, name: str) -> int:
        rows = self._fetch("SELECT position FROM cursors WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else 0

    def reports_after(self, row_id: int, limit: int = 1000) -> list[StoredReport]:
        """Reports with id > ``row_id`` in id order (the cursor every consumer follows)."""
        rows = self._fetch(
            f"SELECT {_REPORT_COLUMNS} FROM reports WHERE id > ? ORDER BY id LIMIT ?",
            (row_id, limit),
        )
        return [_report(row) for row in rows]

    def reports_received_between(
        self, start: float, end: float, *, after_id: int = 0, limit: int = 10_000
    ) -> list[StoredReport]:
        """Reports received in ``[start, end)`` with id > ``after_id``, in id order."""
        rows = self._fetch(
            f"SELECT {_REPORT_COLUMNS} FROM reports WHERE received_at >= ? AND received_at < ? "
            "AND id > ? ORDER BY id LIMIT ?",
            (start, end, after_id, limit),
        )
        return [_report(row) for row in rows]

    def report(self, device_id: bytes, seq: int) -> StoredReport | None:
        rows = self._fetch(
            f"SELECT {_REPORT_COLUMNS} FROM reports WHERE device = ? AND seq = ?",
            (bytes(device_id), seq),
        )
        return _report(rows[0]) if rows else None

    def max_row_id(self) -> int:
        rows = self._fetch("SELECT MAX(id) FROM reports")
        return int(rows[0][0] or 0)

    def count_reports(self) -> int:
        return int(self._fetch("SELECT COUNT(*) FROM reports")[0][0])

    def device_heads(self) -> dict[bytes, int]:
        """Highest stored seq of every device."""
        rows = self._fetch("SELECT device, MAX(seq) FROM reports GROUP BY device")
        return {bytes(row[0]): int(row[1]) for row in rows}

    def device_head(self, device_id: bytes) -> int | None:
        """Highest stored seq of one device (None before its first report)."""
        rows = self._fetch("SELECT MAX(seq) FROM reports WHERE device = ?", (device_id,))
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    def contiguous_through(self, device_id: bytes, after_seq: int = 0, *, limit: int = 5000) -> int:
        """The highest N >= ``after_seq`` such that seqs ``after_seq + 1 .. N`` are stored.

        The caller passes a value it knows to be contiguous from seq 1 (reports are never
        deleted, so one stays true). At most ``limit`` rows are read, so the answer may
        stop short of the true one; asking again from it continues the walk. From 0, a
        device whose stored seqs are exactly ``1..MAX`` is answered by one count.
        """
        device = bytes(device_id)
        if after_seq <= 0:
            rows = self._fetch(
                "SELECT COUNT(*), MAX(seq) FROM reports WHERE device = ? AND seq >= 1", (device,)
            )
            count, high = int(rows[0][0]), rows[0][1]
            if high is not None and count == int(high):
                return count
            after_seq = 0
        rows = self._fetch(
            "SELECT seq FROM reports WHERE device = ? AND seq > ? ORDER BY seq LIMIT ?",
            (device, after_seq, limit),
        )
        through = after_seq
        for (seq,) in rows:
            if int(seq) != through + 1:
                break
            through += 1
        return through

    def dead_letters(self, *, after_id: int = 0, limit: int = 1000) -> list[DeadLetter]:
        rows = self._fetch(
            "SELECT id, received_at, topic, reason, detail, device, seq, size, raw "
            "FROM dead_letters WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [
            DeadLetter(
                row_id=int(row[0]),
                received_at=float(row[1]),
                topic=str(row[2]),
                reason=str(row[3]),
                detail=str(row[4]),
                device_id=None if row[5] is None else bytes(row[5]),
                seq=None if row[6] is None else int(row[6]),
                size=int(row[7]),
                raw=bytes(row[8]),
            )
            for row in rows
        ]

    def dead_points(self, *, after_id: int = 0, limit: int = 1000) -> list[DeadPoint]:
        """Series points the store refused, in the order they were recorded."""
        rows = self._fetch(
            "SELECT id, report_id, device, seq, measurement, line, reason, at "
            "FROM series_dead_points WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [
            DeadPoint(
                row_id=int(row[0]),
                report_id=int(row[1]),
                device_id=bytes(row[2]),
                seq=int(row[3]),
                measurement=str(row[4]),
                line=str(row[5]),
                reason=str(row[6]),
                at=float(row[7]),
            )
            for row in rows
        ]

    def count_dead_points(self) -> int:
        rows = self._fetch("SELECT COUNT(*) FROM series_dead_points")
        return int(rows[0][0])

    def dead_letter_counts(self) -> dict[str, int]:
        rows = self._fetch("SELECT reason, COUNT(*) FROM dead_letters GROUP BY reason")
        return {str(row[0]): int(row[1]) for row in rows}

    def gaps(self, device_id: bytes | None = None) -> list[Gap]:
        sql = "SELECT device, after_seq, seq, received_at FROM sequence_gaps"
        params: tuple[Any, ...] = ()
        if device_id is not None:
            sql += " WHERE device = ?"
            params = (bytes(device_id),)
        rows = self._fetch(sql + " ORDER BY id", params)
        return [Gap(bytes(r[0]), int(r[1]), int(r[2]), float(r[3])) for r in rows]

    def _device_rows(self, where: str = "", params: tuple[Any, ...] = ()) -> list[DeviceStatus]:
        rows = self._fetch(
            "SELECT device, state, state_at, last_seen, health, health_at FROM devices "
            f"{where} ORDER BY device",
            params,
        )
        return [
            DeviceStatus(
                device_id=bytes(r[0]),
                state=str(r[1]),
                state_at=None if r[2] is None else float(r[2]),
                last_seen=None if r[3] is None else float(r[3]),
                health=None if r[4] is None else str(r[4]),
                health_at=None if r[5] is None else float(r[5]),
            )
            for r in rows
        ]

    def devices(self) -> list[DeviceStatus]:
        return self._device_rows()

    def device_status(self, device_id: bytes) -> DeviceStatus | None:
        found = self._device_rows("WHERE device = ?", (bytes(device_id),))
        return found[0] if found else None

    def count_health(self) -> int:
        return int(self._fetch("SELECT COUNT(*) FROM health_log")[0][0])

    def device_reports(
        self, device_id: bytes, *, before_seq: int | None = None, limit: int = 1000
    ) -> list[ReportHead]:
        """The device's reports without their bytes, newest first, seq below ``before_seq``."""
        sql = "SELECT seq, start_time, end_time, received_at FROM reports WHERE device = ?"
        params: list[Any] = [bytes(device_id)]
        if before_seq is not None:
            sql += " AND seq < ?"
            params.append(before_seq)
        rows = self._fetch(sql + " ORDER BY seq DESC LIMIT ?", [*params, limit])
        return [ReportHead(int(r[0]), int(r[1]), int(r[2]), float(r[3])) for r in rows]

    def reports_overlapping(
        self, device_id: bytes, start: float, end: float, *, limit: int = 10_000
    ) -> list[ReportHead]:
        """The device's reports whose interval ``[start, end]`` meets the closed range
        ``[start, end]`` given, by interval start: which report a reading came from."""
        rows = self._fetch(
            "SELECT seq, start_time, end_time, received_at FROM reports "
            "WHERE device = ? AND end_time >= ? AND start_time <= ? ORDER BY start_time, seq "
            "LIMIT ?",
            (bytes(device_id), start, end, limit),
        )
        return [ReportHead(int(r[0]), int(r[1]), int(r[2]), float(r[3])) for r in rows]

    # -- anchor state: leader lease --------------------------------------------------

    def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> bool:
        """Take or renew lease ``name`` for ``holder`` until ``now + ttl``.

        Succeeds when the lease is free, expired or already ``holder``'s; the check and
        the write are one statement, so two processes can never both hold it.
        """
        with self._transaction() as cursor:
            self._execute(
                cursor,
                "INSERT INTO anchor_leases (name, holder, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "expires_at = excluded.expires_at "
                "WHERE anchor_leases.holder = excluded.holder OR anchor_leases.expires_at < ?",
                (name, holder, now + ttl, now),
            )
            self._execute(cursor, "SELECT holder FROM anchor_leases WHERE name = ?", (name,))
            row = cursor.fetchone()
        return row is not None and row[0] == holder

    def release_lease(self, name: str, holder: str) -> None:
        with self._transaction() as cursor:
            self._execute(
                cursor, "DELETE FROM anchor_leases WHERE name = ? AND holder = ?", (name, holder)
            )

    def lease_holder(self, name: str, now: float) -> str | None:
        rows = self._fetch(
            "SELECT holder FROM anchor_leases WHERE name = ? AND expires_at >= ?", (name, now)
        )
        return str(rows[0][0]) if rows else None

    # -- anchor state: closed epochs -------------------------------------------------

    def first_epoch(self, default: int) -> int:
        """The first epoch this deployment anchors: ``default`` the first time it is asked."""
        with self._transaction() as cursor:
            self._execute(
                cursor,
                "INSERT INTO anchor_meta (key, value) VALUES ('first_epoch', ?) "
                "ON CONFLICT (key) DO NOTHING",
                (str(default),),
            )
            self._execute(cursor, "SELECT value FROM anchor_meta WHERE key = 'first_epoch'")
            row = cursor.fetchone()
        return int(row[0])

    def epoch(self, epoch: int) -> EpochRecord | None:
        rows = self._fetch(f"SELECT {_EPOCH_COLUMNS} FROM anchor_epochs WHERE epoch = ?", (epoch,))
        return _epoch(rows[0]) if rows else None

    def last_epoch(self) -> EpochRecord | None:
        rows = self._fetch(
            f"SELECT {_EPOCH_COLUMNS} FROM anchor_epochs ORDER BY epoch DESC LIMIT 1"
        )
        return _epoch(rows[0]) if rows else None

    def epochs(self) -> list[EpochRecord]:
        rows = self._fetch(f"SELECT {_EPOCH_COLUMNS} FROM anchor_epochs ORDER BY epoch")
        return [_epoch(row) for row in rows]

    def previous_cumulative(self, before: int) -> dict[str, int]:
        """The cumulative reward totals of the last epoch before ``before`` that has them."""
        rows = self._fetch(
            "SELECT cumulative FROM anchor_epochs WHERE epoch < ? AND cumulative IS NOT NULL "
            "ORDER BY epoch DESC LIMIT 1",
            (before,),
        )
        return {k: int(v) for k, v in json.loads(rows[0][0]).items()} if rows else {}

    def record_closed(self, record: EpochRecord) -> EpochRecord:
        """Persist a closed epoch; if it was closed already, the stored record wins."""
        cumulative = (
            None
            if record.cumulative is None
            else json.dumps({k: str(v) for k, v in sorted(record.cumulative.items())})
        )
        with self._transaction() as cursor:
            self._execute(
                cursor,
                f"INSERT INTO anchor_epochs ({_EPOCH_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (epoch) DO NOTHING",
                (
                    record.epoch,
                    record.start,
                    record.end,
                    record.status.value,
                    record.count,
                    record.root,
                    record.cid,
                    record.reward_root,
                    None if record.total_cumulative is None else str(record.total_cumulative),
                    cumulative,
                    record.anchor_tx,
                    record.reward_tx,
                ),
            )
        stored = self.epoch(record.epoch)
        assert stored is not None
        return stored

    def mark(self, epoch: int, status: EpochStatus, *, tx: str | None = None) -> None:
        """Move a closed epoch to ``status``, keeping the transaction that got it there."""
        column = "anchor_tx" if status is EpochStatus.ANCHORED else "reward_tx"
        with self._transaction() as cursor:
            self._execute(
                cursor,
                f"UPDATE anchor_epochs SET status = ?, {column} = COALESCE(?, {column}) "
                "WHERE epoch = ?",
                (status.value, tx, epoch),
            )
            if cursor.rowcount != 1:
                raise AggregatorError(f"anchor state: epoch {epoch} was never closed")
