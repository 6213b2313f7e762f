"""PostgreSQL ledger (psycopg 3): the shared ledger of several aggregator processes."""

from __future__ import annotations

from typing import Any, ClassVar

import psycopg

from aggregator.errors import AggregatorError
from aggregator.ledger.sql import SqlLedger

# Arbitrary fixed keys for pg_advisory_xact_lock.
_MIGRATION_LOCK = 0x6670_6C65_6467_0001
_COMMIT_ORDER_LOCK = 0x6670_6C65_6467_0002


class PostgresLedger(SqlLedger):
    dialect = "postgresql"
    types: ClassVar[dict[str, str]] = {
        "id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "blob": "BYTEA",
        "real": "DOUBLE PRECISION",
    }
    placeholder = "%s"
    begin_sql = "BEGIN"

    def __init__(self, url: str) -> None:
        try:
            connection = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise AggregatorError(f"ledger: cannot connect to PostgreSQL: {exc}") from exc
        super().__init__(url, connection)

    def _connection(self) -> Any:
        # A server restart or a terminated backend leaves the connection broken; the
        # failed transaction was rolled back by the server, so a new connection and a
        # retry of the same batch are safe (inserts are idempotent).
        if self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(self.url, autocommit=True)
            except psycopg.Error as exc:
                raise AggregatorError(f"ledger: cannot reconnect to PostgreSQL: {exc}") from exc
        return self._conn

    def _lock_migrations(self, cursor: Any) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))

    def _lock_commit_order(self, cursor: Any) -> None:
        # Identity values are handed out at insert time, not commit time: without this a
        # cursor reader could pass id 10 (committed) before id 9 (still in flight) shows
        # up. Holding one lock from first insert to commit makes ids visible in order.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_COMMIT_ORDER_LOCK,))
