"""The outbox store.

* A sequence number is allocated in the same transaction that stores the report signed
  with it, and the counter lives apart from the rows, so seqs survive restarts and never
  repeat, even after every row was acknowledged and deleted.
* Appends use ``synchronous=FULL``: a seq lost to a power cut could be handed out twice.
* Over the cap, the oldest rows go first, and the drop counter is persisted.

Each thread opens its own connection (:meth:`Outbox.connection`); WAL lets the pump read
and delete while the agent appends.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from edge_agent.errors import AgentError
from edge_agent.outbox.config import OutboxConfig

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reports (
    seq INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    data BLOB NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('next_seq', 1), ('dropped', 0), ('bytes', 0),
    ('count', 0);
"""


Retire = Callable[[sqlite3.Connection, Iterable[tuple[int, bytes]]], None]


class OutboxError(AgentError):
    """The outbox database could not be opened or written."""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One stored report."""

    seq: int
    created: float
    data: bytes


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Counters shown in the health heartbeat."""

    depth: int
    bytes: int
    dropped: int
    next_seq: int
    oldest_created: float | None

    @property
    def acknowledged(self) -> int:
        """Reports the broker acknowledged: every seq handed out, less those kept or dropped."""
        return self.next_seq - 1 - self.depth - self.dropped


class Outbox:
    """Durable FIFO of signed reports keyed by sequence number."""

    def __init__(self, config: OutboxConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self._local = threading.local()
        self._append_lock = threading.Lock()
        # Called with (connection, [(seq, data), ...]) inside the transaction that deletes
        # acknowledged reports (not those the cap drops): the audit journal keeps what it
        # needs of them.
        self.retire: Retire | None = None
        config.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self.connection()
        try:
            conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox {config.path}: {exc}") from exc

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.config.path, isolation_level=None, timeout=30.0)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
            except sqlite3.Error as exc:
                raise OutboxError(f"outbox {self.config.path}: {exc}") from exc
            self._local.conn = conn
        return conn

    def relax_sync_for_this_thread(self) -> None:
        """Commit this thread's deletes without fsync (``synchronous=NORMAL`` under WAL).

        For the publishing thread only: a delete lost to a power cut means one report is
        sent again and deduplicated by (device, seq); appends keep full durability.
        """
        self.connection().execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        """Close this thread's connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- writes -------------------------------------------------------------------

    def append(self, build: Callable[[int], bytes]) -> OutboxEntry:
        """Allocate the next seq, call ``build(seq)`` for the signed report, store it.

        All in one transaction: if ``build`` raises, the seq is not consumed.
        """
        conn = self.connection()
        with self._append_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    seq = _meta(conn, "next_seq")
                    data = build(seq)
                    created = self._clock()
                    conn.execute(
                        "INSERT INTO reports (seq, created, data) VALUES (?, ?, ?)",
                        (seq, created, data),
                    )
                    conn.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (seq + 1,))
                    _bump(conn, "bytes", len(data))
                    _bump(conn, "count", 1)
                    self._enforce_cap(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise OutboxError(f"outbox {self.config.path}: append failed: {exc}") from exc
        return OutboxEntry(seq, created, data)

    def _enforce_cap(self, conn: sqlite3.Connection) -> None:
        cfg = self.config
        while _meta(conn, "count") > 1 and (
            _meta(conn, "bytes") > cfg.max_bytes or _meta(conn, "count") > cfg.max_reports
        ):
            row = conn.execute(
                "SELECT seq, length(data) FROM reports ORDER BY seq LIMIT 1"
            ).fetchone()
            conn.execute("DELETE FROM reports WHERE seq = ?", (row[0],))
            _bump(conn, "bytes", -int(row[1]))
            _bump(conn, "count", -1)
            _bump(conn, "dropped", 1)

    def delete(self, seqs: Iterable[int]) -> int:
        """Remove the reports ``seqs``; returns how many rows were present."""
        wanted = sorted(set(seqs))
        # Chunks of 500 stay below SQLite's limit on bound parameters.
        chunks = [wanted[i : i + 500] for i in range(0, len(wanted), 500)]
        return self._remove(
            (f"seq IN ({','.join('?' * len(chunk))})", tuple(chunk)) for chunk in chunks
        )

    def delete_spans(self, spans: Iterable[tuple[int, int]]) -> int:
        """Remove the reports in each inclusive ``(first, last)`` span; returns how many."""
        return self._remove(
            ("seq BETWEEN ? AND ?", (first, last)) for first, last in spans if first <= last
        )

    def _remove(self, matches: Iterable[tuple[str, tuple[int, ...]]]) -> int:
        """Delete the rows each ``(where, params)`` matches, in one transaction, keeping
        the stored count and bytes in step; returns how many rows went."""
        wanted = list(matches)
        if not wanted:
            return 0
        conn = self.connection()
        removed = 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for where, params in wanted:
                    row = conn.execute(
                        "SELECT count(*), coalesce(sum(length(data)), 0) FROM reports "
                        f"WHERE {where}",
                        params,
                    ).fetchone()
                    if not row[0]:
                        continue
                    if self.retire is not None:
                        rows = conn.execute(f"SELECT seq, data FROM reports WHERE {where}", params)
                        self.retire(conn, ((int(q), bytes(d)) for q, d in rows))
                    conn.execute(f"DELETE FROM reports WHERE {where}", params)
                    removed += int(row[0])
                    _bump(conn, "bytes", -int(row[1]))
                    _bump(conn, "count", -int(row[0]))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox {self.config.path}: delete failed: {exc}") from exc
        return removed

    # -- reads --------------------------------------------------------------------

    def pending(self, after_seq: int, limit: int) -> Sequence[OutboxEntry]:
        """Stored reports with seq > ``after_seq``, oldest first."""
        rows = (
            self.connection()
            .execute(
                "SELECT seq, created, data FROM reports WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            )
            .fetchall()
        )
        return [OutboxEntry(int(seq), float(created), bytes(data)) for seq, created, data in rows]

    def is_empty(self) -> bool:
        return self.connection().execute("SELECT 1 FROM reports LIMIT 1").fetchone() is None

    def get(self, seq: int) -> OutboxEntry | None:
        row = (
            self.connection()
            .execute("SELECT seq, created, data FROM reports WHERE seq = ?", (seq,))
            .fetchone()
        )
        return None if row is None else OutboxEntry(int(row[0]), float(row[1]), bytes(row[2]))

    def stats(self) -> OutboxStats:
        conn = self.connection()
        # The lowest seq is the oldest row (seq and created are stamped under one lock):
        # a lookup on the key instead of a scan of every row.
        row = conn.execute("SELECT created FROM reports ORDER BY seq LIMIT 1").fetchone()
        oldest = None if row is None else row[0]
        return OutboxStats(
            depth=_meta(conn, "count"),
            bytes=_meta(conn, "bytes"),
            dropped=_meta(conn, "dropped"),
            next_seq=_meta(conn, "next_seq"),
            oldest_created=None if oldest is None else float(oldest),
        )


def _meta(conn: sqlite3.Connection, key: str) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return int(row[0])


def _bump(conn: sqlite3.Connection, key: str, delta: int) -> None:
    conn.execute("UPDATE meta SET value = value + ? WHERE key = ?", (delta, key))
