"""What producers hand their interval records to (``Agent.submit``), and the freshness
beacon the agent signs into each report."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pydantic import Field, field_validator

from fieldproof.config import ConfigModel
from fieldproof.protocol.beacon import BlockBeacon, parse_beacon
from fieldproof.protocol.payloads import PayloadError
from fieldproof.wire import Beacon, ModelRef, Record

log = logging.getLogger(__name__)


class Submit(Protocol):
    """Sign and store one interval report; returns its sequence number."""

    def __call__(
        self, start: int, end: int, records: Sequence[Record], model: ModelRef | None = None
    ) -> int: ...


class BeaconConfig(ConfigModel):
    """Where the agent learns a recent block of the chain to sign into its reports."""

    rpc: str | None = Field(
        None,
        description="Chain URL (http(s)://) read for the latest block; none: the retained "
        "fp/v1/beacon topic the aggregators publish.",
    )
    max_age_s: float = Field(
        1800.0,
        gt=0,
        description="Sign without a beacon (wire version 1) when the latest known block is "
        "older than this, rather than with one the aggregator would call stale; keep it "
        "below the aggregators' ingest.beacon.max_age_s.",
    )
    poll_s: float = Field(15.0, gt=0, description="How often rpc is read.")

    @field_validator("rpc")
    @classmethod
    def _rpc(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http(s):// URL")
        return value


class BeaconHolder:
    """The latest block heard of, from the beacon topic or an RPC poller."""

    def __init__(self, max_age_s: float, *, clock: Callable[[], float] = time.time) -> None:
        self.max_age_s = max_age_s
        self.clock = clock
        self._latest: BlockBeacon | None = None
        self._lock = threading.Lock()

    def offer(self, block: BlockBeacon) -> None:
        """Keep ``block`` if it is newer than the one held (a retained message may be old)."""
        with self._lock:
            if self._latest is None or block.beacon.number >= self._latest.beacon.number:
                self._latest = block

    def offer_payload(self, payload: bytes) -> None:
        try:
            self.offer(parse_beacon(payload))
        except PayloadError as exc:
            log.warning("ignored a beacon: %s", exc)

    @property
    def latest(self) -> BlockBeacon | None:
        return self._latest

    def current(self) -> Beacon | None:
        """The beacon to sign into a report now, None when none is recent enough."""
        latest = self._latest
        if latest is None or self.clock() - latest.timestamp > self.max_age_s:
            return None
        return latest.beacon


class RpcBeaconPoller:
    """Reads the chain's latest block every ``poll_s`` into a :class:`BeaconHolder`."""

    def __init__(self, w3: Any, holder: BeaconHolder, poll_s: float) -> None:
        self.w3 = w3
        self.holder = holder
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> None:
        try:
            block = self.w3.eth.get_block("latest")
        except Exception as exc:  # a node away is retried; the last beacon ages meanwhile
            log.info("beacon: chain not read (%s)", exc)
            return
        beacon = Beacon(int(block["number"]), bytes(block["hash"]))
        self.holder.offer(BlockBeacon(beacon, int(block["timestamp"])))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="beacon-poller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self.step()
            if self._stop.wait(self.poll_s):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
