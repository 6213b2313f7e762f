"""Execution provider choice and provider options, as pure functions.

TensorRT engines take minutes to build on a Jetson and are only valid for the exact
model, ONNX Runtime, TensorRT and GPU they were built for, so engines and the timing
cache live on disk in a directory keyed by all four.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edge_agent.errors import AgentValueError

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
PREFERENCE: tuple[str, ...] = (TENSORRT, CUDA, CPU)
_ALIASES = {"tensorrt": TENSORRT, "trt": TENSORRT, "cuda": CUDA, "cpu": CPU}


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """One execution provider and its options, as handed to ``InferenceSession``."""

    name: str
    options: tuple[tuple[str, str], ...] = ()

    def as_session_arg(self) -> tuple[str, dict[str, str]]:
        return self.name, dict(self.options)


def available_providers() -> tuple[str, ...]:
    """Providers the installed onnxruntime build offers."""
    import onnxruntime as ort

    return tuple(str(p) for p in ort.get_available_providers())


def normalise_provider(name: str) -> str:
    """Accept ``cpu``/``cuda``/``tensorrt``/``trt`` or the full provider name."""
    return _ALIASES.get(name.lower(), name)


def tensorrt_cache_key(model_sha256: str, ort_version: str, trt_version: str, gpu_name: str) -> str:
    """Directory name for engines valid only for this model, ORT, TensorRT and GPU."""
    gpu = re.sub(r"[^A-Za-z0-9]+", "-", gpu_name).strip("-").lower() or "unknown-gpu"
    tail = hashlib.sha256(
        f"{model_sha256}|{ort_version}|{trt_version}|{gpu_name}".encode()
    ).hexdigest()[:12]
    return f"{model_sha256[:16]}-ort{ort_version}-trt{trt_version}-{gpu}-{tail}"


def tensorrt_options(
    cache_root: Path,
    cache_key: str,
    *,
    fp16: bool,
    device_id: int = 0,
    workspace_bytes: int = 1 << 30,
) -> ProviderSpec:
    """TensorRT provider options with engine and timing caches under ``cache_root/cache_key``."""
    cache_dir = str(cache_root / cache_key)
    return ProviderSpec(
        TENSORRT,
        (
            ("device_id", str(device_id)),
            ("trt_engine_cache_enable", "True"),
            ("trt_engine_cache_path", cache_dir),
            ("trt_timing_cache_enable", "True"),
            ("trt_timing_cache_path", cache_dir),
            ("trt_fp16_enable", "True" if fp16 else "False"),
            ("trt_max_workspace_size", str(workspace_bytes)),
        ),
    )


def cuda_options(*, device_id: int = 0) -> ProviderSpec:
    """CUDA provider options; heuristic cuDNN search avoids a slow first frame."""
    return ProviderSpec(
        CUDA,
        (
            ("device_id", str(device_id)),
            ("cudnn_conv_algo_search", "HEURISTIC"),
            ("do_copy_in_default_stream", "True"),
        ),
    )


def choose_providers(
    available: Sequence[str],
    requested: Sequence[str] | None,
    *,
    model_sha256: str,
    cache_root: Path,
    fp16: bool = False,
    ort_version: str = "unknown",
    trt_version: str = "unknown",
    gpu_name: str = "unknown",
    device_id: int = 0,
) -> list[ProviderSpec]:
    """Ordered provider specs: the requested ones, or the best the build offers.

    A requested provider the build lacks is an error naming it and what is offered;
    CPU is always appended last so unsupported nodes still have somewhere to run.
    """
    offered = set(available)
    if requested:
        names = [normalise_provider(r) for r in requested]
        missing = [n for n in names if n not in offered]
        if missing:
            raise AgentValueError(
                f"execution provider(s) {', '.join(missing)} not offered by this "
                f"onnxruntime build (offered: {', '.join(available) or 'none'})"
            )
    else:
        names = [p for p in PREFERENCE if p in offered]
    if CPU not in names:
        names.append(CPU)
    specs: list[ProviderSpec] = []
    for name in dict.fromkeys(names):
        if name == TENSORRT:
            key = tensorrt_cache_key(model_sha256, ort_version, trt_version, gpu_name)
            specs.append(tensorrt_options(cache_root, key, fp16=fp16, device_id=device_id))
        elif name == CUDA:
            specs.append(cuda_options(device_id=device_id))
        else:
            specs.append(ProviderSpec(name))
    return specs
