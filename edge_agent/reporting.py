"""What producers hand their interval records to (``Agent.submit``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from fieldproof.wire import ModelRef, Record


class Submit(Protocol):
    """Sign and store one interval report; returns its sequence number."""

    def __call__(
        self, start: int, end: int, records: Sequence[Record], model: ModelRef | None = None
    ) -> int: ...
