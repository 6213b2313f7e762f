"""Several cameras on one accelerator: their inputs batched into one inference call.

Each camera thread prepares its own frame, hands the tensor to a shared
:class:`CameraBatcher` and blocks until its rows come back; decoding, tracking
and counting stay per camera. A collector thread takes the first waiting input,
gathers the other members' inputs until every member has one waiting or
``max_wait_s`` has passed since the first, and runs them stacked along the batch
axis. A model with a free batch dimension takes any stack; one pinned to a batch
of B > 1 gets stacks of B, padded with zeros; one pinned to 1 runs the inputs one
after another (no gain, but the same results).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from edge_agent.detectors.base import OnnxDetector
from edge_agent.detectors.batching import batched_runner
from edge_agent.detectors.preprocess import Prepared
from edge_agent.detectors.types import Detections
from edge_agent.inference.errors import InferenceError

Outputs = list[npt.NDArray[np.float32]]


class BatchRunner(Protocol):
    """What the batcher runs: an ONNX runner, or anything shaped like one."""

    @property
    def input_shapes(self) -> tuple[tuple[int | str, ...], ...]: ...

    def run(self, feeds: npt.NDArray[np.float32]) -> Outputs: ...


@dataclass(slots=True)
class _Request:
    member: int
    tensor: npt.NDArray[np.float32]
    done: threading.Event = field(default_factory=threading.Event)
    outputs: Outputs | None = None
    error: BaseException | None = None


def fixed_batch(runner: BatchRunner) -> int | None:
    """The batch size the model's first input is pinned to; None when it is free."""
    first = runner.input_shapes[0][0] if runner.input_shapes and runner.input_shapes[0] else None
    return first if isinstance(first, int) and first > 0 else None


