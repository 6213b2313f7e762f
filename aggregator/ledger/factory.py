"""One factory: the ledger URL's scheme picks the backend."""

from __future__ import annotations

from urllib.parse import urlsplit

from aggregator.errors import AggregatorValueError, open_failure, redacted_url
from aggregator.ledger.sql import SqlLedger


def open_ledger(url: str, *, migrate: bool = True) -> SqlLedger:
    """``sqlite:///path`` or ``postgresql://…``; an unknown scheme is an error naming it."""
    scheme = urlsplit(url).scheme
    if scheme not in ("sqlite", "postgresql", "postgres"):
        raise AggregatorValueError(
            f"ledger URL {redacted_url(url)!r}: unknown scheme {scheme!r} (sqlite or postgresql)"
        )
    try:
        ledger: SqlLedger
        if scheme == "sqlite":
            from aggregator.ledger.sqlite import SqliteLedger

            ledger = SqliteLedger(url)
        else:
            from aggregator.ledger.postgres import PostgresLedger

            ledger = PostgresLedger(url)
        if migrate:
            ledger.migrate()
    except Exception as exc:  # any reason a store will not open is the operator's one line
        raise open_failure("ledger", url, exc) from exc
    return ledger
