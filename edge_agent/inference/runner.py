"""ONNX Runtime session with integrity check, provider choice, warm-up and timing."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge_agent.inference.errors import InferenceError
from edge_agent.inference.manifest import find_entry, sha256_file, verify_model_file
from edge_agent.inference.providers import (
    CUDA,
    TENSORRT,
    ProviderSpec,
    available_providers,
    choose_providers,
)
from edge_agent.inference.timing import LatencyStats, LatencyTracker

CACHE_DIR_ENV = "FIELDPROOF_TRT_CACHE"

_NUMPY_TYPES: dict[str, type[np.generic]] = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(uint8)": np.uint8,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
}


def _tensorrt_version() -> str:
    try:
        import tensorrt  # type: ignore[import-not-found]
    except ImportError:
        return "none"
    return str(tensorrt.__version__)


def _gpu_name() -> str:
    """GPU model from the NVIDIA driver, or the Jetson board name; "none" without one."""
    for info in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
        for line in info.read_text(errors="replace").splitlines():
            if line.startswith("Model:"):
                return line.split(":", 1)[1].strip()
    board = Path("/proc/device-tree/model")
    if board.exists():
        return board.read_text(errors="replace").strip("\x00 \n")
    return "none"


def default_cache_root() -> Path:
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "fieldproof" / "tensorrt"


class OnnxRunner:
    """Loads one ONNX model after checking its sha256 and runs it.

    ``expected_sha256`` pins the file; without it the manifest beside the file is
    consulted, and a file no manifest lists loads with its hash recorded (operator
    models). ``providers`` names providers to use (``cpu``, ``cuda``, ``tensorrt``);
    by default the best the installed onnxruntime offers is chosen. Idle intra-op
    threads sleep rather than spin unless ``allow_spinning``: on a small device the
    agent's other threads (decode, tracking, the link) need the cores between runs.

    On CUDA and TensorRT the session runs through IO binding (``io_binding``, on by
    default there): the input lives in a device buffer allocated once per shape and
    refreshed in place from the prepared frame, and the outputs stay on the device
    until one copy back, so no per-run staging buffers are made.
    """

    def __init__(
        self,
        path: Path,
        *,
        providers: Sequence[str] | None = None,
        expected_sha256: str | None = None,
        fp16: bool = False,
        cache_root: Path | None = None,
        warmup_runs: int = 2,
        intra_op_threads: int | None = None,
        allow_spinning: bool = False,
        io_binding: bool | None = None,
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        self.fp16 = fp16
        entry = find_entry(self.path)
        pinned = expected_sha256 or (entry.sha256 if entry is not None else None)
        if pinned is not None:
            self.sha256 = verify_model_file(self.path, pinned)
        else:
            self.sha256 = sha256_file(self.path)
        self.model_id = (entry.model_id if entry and entry.model_id else None) or self.path.stem
        self.specs: list[ProviderSpec] = choose_providers(
            available_providers(),
            providers,
            model_sha256=self.sha256,
            cache_root=cache_root or default_cache_root(),
            fp16=fp16,
            ort_version=ort.__version__,
            trt_version=_tensorrt_version(),
            gpu_name=_gpu_name(),
        )
        for spec in self.specs:
            cache_dir = dict(spec.options).get("trt_engine_cache_path")
            if cache_dir:
                Path(cache_dir).mkdir(parents=True, exist_ok=True)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if intra_op_threads is not None:
            options.intra_op_num_threads = intra_op_threads
        if not allow_spinning:
            # Idle pool threads sleep instead of spinning, leaving the cores to the
            # threads that decode and prepare the next frame.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(
                str(self.path),
                sess_options=options,
                providers=[s.as_session_arg() for s in self.specs],
            )
        except Exception as exc:  # onnxruntime raises its own untyped exceptions
            raise InferenceError(f"cannot load model {self.path}: {exc}") from exc
        self.providers: tuple[str, ...] = tuple(self._session.get_providers())
        inputs = self._session.get_inputs()
        self.input_names: tuple[str, ...] = tuple(i.name for i in inputs)
        self.input_shapes: tuple[tuple[int | str, ...], ...] = tuple(tuple(i.shape) for i in inputs)
        self.input_types = tuple(_NUMPY_TYPES.get(i.type, np.float32) for i in inputs)
        self.output_names: tuple[str, ...] = tuple(o.name for o in self._session.get_outputs())
        on_gpu = self.providers[0] in (CUDA, TENSORRT)
        self._use_binding = on_gpu if io_binding is None else io_binding
        self._device = "cuda" if on_gpu else "cpu"
        self._device_id = int(dict(self.specs[0].options).get("device_id", "0")) if on_gpu else 0
        self._inputs_on_device: dict[tuple[str, tuple[int, ...], str], object] = {}
        # Cameras share a runner; the device input buffers are refreshed in place, so
        # bound runs take turns (the device runs one stream at a time anyway).
        self._bound_lock = threading.Lock()
        self._timings = LatencyTracker()
        self._warm_up(warmup_runs)

    @property
    def provider(self) -> str:
        """The provider that runs most of the graph (the first one the session kept)."""
        return self.providers[0]

    def _warm_up(self, runs: int) -> None:
        if runs <= 0:
            return
        feeds = {}
        for name, shape, dtype in zip(
            self.input_names, self.input_shapes, self.input_types, strict=True
        ):
            dims = [d if isinstance(d, int) and d > 0 else 1 for d in shape]
            feeds[name] = np.zeros(dims, dtype=dtype)
        for _ in range(runs):
            self.run(feeds)
        # Warm-up runs include allocation and kernel selection; keep them out of the stats.
        self._timings.clear()

    def run(
        self, feeds: Mapping[str, npt.NDArray[np.generic]] | npt.NDArray[np.generic]
    ) -> list[npt.NDArray[np.float32]]:
        """Run the model; a bare array feeds the single input."""
        if isinstance(feeds, np.ndarray):
            feeds = {self.input_names[0]: feeds}
        start = time.perf_counter()
        try:
            if self._use_binding:
                outputs = self._run_bound(feeds)
            else:
                outputs = self._session.run(list(self.output_names), dict(feeds))
        except Exception as exc:  # onnxruntime raises its own untyped exceptions
            raise InferenceError(f"inference failed on {self.path.name}: {exc}") from exc
        self._timings.add(time.perf_counter() - start)
        return [np.asarray(o) for o in outputs]

    @property
    def uses_io_binding(self) -> bool:
        """Whether runs go through IO binding (device-resident input and outputs)."""
        return self._use_binding

    def _device_input(self, name: str, value: npt.NDArray[np.generic]) -> object:
        """The device buffer of input ``name`` for this shape, refreshed from ``value``."""
        import onnxruntime as ort

        host = np.ascontiguousarray(value)
        key = (name, tuple(host.shape), str(host.dtype))
        buffer = self._inputs_on_device.get(key)
        if buffer is None:
            # A CPU OrtValue wraps the array it is given: give it its own, so refreshing
            # the buffer never writes into the caller's frame.
            owned = host.copy() if self._device == "cpu" else host
            buffer = ort.OrtValue.ortvalue_from_numpy(owned, self._device, self._device_id)
            self._inputs_on_device[key] = buffer
        else:
            buffer.update_inplace(host)  # type: ignore[attr-defined]  # one host→device copy
        return buffer

    def _run_bound(self, feeds: Mapping[str, npt.NDArray[np.generic]]) -> list[np.ndarray]:
        # The decoded, prepared frame is the only host→device copy; outputs are
        # allocated by ONNX Runtime on the device (its arena reuses them) and copied
        # back once.
        with self._bound_lock:
            binding = self._session.io_binding()
            for name, value in feeds.items():
                binding.bind_ortvalue_input(name, self._device_input(name, value))
            for name in self.output_names:
                binding.bind_output(name, self._device, self._device_id)
            self._session.run_with_iobinding(binding)
            return list(binding.copy_outputs_to_cpu())

    def reset_stats(self) -> None:
        """Forget recorded latencies (e.g. before a measurement)."""
        self._timings.clear()

    def stats(self) -> LatencyStats:
        """Latency of recent runs (p50/p95 in milliseconds)."""
        return self._timings.stats()
