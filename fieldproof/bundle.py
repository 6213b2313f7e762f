"""Epoch bundles: an epoch's reports, their Merkle tree and (when scored) its rewards.

The data tree is an OpenZeppelin StandardMerkleTree over
``(bytes32 device, uint64 seq, bytes32 keccak256(report bytes))``. The bundle's JSON is
canonical (sorted keys, no spaces), so its CIDv1 depends only on its content; it is
written as ``<cid>.json`` and the chain anchors ``ipfs://<cid>``.

Version 2 adds the devices' placements (cell, seniority, eligibility) the reward scoring
reads; version 1 bundles, which have none, still decode.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldproof.cid import CidError, cid_v1, matches
from fieldproof.errors import BundleError, MerkleError
from fieldproof.merkle import StandardMerkleTree
from fieldproof.rewards.placement import DevicePlacement, placements_from_json, placements_json
from fieldproof.verify import DATA_LEAF_TYPES, ReportProof, data_leaf

BUNDLE_FORMAT_V1 = "fieldproof-epoch-bundle-v1"
BUNDLE_FORMAT = "fieldproof-epoch-bundle-v2"


@dataclass(frozen=True, slots=True)
class BundleReport:
    """One report of an epoch: who sent it, its sequence number and its signed bytes."""

    device_id: bytes
    seq: int
    raw: bytes

    @property
    def leaf(self) -> tuple[bytes, int, bytes]:
        return data_leaf(self.device_id, self.seq, self.raw)


@dataclass(frozen=True, slots=True)
class EpochBundle:
    """The reports received in ``[start, end)`` (ledger receive time) and their tree.

    ``tree`` is ``None`` for an epoch without reports: there is nothing to anchor.
    ``placements`` is ``None`` in a version 1 bundle (written before devices had any).
    """

    epoch: int
    start: int
    end: int
    reports: tuple[BundleReport, ...]
    tree: StandardMerkleTree | None
    placements: Mapping[bytes, DevicePlacement] | None = None

    @property
    def count(self) -> int:
        return len(self.reports)

    @property
    def root(self) -> bytes | None:
        return None if self.tree is None else self.tree.root_bytes

    def index_of(self, device_id: bytes, seq: int) -> int:
        # Reports are sorted by (device, seq): a binary search finds one.
        key = (device_id, seq)
        index = bisect.bisect_left(self.reports, key, key=lambda r: (r.device_id, r.seq))
        if (
            index < len(self.reports)
            and (
                self.reports[index].device_id,
                self.reports[index].seq,
            )
            == key
        ):
            return index
        raise BundleError(f"epoch {self.epoch}: no report 0x{device_id.hex()} seq {seq}")

    def proof(self, device_id: bytes, seq: int, uri: str = "") -> ReportProof:
        """The proof of the report ``(device_id, seq)`` against this epoch's root."""
        index = self.index_of(device_id, seq)
        assert self.tree is not None  # an epoch with a report has a tree
        report = self.reports[index]
        return ReportProof(
            epoch=self.epoch,
            root=self.tree.root_bytes,
            device_id=report.device_id,
            seq=report.seq,
            report_hash=report.leaf[2],
            proof=tuple(bytes.fromhex(node[2:]) for node in self.tree.get_proof(index)),
            uri=uri,
        )


def build_bundle(
    epoch: int,
    start: int,
    end: int,
    reports: Iterable[BundleReport],
    placements: Mapping[bytes, DevicePlacement] | None = None,
) -> EpochBundle:
    """The bundle of ``reports``, ordered by (device, seq); exact duplicates collapse.

    ``placements`` keeps only the devices that have a report in the epoch."""
    by_key: dict[tuple[bytes, int], BundleReport] = {}
    for report in reports:
        key = (report.device_id, report.seq)
        existing = by_key.get(key)
        if existing is not None and existing.raw != report.raw:
            # Two different signed reports with one sequence number: the ledger must
            # have refused the second; anchoring either would hide the conflict.
            raise BundleError(
                f"epoch {epoch}: two different reports for 0x{report.device_id.hex()} "
                f"seq {report.seq}"
            )
        by_key[key] = report
    ordered = tuple(by_key[key] for key in sorted(by_key))
    tree = (
        StandardMerkleTree.of([report.leaf for report in ordered], DATA_LEAF_TYPES)
        if ordered
        else None
    )
    kept = None
    if placements is not None:
        present = {report.device_id for report in ordered}
        kept = {device: placements[device] for device in sorted(placements) if device in present}
    return EpochBundle(epoch, start, end, ordered, tree, kept)


