"""Replayed or out-of-order status and health documents are refused.

A signed document proves who wrote it, not when: a copy kept from last week verifies as
well as a fresh one. Each document therefore carries ``at`` (when it was signed) and a
status also its link ``session`` (random per process of the device):

* a heartbeat must be younger than ``max_age_s``, not ahead of this clock by more than
  ``max_future_skew_s``, and later than the device's last accepted heartbeat;
* an ``online`` status must not be ahead of this clock and must be later than the last
  accepted status;
* an ``offline`` status is the last will, signed when the device connected and sent by
  the broker whenever the connection drops, so it may be old: it is accepted when it
  belongs to the session of the last accepted status, or is later than it.

What was last accepted is kept in memory (bounded); after a restart the first document of
each device sets it, so the window for a replay is the age limit for heartbeats and one
restart for statuses. A refused document is dead-lettered with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aggregator.ingest.pipeline import Rejected
from aggregator.ingest.reasons import Reason
from fieldproof.protocol.payloads import HealthPayload, StatusPayload


@dataclass(frozen=True, slots=True)
class _LastStatus:
    at: float
    session: str


class DocumentFreshness:
    """The newest accepted status and heartbeat of each device, and the rules above."""

    def __init__(
        self, *, max_age_s: float, max_future_skew_s: float, max_devices: int = 100_000
    ) -> None:
        self.max_age_s = max_age_s
        self.max_future_skew_s = max_future_skew_s
        self.max_devices = max_devices
        self._status: dict[bytes, _LastStatus] = {}
        self._health: dict[bytes, float] = {}

    def _remember(self, table: dict[bytes, Any], device_id: bytes) -> None:
        if len(table) >= self.max_devices and device_id not in table:
            table.clear()  # forgetting costs only the ordering check until the next one

    def _future(self, device_id: bytes, at: float, received_at: float) -> Rejected | None:
        if at > received_at + self.max_future_skew_s:
            return Rejected(
                Reason.TIMESTAMP_FUTURE,
                f"signed at {at:.0f}, {at - received_at:.0f} s ahead of this clock",
                device_id,
            )
        return None

    def check_status(
        self, device_id: bytes, status: StatusPayload, received_at: float
    ) -> Rejected | None:
        """None when ``status`` may be applied (and it is remembered), else why not."""
        at, session = status.at, status.session
        last = self._status.get(device_id)
        online = status.state == "online"
        if online:
            ahead = self._future(device_id, at, received_at)
            if ahead is not None:
                return ahead
        # Within one session only the will may be older than what was accepted.
        if last is not None and at < last.at and (session != last.session or online):
            return Rejected(
                Reason.TIMESTAMP_TOO_OLD,
                f"{status.state} status signed at {at:.0f}, before the last accepted one "
                f"({last.at:.0f}): replayed or out of order",
                device_id,
            )
        self._remember(self._status, device_id)
        newest = at if last is None or session != last.session else max(at, last.at)
        self._status[device_id] = _LastStatus(newest, session)
        return None

    def check_health(
        self, device_id: bytes, health: HealthPayload, received_at: float
    ) -> Rejected | None:
        """None when the heartbeat may be stored (and it is remembered), else why not."""
        at = health.at
        ahead = self._future(device_id, at, received_at)
        if ahead is not None:
            return ahead
        if received_at - at > self.max_age_s:
            return Rejected(
                Reason.TIMESTAMP_TOO_OLD,
                f"heartbeat signed at {at:.0f}, {received_at - at:.0f} s ago "
                f"(limit {self.max_age_s:.0f} s)",
                device_id,
            )
        last = self._health.get(device_id)
        if last is not None and at <= last:
            return Rejected(
                Reason.TIMESTAMP_TOO_OLD,
                f"heartbeat signed at {at:.3f}, not after the last accepted one "
                f"({last:.3f}): replayed or out of order",
                device_id,
            )
        self._remember(self._health, device_id)
        self._health[device_id] = at
        return None
