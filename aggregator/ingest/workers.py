"""Verification in worker processes (``ingest.verify_workers``).

The strict decode and the ES256 verify hold the interpreter lock, so one process
verifies on one core. With workers, the receiving process only receives, keeps the
sequence state and commits; each batch's reports are decoded and verified in
``verify_workers`` processes (started with ``spawn``: the parent runs threads, which a
fork would copy mid-flight). Workers build their own key source from the registry
config, so this needs a config-defined key source (allowlist file or chain).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from aggregator.config import RegistryConfig
from aggregator.ingest.pipeline import Accepted, Limits, Rejected, Verifier
from aggregator.ingest.reasons import Reason
from aggregator.registry.factory import key_source_from_registry
from fieldproof.wire import Beacon

log = logging.getLogger(__name__)

Item = tuple[str, bytes, float]
Compact = tuple[Any, ...]

# The worker process's verifier, set once by the pool's initializer.
_worker: dict[str, Verifier] = {}


def _exit_with_parent(parent: int) -> None:
    # A SIGKILLed aggregator cannot shut its pool down; without this its workers would
    # live on, idle, adopted by init.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _start_worker(registry_json: str, limits: Limits) -> None:
    threading.Thread(
        target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True
    ).start()
    registry = RegistryConfig.model_validate_json(registry_json)
    _worker["verifier"] = Verifier(key_source_from_registry(registry), limits=limits)


def _check(items: list[Item]) -> list[Compact]:
    """Verify ``items`` (without the sequence step); compact results travel back cheaply."""
    verifier = _worker["verifier"]
    out: list[Compact] = []
    for topic, payload, received_at in items:
        try:
            verdict = verifier.verify(topic, payload, received_at, sequence=False)
        except Exception as exc:  # one bad message must never stop the stream
            verdict = Rejected(Reason.MALFORMED, f"internal error: {type(exc).__name__}: {exc}")
        if isinstance(verdict, Accepted):
            b = verdict.beacon
            beacon = None if b is None else (b.number, b.block_hash)
            out.append(("A", verdict.device_id, verdict.seq, verdict.start, verdict.end,
                        verdict.digest, beacon))  # fmt: skip
        elif isinstance(verdict, Rejected):
            out.append(("R", verdict.reason.value, verdict.detail, verdict.device_id, verdict.seq))
        else:  # pragma: no cover - sequence=False yields no duplicates
            raise AssertionError(verdict)
    return out


def _expand(item: Compact) -> Accepted | Rejected:
    if item[0] == "A":
        beacon = None if item[6] is None else Beacon(*item[6])
        return Accepted(item[1], item[2], item[3], item[4], item[5], beacon=beacon)
    return Rejected(Reason(item[1]), item[2], item[3], item[4])


class VerifierPool:
    """``workers`` verifying processes; :meth:`check` verifies one batch across them."""

    def __init__(self, registry: RegistryConfig, limits: Limits, workers: int) -> None:
        self.workers = workers
        self._initargs = (registry.model_dump_json(), limits)
        self.restarts = 0
        self._lock = threading.Lock()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=self._initargs,
        )
        # Start the workers now rather than on the first batch.
        list(pool.map(_check, [[] for _ in range(self.workers)]))
        return pool

    def _replace(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        """A new pool in place of ``broken`` (once, however many callers saw it break)."""
        with self._lock:
            if self._pool is broken:
                # A worker died (killed, out of memory): the executor refuses all work from
                # then on, so without a new one ingest would stall for good.
                log.error("a verify worker died; starting a new pool of %d", self.workers)
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
                self.restarts += 1
            return self._pool

    def _start(self, chunks: list[list[Item]]) -> tuple[ProcessPoolExecutor, list[Future[Any]]]:
        pool = self._pool
        try:
            return pool, [pool.submit(_check, chunk) for chunk in chunks]
        except BrokenProcessPool:
            pool = self._replace(pool)
            return pool, [pool.submit(_check, chunk) for chunk in chunks]

    def submit(self, items: list[Item]) -> Callable[[], list[Accepted | Rejected]]:
        """Start verifying ``items``; the returned function waits for the verdicts.

        A batch caught by a dying worker is verified again on a new pool."""
        if not items:
            return list
        parts = max(1, min(len(items), self.workers * 2))
        size = -(-len(items) // parts)
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        pool, futures = self._start(chunks)

        def wait() -> list[Accepted | Rejected]:
            try:
                results = [future.result() for future in futures]
            except BrokenProcessPool:
                self._replace(pool)
                _, again = self._start(chunks)
                results = [future.result() for future in again]
            return [_expand(item) for result in results for item in result]

        return wait

    def pids(self) -> list[int]:
        """Process ids of the current workers (for operators' tools and fault tests)."""
        processes = getattr(self._pool, "_processes", None) or {}
        return sorted(int(pid) for pid in processes)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
