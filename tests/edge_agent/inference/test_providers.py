"""Provider choice and TensorRT/CUDA option building (pure functions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.errors import AgentValueError
from edge_agent.inference.providers import (
    CPU,
    CUDA,
    TENSORRT,
    choose_providers,
    cuda_options,
    tensorrt_cache_key,
    tensorrt_options,
)

SHA = "ab" * 32


def test_cache_key_changes_with_each_part() -> None:
    base = tensorrt_cache_key(SHA, "1.20.0", "10.3.0", "Orin (nvgpu)")
    assert base.startswith(SHA[:16] + "-ort1.20.0-trt10.3.0-orin-nvgpu-")
    variants = {
        tensorrt_cache_key("cd" * 32, "1.20.0", "10.3.0", "Orin (nvgpu)"),
        tensorrt_cache_key(SHA, "1.21.0", "10.3.0", "Orin (nvgpu)"),
        tensorrt_cache_key(SHA, "1.20.0", "10.4.0", "Orin (nvgpu)"),
        tensorrt_cache_key(SHA, "1.20.0", "10.3.0", "NVIDIA H100"),
    }
    assert base not in variants
    assert len(variants) == 4
    assert tensorrt_cache_key(SHA, "1.20.0", "10.3.0", "Orin (nvgpu)") == base
    assert "/" not in tensorrt_cache_key(SHA, "1", "2", "a/b c")


def test_tensorrt_options_put_engines_and_timing_cache_in_the_keyed_dir(tmp_path: Path) -> None:
    spec = tensorrt_options(tmp_path, "key1", fp16=True, device_id=1)
    name, options = spec.as_session_arg()
    assert name == TENSORRT
    assert options == {
        "device_id": "1",
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": str(tmp_path / "key1"),
        "trt_timing_cache_enable": "True",
        "trt_timing_cache_path": str(tmp_path / "key1"),
        "trt_fp16_enable": "True",
        "trt_max_workspace_size": str(1 << 30),
    }
    assert tensorrt_options(tmp_path, "k", fp16=False).as_session_arg()[1]["trt_fp16_enable"] == (
        "False"
    )


def test_cuda_options() -> None:
    assert cuda_options(device_id=2).as_session_arg() == (
        CUDA,
        {
            "device_id": "2",
            "cudnn_conv_algo_search": "HEURISTIC",
            "do_copy_in_default_stream": "True",
        },
    )


def test_best_offered_providers_in_order_with_cpu_last(tmp_path: Path) -> None:
    specs = choose_providers(
        [CPU, CUDA, TENSORRT],
        None,
        model_sha256=SHA,
        cache_root=tmp_path,
        fp16=True,
        ort_version="1.20.0",
        trt_version="10.3.0",
        gpu_name="Orin",
    )
    assert [s.name for s in specs] == [TENSORRT, CUDA, CPU]
    trt = dict(specs[0].options)
    assert trt["trt_engine_cache_path"] == str(
        tmp_path / tensorrt_cache_key(SHA, "1.20.0", "10.3.0", "Orin")
    )
    assert trt["trt_fp16_enable"] == "True"
    cpu_only = choose_providers([CPU], None, model_sha256=SHA, cache_root=tmp_path)
    assert [s.name for s in cpu_only] == [CPU]


def test_requested_providers_by_alias(tmp_path: Path) -> None:
    specs = choose_providers([CPU, CUDA], ["cuda"], model_sha256=SHA, cache_root=tmp_path)
    assert [s.name for s in specs] == [CUDA, CPU]


def test_missing_provider_is_named(tmp_path: Path) -> None:
    with pytest.raises(AgentValueError, match="TensorrtExecutionProvider not offered"):
        choose_providers([CPU], ["tensorrt"], model_sha256=SHA, cache_root=tmp_path)
