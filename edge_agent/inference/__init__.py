"""ONNX Runtime runner: provider choice, integrity check against the model manifest, timing."""

from __future__ import annotations

from edge_agent.inference.errors import (
    InferenceError,
    ModelIntegrityError,
    ModelNotFoundError,
)
from edge_agent.inference.manifest import (
    Manifest,
    ModelEntry,
    default_models_dir,
    load_manifest,
    sha256_file,
    verify_model_file,
)
from edge_agent.inference.providers import (
    ProviderSpec,
    available_providers,
    choose_providers,
    cuda_options,
    tensorrt_cache_key,
    tensorrt_options,
)
from edge_agent.inference.runner import OnnxRunner
from edge_agent.inference.timing import LatencyStats, LatencyTracker

__all__ = [
    "InferenceError",
    "LatencyStats",
    "LatencyTracker",
    "Manifest",
    "ModelEntry",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "OnnxRunner",
    "ProviderSpec",
    "available_providers",
    "choose_providers",
    "cuda_options",
    "default_models_dir",
    "load_manifest",
    "sha256_file",
    "tensorrt_cache_key",
    "tensorrt_options",
    "verify_model_file",
]
