"""The runner refuses a model whose bytes differ from its manifest, and times runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge_agent.inference import ModelIntegrityError, ModelNotFoundError, OnnxRunner, sha256_file
from tests.edge_agent.detectors.frames import FIXTURES

MODEL = FIXTURES / "tiny_yolo.onnx"


def _install(tmp_path: Path, sha256: str) -> Path:
    target = tmp_path / "tiny.onnx"
    shutil.copyfile(MODEL, target)
    manifest = {
        "version": 1,
        "files": {
            "tiny.onnx": {
                "sha256": sha256,
                "size": target.stat().st_size,
                "kind": "detector",
                "detector": "yolo",
                "model_id": "tiny-yolo",
                "licence": "Apache-2.0",
                "provenance": "test fixture",
            }
        },
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return target


def test_manifest_pinned_model_loads_with_its_id(tmp_path: Path) -> None:
    path = _install(tmp_path, sha256_file(MODEL))
    runner = OnnxRunner(path, warmup_runs=1)
    assert runner.model_id == "tiny-yolo"
    assert runner.sha256 == sha256_file(MODEL)
    assert runner.provider == "CPUExecutionProvider"


def test_hash_mismatch_refuses_to_load_naming_file_and_hashes(tmp_path: Path) -> None:
    wrong = "0" * 64
    path = _install(tmp_path, wrong)
    with pytest.raises(ModelIntegrityError) as caught:
        OnnxRunner(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"expected sha256 {wrong}" in message
    assert f"actual {sha256_file(MODEL)}" in message


def test_tampered_bytes_are_refused(tmp_path: Path) -> None:
    path = _install(tmp_path, sha256_file(MODEL))
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError):
        OnnxRunner(path)


def test_explicit_pin_overrides_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelIntegrityError):
        OnnxRunner(MODEL, expected_sha256="1" * 64)
    with pytest.raises(ModelNotFoundError):
        OnnxRunner(tmp_path / "absent.onnx")


def test_timing_percentiles() -> None:
    runner = OnnxRunner(MODEL, warmup_runs=2)
    assert runner.stats().count == 0  # warm-up runs are not counted
    for _ in range(20):
        (out,) = runner.run(np.zeros((1, 3, 64, 64), np.float32))
        assert out.shape == (1, 84, 64)
    stats = runner.stats()
    assert stats.count == 20
    assert 0 < stats.p50_ms <= stats.p95_ms <= stats.max_ms


def test_io_binding_gives_the_plain_run_s_outputs_and_reuses_its_input_buffer() -> None:
    # The bound path is what CUDA and TensorRT use; on the CPU it can be forced, so the
    # binding logic (device buffer per shape, refreshed in place) is checked here too.
    plain = OnnxRunner(MODEL, warmup_runs=0)
    bound = OnnxRunner(MODEL, warmup_runs=0, io_binding=True)
    assert not plain.uses_io_binding
    assert bound.uses_io_binding
    shape = [d if isinstance(d, int) else 1 for d in plain.input_shapes[0]]
    rng = np.random.default_rng(3)
    for _ in range(3):  # new values through the same device buffer each time
        x = rng.random(shape, dtype=np.float32)
        for want, got in zip(plain.run(x), bound.run(x), strict=True):
            np.testing.assert_array_equal(got, want)
    assert len(bound._inputs_on_device) == 1


def test_io_binding_never_writes_into_the_caller_s_array() -> None:
    # On the CPU an OrtValue wraps the array it is made from; the runner's input buffer
    # is refreshed in place on every run, which must not reach the first caller's frame.
    bound = OnnxRunner(MODEL, warmup_runs=0, io_binding=True)
    rng = np.random.default_rng(4)
    first = rng.random((1, 3, 64, 64), dtype=np.float32)
    kept = first.copy()
    bound.run(first)
    bound.run(rng.random((1, 3, 64, 64), dtype=np.float32))
    np.testing.assert_array_equal(first, kept)
