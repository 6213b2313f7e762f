"""Progress watches: is a role's loop still getting work done?

A thread that is alive can still be stuck: a commit that never returns, a projection
step blocked on a socket, an anchoring tick waiting on a hung RPC. Each loop says when it
last made progress (a commit, a pass that found nothing to do, a handled failure that it
will retry); :meth:`ProgressWatch.stalled` is true once that is older than the role's
limit. The service withholds systemd's watchdog ping while any role is stalled, so the
supervisor restarts a process that would otherwise sit silent with work waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class ProgressWatch:
    """When one loop last made progress, against its stall limit."""

    def __init__(
        self,
        name: str,
        stall_after_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.stall_after_s = stall_after_s
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()
        self._reported = False

    def progressed(self) -> None:
        """The loop finished a unit of work (or found none waiting)."""
        with self._lock:
            self._last = self._clock()
            if self._reported:
                log.warning("%s: making progress again", self.name)
                self._reported = False

    def silent_s(self) -> float:
        """Seconds since the last progress."""
        with self._lock:
            return self._clock() - self._last

    def stalled(self) -> bool:
        """True once no progress was made for longer than the limit (logged once)."""
        silent = self.silent_s()
        if silent <= self.stall_after_s:
            return False
        with self._lock:
            if not self._reported:
                log.error(
                    "%s: no progress for %.0f s (limit %.0f s); withholding the watchdog",
                    self.name,
                    silent,
                    self.stall_after_s,
                )
                self._reported = True
        return True
