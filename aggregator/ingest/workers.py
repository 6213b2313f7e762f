"""Verification in worker processes (``ingest.verify_workers``).

The strict decode and the ES256 verify hold the interpreter lock, so one process
verifies on one core. With workers, the receiving process only receives, keeps the
sequence state and commits; each batch's reports are decoded and verified in
``verify_workers`` processes (started with ``spawn``: the parent runs threads, which a
fork would copy mid-flight). Workers build their own key source from the registry
config, so this needs a config-defined key source (allowlist file or chain).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from aggregator.config import RegistryConfig
from aggregator.ingest.pipeline import Accepted, Limits, Rejected, Verifier
from aggregator.ingest.reasons import Reason
from aggregator.registry.factory import key_source_from_registry

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
            out.append(("A", verdict.device_id, verdict.seq, verdict.start, verdict.end,
                        verdict.digest))  # fmt: skip
        elif isinstance(verdict, Rejected):
            out.append(("R", verdict.reason.value, verdict.detail, verdict.device_id, verdict.seq))
        else:  # pragma: no cover - sequence=False yields no duplicates
            raise AssertionError(verdict)
    return out


def _expand(item: Compact) -> Accepted | Rejected:
    if item[0] == "A":
        return Accepted(item[1], item[2], item[3], item[4], item[5])
    return Rejected(Reason(item[1]), item[2], item[3], item[4])


class VerifierPool:
    """``workers`` verifying processes; :meth:`check` verifies one batch across them."""

    def __init__(self, registry: RegistryConfig, limits: Limits, workers: int) -> None:
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(registry.model_dump_json(), limits),
        )
        # Start the workers now rather than on the first batch.
        list(self._pool.map(_check, [[] for _ in range(workers)]))

    def submit(self, items: list[Item]) -> Callable[[], list[Accepted | Rejected]]:
        """Start verifying ``items``; the returned function waits for the verdicts."""
        if not items:
            return list
        parts = max(1, min(len(items), self.workers * 2))
        size = -(-len(items) // parts)
        futures = [
            self._pool.submit(_check, items[i : i + size]) for i in range(0, len(items), size)
        ]
        return lambda: [_expand(item) for future in futures for item in future.result()]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
