"""The epoch anchoring service: close epochs, write bundles, anchor roots, publish rewards.

Epochs are fixed windows of ledger receive time, ``[genesis + e·L, genesis + (e+1)·L)``.
An epoch closes ``grace`` seconds after its window ends. Closing builds the bundle,
scores rewards, writes ``<cid>.json`` and persists "epoch e closed with root R" in the
anchor state; only then is anything sent. Finishing an epoch reads the chain first:
a root already there and equal to R is taken as done, so a crash between send and
receipt, or an RPC outage, never anchors an epoch twice nor skips one. Epochs are
finished strictly in order; a failure stops the tick and the next tick resumes.

With a placement source the bundle records each device's placement (cell, seniority,
eligibility) as it stood at the epoch's end, and rewards follow the version 2 rules;
without one, bundles and rewards keep version 1.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aggregator.anchoring.chain import AnchorChain
from aggregator.anchoring.errors import AnchoringError, AnchoringValueError
from aggregator.anchoring.state import AnchorState, EpochRecord, EpochStatus
from aggregator.progress import ProgressWatch
from fieldproof.bundle import (
    BundleReport,
    EpochBundle,
    build_bundle,
    encode_bundle,
    ipfs_uri,
    write_bundle,
)
from fieldproof.rewards.placement import PlacementProvider
from fieldproof.rewards.rules import DEFAULT_RULES, RuleParams
from fieldproof.rewards.scoring import DEFAULT_PARAMS, ScoringParams
from fieldproof.rewards.tree import score_epoch

log = logging.getLogger(__name__)

LEASE_NAME = "epoch-anchorer"
PAGE = 10_000


class LedgerReport(Protocol):
    """A stored report as the ledger returns it."""

    @property
    def row_id(self) -> int: ...
    @property
    def device_id(self) -> bytes: ...
    @property
    def seq(self) -> int: ...
    @property
    def raw(self) -> bytes: ...


class ReportSource(Protocol):
    """The ledger's read side the anchorer uses."""

    def reports_received_between(
        self, start: float, end: float, *, after_id: int = 0, limit: int = 10_000
    ) -> Sequence[LedgerReport]: ...


@dataclass(frozen=True, slots=True)
class AnchorSettings:
    """Epoch length, emission and where bundles go."""

    bundle_dir: Path
    epoch_seconds: int = 3600
    genesis: int = 0
    grace_seconds: float = 5.0
    emission: int = 1000 * 10**18
    lease_seconds: float = 30.0
    holder: str = "anchorer"
    first_epoch: int | None = None  # default: the epoch in progress at the first start
    params: ScoringParams = field(default=DEFAULT_PARAMS)
    rules: RuleParams = field(default=DEFAULT_RULES)

    def __post_init__(self) -> None:
        if self.epoch_seconds <= 0:
            raise AnchoringValueError("anchoring: epoch_seconds must be positive")
        if self.emission < 0:
            raise AnchoringValueError("anchoring: emission must not be negative")


@dataclass(frozen=True, slots=True)
class EpochOutcome:
    """What a tick did for one epoch."""

    epoch: int
    status: EpochStatus
    count: int
    root: bytes | None
    cid: str | None
    anchor_tx: str | None
    reward_tx: str | None


