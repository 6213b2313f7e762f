"""What the anchorer has done, kept in a database so a restart resumes where it stopped.

One row per closed epoch, written *before* anything is sent: the data root, report count
and bundle CID, and the reward root with the cumulative totals it commits to. Its status
moves ``closed`` → ``anchored`` → ``done`` (``empty`` for an epoch without reports). A
lease row elects the one process allowed to anchor.

The URL picks the backend: ``sqlite:///PATH`` (one host) or ``postgresql://…`` (the
database several aggregator processes share, so that one of them anchors). The SQL is the
common subset of both.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar
from urllib.parse import urlsplit

from aggregator.anchoring.errors import AnchoringError, AnchoringValueError
from aggregator.errors import AggregatorValueError
from aggregator.ledger.sqlite import connect_sqlite

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS anchor_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS anchor_leases ("
    " name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at {real} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS anchor_epochs ("
    " epoch BIGINT PRIMARY KEY, start_at BIGINT NOT NULL, end_at BIGINT NOT NULL,"
    " status TEXT NOT NULL, count BIGINT NOT NULL, root {blob}, cid TEXT,"
    " reward_root {blob}, total_cumulative TEXT, cumulative TEXT,"
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


class _Backend:
    """One connection and the few ways the two databases differ."""

    types: ClassVar[dict[str, str]] = {"real": "REAL", "blob": "BLOB"}

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any = None

    def sql(self, statement: str) -> str:
        return statement

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        raise NotImplementedError

    def fetch(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def close(self) -> None:
        self.conn.close()


class _Sqlite(_Backend):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        try:
            # FULL: "epoch closed with root R" must survive power loss before we send.
            self.conn = connect_sqlite(url)
        except AggregatorValueError as exc:
            raise AnchoringValueError(f"anchor state {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        cursor = self.conn.cursor()
        try:
            # IMMEDIATE: take the write lock first, so two processes serialise here.
            cursor.execute("BEGIN IMMEDIATE")
            yield cursor
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        finally:
            cursor.close()

    def fetch(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self.conn.execute(statement, params).fetchall()
        return rows


class _Postgres(_Backend):
    types: ClassVar[dict[str, str]] = {"real": "DOUBLE PRECISION", "blob": "BYTEA"}

    def __init__(self, url: str) -> None:
        super().__init__(url)
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.conn.transaction(), self.conn.cursor() as cursor:
            yield _PgCursor(cursor, self)

    def fetch(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cursor:
            cursor.execute(self.sql(statement), params)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows


class _PgCursor:
    """A cursor that takes the ``?`` placeholders the statements are written with."""

    def __init__(self, cursor: Any, backend: _Postgres) -> None:
        self._cursor = cursor
        self._backend = backend

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        self._cursor.execute(self._backend.sql(statement), params)

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)


def _open_backend(url: str) -> _Backend:
    scheme = urlsplit(url).scheme
    try:
        if scheme == "sqlite":
            return _Sqlite(url)
        if scheme in ("postgresql", "postgres"):
            return _Postgres(url)
    except AnchoringValueError:
        raise
    except Exception as exc:  # sqlite3.Error, psycopg.Error: both name the cause
        raise AnchoringError(f"anchor state {_redact(url)}: {exc}") from exc
    raise AnchoringValueError(
        f"anchor state {_redact(url)}: unknown scheme {scheme!r} (sqlite or postgresql)"
    )


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@")


class AnchorState:
    """The anchorer's persistent state and leader lease (``sqlite:///…`` or ``postgresql://…``)."""

    def __init__(self, url: str) -> None:
        self._backend = _open_backend(url)
        self._lock = threading.Lock()
        try:
            with self._tx() as cursor:
                for statement in SCHEMA:
                    cursor.execute(statement.format(**self._backend.types))
        except AnchoringError:
            raise
        except Exception as exc:
            raise AnchoringError(f"anchor state {_redact(url)}: {exc}") from exc

    def close(self) -> None:
        self._backend.close()

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self._lock, self._backend.transaction() as cursor:
            yield cursor

    def _fetch(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._backend.fetch(statement, params)

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
        rows = self._fetch(
            "SELECT holder FROM anchor_leases WHERE name = ? AND expires_at >= ?", (name, now)
        )
        return str(rows[0][0]) if rows else None

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
        rows = self._fetch(f"SELECT {_COLUMNS} FROM anchor_epochs WHERE epoch = ?", (epoch,))
        return _record(rows[0]) if rows else None

    def last_epoch(self) -> EpochRecord | None:
        rows = self._fetch(f"SELECT {_COLUMNS} FROM anchor_epochs ORDER BY epoch DESC LIMIT 1")
        return _record(rows[0]) if rows else None

    def epochs(self) -> list[EpochRecord]:
        rows = self._fetch(f"SELECT {_COLUMNS} FROM anchor_epochs ORDER BY epoch")
        return [_record(row) for row in rows]

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
