"""SQLite ledger (WAL): the embedded default, one writer process."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import ClassVar

from aggregator.errors import AggregatorValueError
from aggregator.ledger.sql import SqlLedger


def sqlite_path(url: str) -> str:
    """``sqlite:///relative.db``, ``sqlite:////abs/path.db`` or ``sqlite:///:memory:``."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise AggregatorValueError(f"{url!r}: expected sqlite:///PATH")
    return url[len(prefix) :]


def connect_sqlite(url: str) -> sqlite3.Connection:
    """An autocommit connection to the database at ``url`` (its folder made if needed)
    in WAL mode with synchronous=FULL: what is committed survives power loss."""
    path = sqlite_path(url)
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


class SqliteLedger(SqlLedger):
    dialect = "sqlite"
    types: ClassVar[dict[str, str]] = {
        "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "blob": "BLOB",
        "real": "REAL",
    }
    # Take the write lock at BEGIN so a reader connection never has to upgrade mid-way.
    begin_sql = "BEGIN IMMEDIATE"

    def __init__(self, url: str) -> None:
        # FULL: an acknowledged report must survive power loss, not only a crash.
        connection = connect_sqlite(url)
        super().__init__(url, connection)