class EpochAnchorer:
    """Closes and anchors epochs in order; safe to stop and restart at any point."""

    def __init__(
        self,
        settings: AnchorSettings,
        reports: ReportSource,
        chain: AnchorChain,
        state: AnchorState,
        clock: Callable[[], float] = time.time,
        *,
        placements: PlacementProvider | None = None,
    ) -> None:
        self.settings = settings
        self.reports = reports
        self.chain = chain
        self.state = state
        self.placements = placements
        self.clock = clock
        self._now: Callable[[], float] = clock

    def epoch_of(self, t: float) -> int:
        return int((t - self.settings.genesis) // self.settings.epoch_seconds)

    def window(self, epoch: int) -> tuple[int, int]:
        start = self.settings.genesis + epoch * self.settings.epoch_seconds
        return start, start + self.settings.epoch_seconds

    def is_leader(self, now: float) -> bool:
        s = self.settings
        return self.state.acquire_lease(LEASE_NAME, s.holder, s.lease_seconds, now)

    def tick(self, now: float | None = None) -> list[EpochOutcome]:
        """Finish what a previous run left open, then close every epoch that has ended.

        Does nothing unless this process holds (or takes) the anchoring lease.
        """
        fixed = now
        self._now = self.clock if fixed is None else (lambda: fixed)
        now = self._now()
        if not self.is_leader(now):
            return []
        outcomes: list[EpochOutcome] = []
        last = self.state.last_epoch()
        if last is not None and not last.status.finished:
            outcomes.append(self._finish(last))
        if last is None:
            first = self.settings.first_epoch
            next_epoch = self.state.first_epoch(self.epoch_of(now) if first is None else first)
        else:
            next_epoch = last.epoch + 1
        while self.window(next_epoch)[1] + self.settings.grace_seconds <= now:
            # A long pause may let the lease lapse: renew it before every epoch so that a
            # second process that took over is noticed before we send anything.
            if not self.is_leader(self._now()):
                break
            outcomes.append(self._finish(self.close(next_epoch)))
            next_epoch += 1
        return outcomes

    def bundle(self, epoch: int) -> EpochBundle:
        """The bundle of ``epoch`` from the ledger (reports received in its window)."""
        start, end = self.window(epoch)
        collected: list[BundleReport] = []
        after = 0
        while True:
            page = self.reports.reports_received_between(start, end, after_id=after, limit=PAGE)
            collected.extend(BundleReport(r.device_id, r.seq, r.raw) for r in page)
            if len(page) < PAGE:
                break
            after = page[-1].row_id
        placements = None
        if self.placements is not None:
            devices = sorted({report.device_id for report in collected})
            placements = self.placements.placements(devices, end)
        return build_bundle(epoch, start, end, collected, placements)

    def close(self, epoch: int) -> EpochRecord:
        """Build, score and write ``epoch``'s bundle and persist its roots (nothing sent)."""
        existing = self.state.epoch(epoch)
        if existing is not None:
            return existing
        bundle = self.bundle(epoch)
        start, end = bundle.start, bundle.end
        if bundle.root is None:
            record = EpochRecord(
                epoch, start, end, EpochStatus.EMPTY, 0, None, None, None, None, None
            )
            return self.state.record_closed(record)
        owners: dict[bytes, str] = {}
        for device_id in sorted({r.device_id for r in bundle.reports}):
            owner = self.chain.owner_of(device_id)
            if owner is not None:
                owners[device_id] = owner
        previous = self.state.previous_cumulative(epoch)
        rewards = score_epoch(
            bundle,
            owners,
            self.settings.emission,
            previous,
            self.settings.params,
            rules=self.settings.rules,
        )
        cid, path = write_bundle(self.settings.bundle_dir, encode_bundle(bundle, rewards.to_json()))
        log.info(
            "epoch %d: %d reports, root 0x%s, bundle %s",
            epoch,
            bundle.count,
            bundle.root.hex(),
            path,
        )
        record = EpochRecord(
            epoch=epoch,
            start=start,
            end=end,
            status=EpochStatus.CLOSED,
            count=bundle.count,
            root=bundle.root,
            cid=cid,
            reward_root=rewards.root,
            total_cumulative=rewards.total_cumulative if rewards.root is not None else None,
            cumulative=dict(rewards.cumulative),
        )
        return self.state.record_closed(record)

    def _finish(self, record: EpochRecord) -> EpochOutcome:
        if record.status is EpochStatus.CLOSED:
            record = self._anchor(record)
        if record.status is EpochStatus.ANCHORED:
            record = self._reward(record)
        return EpochOutcome(
            epoch=record.epoch,
            status=record.status,
            count=record.count,
            root=record.root,
            cid=record.cid,
            anchor_tx=record.anchor_tx,
            reward_tx=record.reward_tx,
        )

    def _ensure_leader(self, epoch: int) -> None:
        # Closing a large epoch takes a while: make sure nobody took over meanwhile.
        if not self.is_leader(self._now()):
            raise AnchoringError(f"epoch {epoch}: lost the anchoring lease; not sending")

    def _anchor(self, record: EpochRecord) -> EpochRecord:
        assert record.root is not None
        assert record.cid is not None
        on_chain = self.chain.anchored_root(record.epoch)
        tx = None
        if on_chain is None:
            self._ensure_leader(record.epoch)
            tx = self.chain.anchor(record.epoch, record.root, record.count, ipfs_uri(record.cid))
        elif on_chain != record.root:
            raise AnchoringError(
                f"epoch {record.epoch}: the chain holds root 0x{on_chain.hex()}, but this "
                f"anchorer closed it with 0x{record.root.hex()}; refusing to continue"
            )
        self.state.mark(record.epoch, EpochStatus.ANCHORED, tx=tx)
        return self._reload(record.epoch)

    def _reward(self, record: EpochRecord) -> EpochRecord:
        tx = None
        if record.reward_root is not None:
            on_chain = self.chain.reward_root(record.epoch)
            if on_chain is None:
                assert record.total_cumulative is not None
                self._ensure_leader(record.epoch)
                tx = self.chain.set_reward_root(
                    record.epoch, record.reward_root, record.total_cumulative
                )
            elif on_chain != record.reward_root:
                raise AnchoringError(
                    f"epoch {record.epoch}: the chain holds reward root 0x{on_chain.hex()}, "
                    f"not 0x{record.reward_root.hex()}; refusing to continue"
                )
        self.state.mark(record.epoch, EpochStatus.DONE, tx=tx)
        return self._reload(record.epoch)

    def _reload(self, epoch: int) -> EpochRecord:
        record = self.state.epoch(epoch)
        assert record is not None
        return record

    def run(
        self,
        stop: threading.Event,
        interval: float = 1.0,
        progress: ProgressWatch | None = None,
    ) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set; errors are logged, retried.

        ``progress`` hears of every finished tick, failed ones included: a chain outage is
        retried here and shows in the logs, while a tick that never returns is a stall."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # an RPC outage or a crash of one epoch must not end the loop
                log.exception("anchoring tick failed; retrying in %.1f s", interval)
            if progress is not None:
                progress.progressed()
            stop.wait(interval)
        self.state.release_lease(LEASE_NAME, self.settings.holder)