class CameraBatcher:
    """Runs the inputs of its member cameras in shared inference calls."""

    def __init__(self, runner: BatchRunner, *, max_wait_s: float = 0.02) -> None:
        self.runner = runner
        self.max_wait_s = max_wait_s
        self.batch = fixed_batch(runner)
        self._cond = threading.Condition()
        self._pending: list[_Request] = []
        self._members: set[int] = set()
        self._next_member = 0
        self._thread: threading.Thread | None = None
        self.calls = 0  # inference calls made, for tests and benchmarks
        self.inputs = 0  # member inputs served

    @property
    def members(self) -> int:
        with self._cond:
            return len(self._members)

    def join(self) -> BatchMember:
        """Enrol one camera; its inputs now wait for the other members' inputs."""
        with self._cond:
            member = self._next_member
            self._next_member += 1
            self._members.add(member)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._collect, name="camera-batcher", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()
        return BatchMember(self, member)

    def leave(self, member: int) -> None:
        """A camera stopped: the others no longer wait for it (the thread ends with the last)."""
        with self._cond:
            self._members.discard(member)
            self._cond.notify_all()

    def submit(self, member: int, tensor: npt.NDArray[np.float32]) -> Outputs:
        """Run ``tensor`` (batch first) with the other members' inputs; its rows of the outputs."""
        request = _Request(member, np.ascontiguousarray(tensor, dtype=np.float32))
        with self._cond:
            if member not in self._members:
                raise InferenceError("camera is no longer a member of this batch")
            self._pending.append(request)
            self._cond.notify_all()
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.outputs is not None
        return request.outputs

    def _ready(self) -> bool:
        waiting = {r.member for r in self._pending}
        return waiting >= self._members

    def _take(self) -> list[_Request] | None:
        """Block until a batch is due; None once no member is left."""
        with self._cond:
            while not self._pending:
                if not self._members:
                    self._thread = None
                    return None
                self._cond.wait()
            # Wait for the rest of the members, but never longer than max_wait_s,
            # so a camera that stalls delays the others by a bounded time.
            self._cond.wait_for(self._ready, timeout=self.max_wait_s)
            taken, self._pending = self._pending, []
            return taken

    def _collect(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            try:
                results = self.run_stacked([r.tensor for r in taken])
            except BaseException as exc:  # handed to every waiting camera
                for request in taken:
                    request.error = exc
                    request.done.set()
                continue
            for request, outputs in zip(taken, results, strict=True):
                request.outputs = outputs
                request.done.set()

    def run_stacked(self, tensors: Sequence[npt.NDArray[np.float32]]) -> list[Outputs]:
        """Each tensor's outputs, from as few inference calls as the model allows."""
        sizes = [t.shape[0] for t in tensors]
        stacked = np.concatenate(list(tensors), axis=0)
        total = stacked.shape[0]
        if self.batch is None:
            chunks = [stacked]
        else:
            chunks = [stacked[i : i + self.batch] for i in range(0, total, self.batch)]
        outputs: list[Outputs] = []
        for chunk in chunks:
            rows = chunk.shape[0]
            feed = chunk
            if self.batch is not None and rows < self.batch:
                pad = np.zeros((self.batch - rows, *chunk.shape[1:]), dtype=chunk.dtype)
                feed = np.concatenate([chunk, pad], axis=0)
            result = self.runner.run(feed)
            self.calls += 1
            outputs.append([o[:rows] for o in result])
        joined = [np.concatenate(parts, axis=0) for parts in zip(*outputs, strict=True)]
        self.inputs += len(tensors)
        split: list[Outputs] = []
        start = 0
        for size in sizes:
            split.append([o[start : start + size] for o in joined])
            start += size
        return split


class BatchMember:
    """One camera's handle on a :class:`CameraBatcher`; runs like a runner."""

    def __init__(self, batcher: CameraBatcher, member: int) -> None:
        self.batcher = batcher
        self.member = member
        self.input_shapes = batcher.runner.input_shapes

    def run(self, feeds: npt.NDArray[np.float32]) -> Outputs:
        return self.batcher.submit(self.member, feeds)

    def leave(self) -> None:
        self.batcher.leave(self.member)


class BatchedCameraDetector:
    """A camera's view of a shared detector whose inference call is batched."""

    def __init__(self, detector: OnnxDetector, member: BatchMember) -> None:
        self.detector = detector
        self.member = member
        self.model_id = detector.model_id
        self.sha256 = detector.sha256
        self.iou_threshold = detector.iou_threshold

    def prepare(self, frame_bgr: npt.NDArray[np.uint8]) -> Prepared:
        return self.detector.prepare(frame_bgr)

    def infer(self, prepared: Prepared) -> Outputs:
        return self.member.run(prepared.tensor)

    def finish(self, outputs: Outputs, prepared: Prepared) -> Detections:
        return self.detector.finish(outputs, prepared)

    def detect(self, frame_bgr: npt.NDArray[np.uint8]) -> Detections:
        prepared = self.prepare(frame_bgr)
        return self.finish(self.infer(prepared), prepared)

    def close(self) -> None:
        self.member.leave()


_lock = threading.Lock()
_batchers: dict[tuple[str, str, tuple[str, ...], bool, float], CameraBatcher] = {}


def shared_batcher(
    detector: OnnxDetector, *, max_wait_s: float = 0.02, cache_dir: Path | None = None
) -> CameraBatcher:
    """The batcher every camera running ``detector``'s model with ``max_wait_s`` shares.

    It runs a batch-free copy of the model (:func:`batched_runner`); a model that
    cannot be rewritten runs as exported, padded to its fixed batch.
    """
    runner = detector.runner
    key = (str(runner.path), runner.sha256, tuple(runner.providers), runner.fp16, max_wait_s)
    with _lock:
        batcher = _batchers.get(key)
        if batcher is None:
            shared: BatchRunner
            try:
                shared = batched_runner(
                    runner.path,
                    runner.sha256,
                    providers=runner.providers,
                    cache_dir=cache_dir,
                    fp16=runner.fp16,
                )
            except InferenceError:
                shared = runner
            batcher = CameraBatcher(shared, max_wait_s=max_wait_s)
            _batchers[key] = batcher
        return batcher
