"""Errors of the chain bindings."""

from __future__ import annotations

from fieldproof.errors import FieldproofError, FieldproofValueError


class ChainError(FieldproofError):
    """A chain could not be reached, or a transaction failed."""


class ChainValueError(ChainError, FieldproofValueError):
    """A chain URL, key source, deployment file or argument is not acceptable."""


class ChainRevertError(ChainError):
    """A contract call reverted; ``reason`` names the custom error (e.g. ``ZeroRoot``)."""

    def __init__(self, message: str, reason: str, tx_hash: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.tx_hash = tx_hash
