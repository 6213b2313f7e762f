"""Read-only views of closed epochs: which epoch holds a report, its proof, owners' rewards.

Reads the anchorer's state (roots, counts, CIDs, transactions, cumulative totals) and the
epoch bundles it wrote (``<cid>.json``, checked against their CID on read). Bundles are
cached by CID: their content cannot change under the same name.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aggregator.anchoring.errors import AnchoringError
from aggregator.anchoring.state import AnchorState, EpochRecord, EpochStatus
from aggregator.api.errors import NotFoundError, UnavailableError
from fieldproof.bundle import EpochBundle, ipfs_uri, read_bundle
from fieldproof.cid import CidError, matches
from fieldproof.errors import RewardValueError
from fieldproof.merkle import StandardMerkleTree
from fieldproof.rewards.tree import load_tree, owner_leaf
from fieldproof.verify import ReportProof


@dataclass(frozen=True, slots=True)
class RewardLine:
    epoch: int
    amount: int
    cumulative: int
    reward_tx: str | None


@dataclass(frozen=True, slots=True)
class Claim:
    """What ``claim(owner, cumulative, proof)`` needs, under the root of ``epoch``."""

    epoch: int
    root: bytes
    cumulative: int
    proof: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OwnerRewards:
    owner: str
    lines: tuple[RewardLine, ...]
    cumulative: int
    claim: Claim | None


def epoch_json(record: EpochRecord) -> dict[str, Any]:
    return {
        "epoch": record.epoch,
        "start": record.start,
        "end": record.end,
        "status": record.status.value,
        "count": record.count,
        "root": None if record.root is None else "0x" + record.root.hex(),
        "cid": record.cid,
        "uri": None if record.cid is None else ipfs_uri(record.cid),
        "anchor_tx": record.anchor_tx,
        "reward_root": None if record.reward_root is None else "0x" + record.reward_root.hex(),
        "reward_tx": record.reward_tx,
    }


class EpochIndex:
    """Epochs, report proofs and rewards from the anchor state and the bundle directory."""

    def __init__(self, state: AnchorState, bundle_dir: Path | None, *, cache: int = 8) -> None:
        self.state = state
        self.bundle_dir = bundle_dir
        self._cache: OrderedDict[str, tuple[EpochBundle, dict[str, Any] | None]] = OrderedDict()
        self._cache_size = cache
        # Loading a tree re-hashes every node: done once per CID (content-addressed).
        self._trees: OrderedDict[str, StandardMerkleTree | None] = OrderedDict()
        self._lock = threading.Lock()

    def epochs(self) -> list[EpochRecord]:
        return self.state.epochs()

    def epoch(self, epoch: int) -> EpochRecord:
        record = self.state.epoch(epoch)
        if record is None:
            raise NotFoundError(f"epoch {epoch} is not closed")
        return record

    def containing(
        self, received_at: float, records: list[EpochRecord] | None = None
    ) -> EpochRecord | None:
        """The closed epoch whose window holds ``received_at`` (epochs cover ledger
        receive time), ``None`` while that epoch is still open. Pass ``records`` (from
        :meth:`epochs`) to look up many reports with one read of the state."""
        if records is None:
            records = self.state.epochs()
        index = bisect.bisect_right(records, received_at, key=lambda r: r.start) - 1
        if index >= 0 and records[index].start <= received_at < records[index].end:
            return records[index]
        return None

    def bundle(self, record: EpochRecord) -> tuple[EpochBundle, dict[str, Any] | None]:
        if record.cid is None:
            raise NotFoundError(f"epoch {record.epoch} has no bundle (no reports)")
        if self.bundle_dir is None:
            raise UnavailableError("the API was started without the bundle directory")
        with self._lock:
            cached = self._cache.get(record.cid)
            if cached is not None:
                self._cache.move_to_end(record.cid)
                return cached
        try:
            _, bundle, rewards = read_bundle(self.bundle_dir / f"{record.cid}.json")
        except AnchoringError as exc:
            raise UnavailableError(f"epoch {record.epoch}: {exc}") from exc
        with self._lock:
            self._cache[record.cid] = (bundle, rewards)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return bundle, rewards

    def bundle_bytes(self, record: EpochRecord) -> tuple[str, bytes]:
        """The epoch's bundle file as stored, checked against its CID (not cached: a CAR
        is asked for rarely and carries the bytes themselves)."""
        if record.cid is None:
            raise NotFoundError(f"epoch {record.epoch} has no bundle (no reports)")
        if self.bundle_dir is None:
            raise UnavailableError("the API was started without the bundle directory")
        try:
            data = (self.bundle_dir / f"{record.cid}.json").read_bytes()
        except OSError as exc:
            raise UnavailableError(f"epoch {record.epoch}: bundle: {exc.strerror}") from exc
        try:
            ok = matches(record.cid, data)
        except CidError as exc:
            raise UnavailableError(f"epoch {record.epoch}: {exc}") from exc
        if not ok:
            raise UnavailableError(f"epoch {record.epoch}: the bundle does not match its CID")
        return record.cid, data

    def proof(
        self, device_id: bytes, seq: int, received_at: float
    ) -> tuple[EpochRecord, ReportProof]:
        record = self.containing(received_at)
        if record is None:
            raise NotFoundError(
                f"report 0x{device_id.hex()} seq {seq} is not in a closed epoch yet; "
                "its proof exists once its epoch closes"
            )
        bundle, _ = self.bundle(record)
        try:
            proof = bundle.proof(device_id, seq, ipfs_uri(record.cid or ""))
        except AnchoringError as exc:
            raise NotFoundError(str(exc)) from exc
        return record, proof

    def reward_tree(self, record: EpochRecord) -> StandardMerkleTree | None:
        """The epoch's reward tree, loaded (and checked) once per bundle."""
        cid = record.cid or ""
        with self._lock:
            if cid in self._trees:
                self._trees.move_to_end(cid)
                return self._trees[cid]
        _, dump = self.bundle(record)
        try:
            tree = None if dump is None else load_tree(dump)
        except RewardValueError as exc:
            raise UnavailableError(f"epoch {record.epoch}: {exc}") from exc
        with self._lock:
            self._trees[cid] = tree
            if len(self._trees) > self._cache_size:
                self._trees.popitem(last=False)
        return tree

    def rewards(self, owner: str) -> OwnerRewards:
        """``owner``'s amount per epoch, cumulative total and claim proof (latest root)."""
        lines: list[RewardLine] = []
        previous = 0
        latest: EpochRecord | None = None
        for record in self.state.epochs():
            if record.cumulative is None:
                continue
            cumulative = int(record.cumulative.get(owner, 0))
            if cumulative != previous:
                lines.append(
                    RewardLine(record.epoch, cumulative - previous, cumulative, record.reward_tx)
                )
            previous = cumulative
            if record.status is EpochStatus.DONE and record.reward_root is not None:
                latest = record
        claim = None
        if latest is not None and latest.cumulative and owner in latest.cumulative:
            tree = self.reward_tree(latest)
            leaf = None if tree is None else owner_leaf(tree, owner)
            if tree is not None and leaf is not None and latest.reward_root is not None:
                index, amount = leaf
                claim = Claim(
                    latest.epoch, latest.reward_root, amount, tuple(tree.get_proof(index))
                )
        return OwnerRewards(owner, tuple(lines), previous, claim)