def bundle_json(bundle: EpochBundle, rewards: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The bundle as a JSON-ready object; ``rewards`` is the reward epoch's own dump."""
    data: dict[str, Any] = {
        "format": BUNDLE_FORMAT_V1 if bundle.placements is None else BUNDLE_FORMAT,
        "epoch": bundle.epoch,
        "start": bundle.start,
        "end": bundle.end,
        "count": bundle.count,
        "root": None if bundle.root is None else "0x" + bundle.root.hex(),
        "tree": None if bundle.tree is None else bundle.tree.dump(),
        "reports": [
            {
                "device": "0x" + report.device_id.hex(),
                "seq": report.seq,
                "cose": base64.b64encode(report.raw).decode("ascii"),
            }
            for report in bundle.reports
        ],
    }
    if bundle.placements is not None:
        data["placements"] = placements_json(bundle.placements)
    if rewards is not None:
        data["rewards"] = dict(rewards)
    return data


def encode_bundle(bundle: EpochBundle, rewards: Mapping[str, Any] | None = None) -> bytes:
    """Canonical JSON bytes: the same bundle always gives the same bytes and CID."""
    return json.dumps(
        bundle_json(bundle, rewards), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode("ascii")


def decode_bundle(data: bytes) -> tuple[EpochBundle, dict[str, Any] | None]:
    """Parse bundle bytes; rebuilds the tree from the reports and checks it against the dump."""
    try:
        obj = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"bundle: not JSON ({exc})") from exc
    if not isinstance(obj, dict) or obj.get("format") not in (BUNDLE_FORMAT, BUNDLE_FORMAT_V1):
        raise BundleError(f"bundle: format must be {BUNDLE_FORMAT!r} or {BUNDLE_FORMAT_V1!r}")
    try:
        epoch, start, end = int(obj["epoch"]), int(obj["start"]), int(obj["end"])
        reports = [
            BundleReport(
                device_id=bytes.fromhex(str(item["device"]).removeprefix("0x")),
                seq=int(item["seq"]),
                raw=base64.b64decode(item["cose"], validate=True),
            )
            for item in obj["reports"]
        ]
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise BundleError(f"bundle: malformed ({exc!r})") from exc
    placements = None
    if obj["format"] == BUNDLE_FORMAT:
        placements = placements_from_json(obj.get("placements"))
    bundle = build_bundle(epoch, start, end, reports, placements)
    if placements is not None and len(placements) != len(bundle.placements or {}):
        raise BundleError("bundle: a placement names a device without a report")
    dumped = obj.get("tree")
    if (dumped is None) != (bundle.tree is None):
        raise BundleError("bundle: tree present without reports, or missing with reports")
    if dumped is not None and bundle.tree is not None:
        try:
            loaded = StandardMerkleTree.load(dumped)
        except MerkleError as exc:
            raise BundleError(f"bundle: tree: {exc}") from exc
        if loaded.root_bytes != bundle.tree.root_bytes:
            raise BundleError(
                f"bundle: tree root {loaded.root} is not the root of its reports {bundle.tree.root}"
            )
    rewards = obj.get("rewards")
    if rewards is not None and not isinstance(rewards, dict):
        raise BundleError("bundle: rewards must be an object")
    return bundle, rewards


def write_bundle(directory: Path, data: bytes) -> tuple[str, Path]:
    """Write ``data`` as ``<cid>.json`` in ``directory`` (atomically); returns (cid, path)."""
    cid = cid_v1(data)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{cid}.json"
    if path.exists() and path.read_bytes() == data:
        return cid, path
    tmp = directory / f".{cid}.{os.getpid()}.tmp"
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return cid, path


def read_bundle(path: Path) -> tuple[str, EpochBundle, dict[str, Any] | None]:
    """Read ``<cid>.json``, check its bytes against the CID in its name, and parse it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"bundle {path}: {exc.strerror}") from exc
    cid = path.name.removesuffix(".json")
    try:
        ok = matches(cid, data)
    except CidError:
        ok = True  # a copy under another name: nothing to check it against
        cid = cid_v1(data)
    if not ok:
        raise BundleError(f"bundle {path}: its bytes do not match the CID in its name")
    bundle, rewards = decode_bundle(data)
    return cid, bundle, rewards


def ipfs_uri(cid: str) -> str:
    return f"ipfs://{cid}"
