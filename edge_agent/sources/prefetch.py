"""Read an iterator ahead in a thread, so decoding overlaps with inference."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable
from typing import TypeVar

T = TypeVar("T")

_END = object()


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(
    items: Iterable[T], depth: int = 2, name: str = "prefetch"
) -> Generator[T, None, None]:
    """Yield ``items`` in order while a thread produces up to ``depth`` ahead.

    A bounded queue keeps memory flat (frames are large); an exception in the
    producer is re-raised in the consumer. Closing the generator stops the thread.
    """
    buffer: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
    closing = threading.Event()

    def put(item: object) -> bool:
        while not closing.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed over to the consumer, re-raised there
            put(_Failure(exc))
            return
        put(_END)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        closing.set()
        thread.join(timeout=5.0)
