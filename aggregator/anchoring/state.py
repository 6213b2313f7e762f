"""What the anchorer has done, kept in a database so a restart resumes where it stopped.

One row per closed epoch, written *before* anything is sent: the data root, report count
and bundle CID, and the reward root with the cumulative totals it commits to. Its status
moves ``closed`` → ``anchored`` → ``done`` (``empty`` for an epoch without reports). A
lease row elects the one process allowed to anchor.

SQLite (``sqlite:///PATH``) is the backend here; the SQL is kept to what PostgreSQL also
runs, so a shared ledger database can hold the lease when several aggregators run.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from aggregator.anchoring.errors import AnchoringError, AnchoringValueError

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS anchor_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS anchor_leases ("
    " name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS anchor_epochs ("
    " epoch INTEGER PRIMARY KEY, start_at INTEGER NOT NULL, end_at INTEGER NOT NULL,"
    " status TEXT NOT NULL, count INTEGER NOT NULL, root BLOB, cid TEXT,"
    " reward_root BLOB, total_cumulative TEXT, cumulative TEXT,"
    " anchor_tx TEXT, reward_tx TEXT)",
)


class EpochStatus(StrEnum):
    CLOSED = "closed"  # root persisted, nothing known on-chain yet
    ANCHORED = "anchored"  # DataAnchor holds the root; rewards not yet published
    DONE = "done"
    EMPTY = "empty"  # no reports: nothing to anchor

    @property
    def finished(self) -> bool:
        return self in (EpochStatus.DONE, EpochStatus.EMPTY)


@dataclass(frozen=True, slots=True)
class EpochRecord:
    """One closed epoch as persisted before sending."""

    epoch: int
    start: int
    end: int
    status: EpochStatus
    count: int
    root: bytes | None
    cid: str | None
    reward_root: bytes | None
    total_cumulative: int | None
    cumulative: Mapping[str, int] | None
    anchor_tx: str | None = None
    reward_tx: str | None = None


def _record(row: tuple[Any, ...]) -> EpochRecord:
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


_COLUMNS = (
    "epoch, start_at, end_at, status, count, root, cid, reward_root, total_cumulative,"
    " cumulative, anchor_tx, reward_tx"
)


def sqlite_path(url: str) -> str:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise AnchoringValueError(
            f"anchor state {url!r}: expected sqlite:///PATH (the only backend for now)"
        )
    return url[len(prefix) :]


class AnchorState:
    """The anchorer's persistent state and leader lease in one SQLite database (WAL)."""

    def __init__(self, url: str) -> None:
        path = sqlite_path(url)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: "epoch closed with root R" must survive power loss before we send.
            self._db.execute("PRAGMA synchronous=FULL")
            for statement in SCHEMA:
                self._db.execute(statement)
        except sqlite3.Error as exc:
            raise AnchoringError(f"anchor state {url}: {exc}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cursor = self._db.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
                yield cursor
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            finally:
                cursor.close()

    # -- leader lease ------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> bool:
        """Take or renew lease ``name`` for ``holder`` until ``now + ttl``.

        Succeeds when the lease is free, expired or already ``holder``'s; the check and
        the write are one statement, so two processes can never both hold it.
        """
        with self._tx() as cursor:
            cursor.execute(
                "INSERT INTO anchor_leases (name, holder, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "expires_at = excluded.expires_at "
                "WHERE anchor_leases.holder = excluded.holder OR anchor_leases.expires_at < ?",
                (name, holder, now + ttl, now),
            )
            cursor.execute("SELECT holder FROM anchor_leases WHERE name = ?", (name,))
            row = cursor.fetchone()
        return row is not None and row[0] == holder

    def release_lease(self, name: str, holder: str) -> None:
        with self._tx() as cursor:
            cursor.execute(
                "DELETE FROM anchor_leases WHERE name = ? AND holder = ?", (name, holder)
            )

    def lease_holder(self, name: str, now: float) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT holder FROM anchor_leases WHERE name = ? AND expires_at >= ?", (name, now)
            ).fetchone()
        return None if row is None else str(row[0])

    # -- epochs --------------------------------------------------------------------------

    def first_epoch(self, default: int) -> int:
        """The first epoch this deployment anchors: ``default`` the first time it is asked."""
        with self._tx() as cursor:
            cursor.execute(
                "INSERT INTO anchor_meta (key, value) VALUES ('first_epoch', ?) "
                "ON CONFLICT (key) DO NOTHING",
                (str(default),),
            )
            cursor.execute("SELECT value FROM anchor_meta WHERE key = 'first_epoch'")
            row = cursor.fetchone()
        return int(row[0])

    def epoch(self, epoch: int) -> EpochRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM anchor_epochs WHERE epoch = ?", (epoch,)
            ).fetchone()
        return None if row is None else _record(row)

    def last_epoch(self) -> EpochRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM anchor_epochs ORDER BY epoch DESC LIMIT 1"
            ).fetchone()
        return None if row is None else _record(row)

    def epochs(self) -> list[EpochRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM anchor_epochs ORDER BY epoch"
            ).fetchall()
        return [_record(row) for row in rows]

    def previous_cumulative(self, before: int) -> dict[str, int]:
        """The cumulative reward totals of the last epoch before ``before`` that has them."""
        with self._lock:
            row = self._db.execute(
                "SELECT cumulative FROM anchor_epochs WHERE epoch < ? AND cumulative IS NOT NULL "
                "ORDER BY epoch DESC LIMIT 1",
                (before,),
            ).fetchone()
        return {} if row is None else {k: int(v) for k, v in json.loads(row[0]).items()}

    def record_closed(self, record: EpochRecord) -> EpochRecord:
        """Persist a closed epoch; if it was closed already, the stored record wins."""
        cumulative = (
            None
            if record.cumulative is None
            else json.dumps({k: str(v) for k, v in sorted(record.cumulative.items())})
        )
        with self._tx() as cursor:
            cursor.execute(
                f"INSERT INTO anchor_epochs ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
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
        column = "anchor_tx" if status is EpochStatus.ANCHORED else "reward_tx"
        with self._tx() as cursor:
            cursor.execute(
                f"UPDATE anchor_epochs SET status = ?, {column} = COALESCE(?, {column}) "
                "WHERE epoch = ?",
                (status.value, tx, epoch),
            )
            if cursor.rowcount != 1:
                raise AnchoringError(f"anchor state: epoch {epoch} was never closed")
