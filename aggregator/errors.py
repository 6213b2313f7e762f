"""Error root of the aggregator."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from fieldproof.errors import FieldproofError


class AggregatorError(FieldproofError):
    """Base of all errors raised by the aggregator."""


class AggregatorValueError(AggregatorError, ValueError):
    """A value handed to the aggregator was not acceptable."""


class StoreOpenError(AggregatorError):
    """A ledger or series store could not be opened; the message names it and why."""

    exit_code = 3


def redacted_url(url: str) -> str:
    """``url`` without its password, fit for a log line or an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def open_failure(what: str, url: str, exc: BaseException) -> StoreOpenError:
    """The one-line error for a store at ``url`` that would not open."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return StoreOpenError(f"{what} {redacted_url(url)}: cannot open: {reason}")
