"""Config of the outbox: where it lives and how big it may grow."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from fieldproof.config import ConfigModel


class OutboxConfig(ConfigModel):
    """The outbox keeps every signed report until it is acknowledged (by default: until
    an aggregator's ack says the ledger holds it).

    Past ``max_bytes`` or ``max_reports`` the OLDEST reports are dropped (the newest
    data is the most useful after a long outage); each drop is counted and reported
    in the health heartbeat, never silent.
    """

    path: Path = Field(default=Path("outbox.sqlite"), description="SQLite file of the outbox.")
    max_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1024, description="Cap on stored report bytes."
    )
    max_reports: int = Field(
        default=1_000_000, ge=1, description="Cap on the number of stored reports."
    )
