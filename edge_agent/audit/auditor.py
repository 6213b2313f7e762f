"""The audit: is every report an aggregator acknowledged in a root anchored on-chain?

Epochs cover the aggregator's receive time, and a report is acknowledged only after it
was received, so once the chain holds the root of an epoch that ends after a report's
acknowledgement (give or take ``skew_s`` between the two clocks), the report must be in
that epoch or an earlier one. For each such report the agent fetches its proof from
the API and checks it here against the chain: the leaf is this report (device, seq and
the hash of the bytes the device signed), the path leads to the proof's root, and that
root is the one DataAnchor holds for the epoch. The API is not trusted: a report without
a proof, or with one that does not check, is missing.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from edge_agent.audit.journal import AckedReport, AckJournal
from fieldproof.errors import FieldproofError
from fieldproof.merkle import process_proof
from fieldproof.verify import ReportProof, data_leaf_hash

log = logging.getLogger(__name__)

ANCHORED = ("anchored", "done", "empty")
HTTP_TIMEOUT_S = 30.0


class AuditUnavailableError(FieldproofError):
    """The API or the chain could not be read; nothing is concluded from this run."""


class ProofSource(Protocol):
    """The aggregator's API as the audit reads it."""

    def epochs(self) -> list[dict[str, Any]]: ...

    def proof(self, device: str, seq: int) -> dict[str, Any] | None: ...


class AnchorReader(Protocol):
    """DataAnchor's reads (``fieldproof.chain.bindings.DataAnchor``)."""

    def root_of(self, epoch: int) -> bytes | None: ...

    def latest_epoch(self) -> int | None: ...


class HttpProofSource:
    """:class:`ProofSource` over ``/v1/epochs`` and ``/v1/proofs/<device>/<seq>``."""

    def __init__(self, base: str, key_env: str, *, timeout: float = HTTP_TIMEOUT_S) -> None:
        self.base = base.rstrip("/")
        self.key_env = key_env
        self.timeout = timeout

    def _get(self, path: str) -> Any:
        headers = {"Accept": "application/json"}
        key = os.environ.get(self.key_env)
        if key:
            headers["X-API-Key"] = key
        request = urllib.request.Request(self.base + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise AuditUnavailableError(f"{self.base}{path}: HTTP {exc.code}") from exc
        except (OSError, ValueError) as exc:
            raise AuditUnavailableError(f"{self.base}{path}: {exc}") from exc

    def epochs(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            page = self._get(f"/v1/epochs?order=asc&offset={offset}")
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise AuditUnavailableError(f"{self.base}/v1/epochs: not a page of epochs")
            items.extend(page["items"])
            offset = page.get("next_offset")
        return items

    def proof(self, device: str, seq: int) -> dict[str, Any] | None:
        found = self._get(f"/v1/proofs/{device}/{seq}")
        return found if isinstance(found, dict) else None


@dataclass(frozen=True, slots=True)
class AuditResult:
    """One audit: how many reports were checked, found, and which are missing (why)."""

    checked: int
    found: int
    missing: dict[int, str]
    epoch: int | None

    @property
    def ok(self) -> bool:
        return not self.missing


@dataclass
class AuditStatus:
    """What the health snapshot shows of the audits."""

    runs: int = 0
    last_run: float | None = None
    last_error: str | None = None
    missing: tuple[int, ...] = ()
    pending: int = 0
    history: list[AuditResult] = field(default_factory=list)


class Auditor:
    """Checks the journal's due reports against the API's proofs and the chain's roots."""

    def __init__(
        self,
        device_id: bytes,
        journal: AckJournal,
        proofs: ProofSource,
        anchor: AnchorReader,
        *,
        skew_s: float = 60.0,
    ) -> None:
        self.device_id = device_id
        self.device = "0x" + device_id.hex()
        self.journal = journal
        self.proofs = proofs
        self.anchor = anchor
        self.skew_s = skew_s
        self.status = AuditStatus()
        self._lock = threading.Lock()

    def _horizon(self) -> tuple[int | None, float]:
        """The latest epoch anchored on-chain and the end of its window (from the API)."""
        try:
            latest = self.anchor.latest_epoch()
        except Exception as exc:
            raise AuditUnavailableError(f"chain: {exc}") from exc
        if latest is None:
            return None, float("-inf")
        ends = [
            float(e["end"])
            for e in self.proofs.epochs()
            if int(e["epoch"]) <= latest and e.get("status") in ANCHORED
        ]
        return latest, max(ends, default=float("-inf"))

    def _check(self, report: AckedReport) -> str | None:
        """None when the report is in an anchored root, else why not."""
        found = self.proofs.proof(self.device, report.seq)
        if found is None:
            return "the aggregator has no proof of it"
        try:
            proof = ReportProof.from_json(found)
        except FieldproofError as exc:
            return f"its proof is not valid ({exc})"
        if proof.leaf != (self.device_id, report.seq, report.digest):
            return f"its proof is for another leaf (epoch {proof.epoch})"
        leaf = data_leaf_hash(self.device_id, report.seq, report.digest)
        if process_proof(leaf, proof.proof) != proof.root:
            return f"its proof does not lead to the root it names (epoch {proof.epoch})"
        try:
            anchored = self.anchor.root_of(proof.epoch)
        except Exception as exc:
            raise AuditUnavailableError(f"chain: {exc}") from exc
        if anchored != proof.root:
            return f"epoch {proof.epoch}'s root on-chain is not its proof's root"
        return None

    def run(self) -> AuditResult:
        """One audit; raises :class:`AuditUnavailableError` when it cannot conclude."""
        with self._lock:
            try:
                result = self._run()
            except AuditUnavailableError as exc:
                self.status.last_error = str(exc)
                raise
            status = self.status
            status.runs += 1
            status.last_run = time.time()
            status.last_error = None
            status.missing = tuple(self.journal.missing())
            status.pending = self.journal.pending()
            status.history = [*status.history[-9:], result]
        if result.missing:
            log.error(
                "audit: %d acknowledged report(s) are not in an anchored epoch: seq %s",
                len(result.missing),
                ", ".join(str(seq) for seq in sorted(result.missing)),
            )
        return result

    def _run(self) -> AuditResult:
        epoch, end = self._horizon()
        due = self.journal.due(end - self.skew_s)
        found: list[int] = []
        missing: dict[int, str] = {}
        for report in due:
            problem = self._check(report)
            if problem is None:
                found.append(report.seq)
            else:
                missing[report.seq] = problem
        self.journal.settle(found, sorted(missing))
        return AuditResult(len(due), len(found), missing, epoch)


class AuditLoop:
    """Runs the auditor every ``interval_s`` in its own thread."""

    def __init__(self, auditor: Auditor, interval_s: float) -> None:
        self.auditor = auditor
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.on_result: Callable[[AuditResult], None] | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.auditor.run()
            except AuditUnavailableError as exc:
                log.info("audit postponed: %s", exc)
            except Exception:
                log.exception("audit failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
