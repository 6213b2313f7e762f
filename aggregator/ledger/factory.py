"""One factory: the ledger URL's scheme picks the backend."""

from __future__ import annotations

from urllib.parse import urlsplit

from aggregator.errors import AggregatorValueError
from aggregator.ledger.sql import SqlLedger


def open_ledger(url: str, *, migrate: bool = True) -> SqlLedger:
    """``sqlite:///path`` or ``postgresql://…``; an unknown scheme is an error naming it."""
    scheme = urlsplit(url).scheme
    ledger: SqlLedger
    if scheme == "sqlite":
        from aggregator.ledger.sqlite import SqliteLedger

        ledger = SqliteLedger(url)
    elif scheme in ("postgresql", "postgres"):
        from aggregator.ledger.postgres import PostgresLedger

        ledger = PostgresLedger(url)
    else:
        raise AggregatorValueError(
            f"ledger URL {url!r}: unknown scheme {scheme!r} (sqlite or postgresql)"
        )
    if migrate:
        ledger.migrate()
    return ledger
