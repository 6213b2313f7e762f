"""The TF.js → ONNX converter on a small graph built like onnx-tf's NanoDet export.

The graph has every op kind the NanoDet-m graph uses (NCHW input, transposes around
NHWC convolutions and pooling, fp16 weights, int64 shapes stored as int32 and
rebuilt through SparseToDense, bilinear resize, split, sigmoid, reshape) and the
converted model is checked against a numpy reference of TensorFlow's semantics.
"""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from numpy.lib.stride_tricks import sliding_window_view

SCRIPT = Path(__file__).resolve().parents[2] / "models" / "convert_nanodet.py"
NHWC = base64.b64encode(b"NHWC").decode()
VALID = base64.b64encode(b"VALID").decode()


def _load_converter() -> ModuleType:
    spec = importlib.util.spec_from_file_location("convert_nanodet", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class GraphBuilder:
    """Collects TF.js nodes, and weights in manifest order."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.weights: list[tuple[dict[str, Any], bytes]] = []

    def const(self, name: str, value: np.ndarray, tf_dtype: str, fp16: bool = False) -> str:
        self.nodes.append({"name": name, "op": "Const", "attr": {"dtype": {"type": tf_dtype}}})
        entry: dict[str, Any] = {"name": name, "shape": list(value.shape)}
        if fp16:
            entry["dtype"] = "float32"
            entry["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            data = value.astype(np.float16).tobytes()
        elif value.dtype.kind == "f":
            entry["dtype"] = "float32"
            data = value.astype(np.float32).tobytes()
        else:
            entry["dtype"] = "int32"  # TF.js keeps integer constants as int32
            data = value.astype(np.int32).tobytes()
        self.weights.append((entry, data))
        return name

    def op(self, name: str, op: str, inputs: list[str], **attr: Any) -> str:
        self.nodes.append({"name": name, "op": op, "input": inputs, "attr": attr})
        return name

    def perm(self, name: str, src: str, perm: tuple[int, ...]) -> str:
        p = self.const(f"{name}/perm", np.asarray(perm), "DT_INT32")
        return self.op(name, "Transpose", [src, p])


def build_graph(rng: np.random.Generator) -> tuple[dict[str, Any], bytes, dict[str, np.ndarray]]:
    g = GraphBuilder()
    params: dict[str, np.ndarray] = {
        "kernel": rng.normal(0, 0.4, (3, 3, 3, 4)).astype(np.float32),
        "bias": rng.normal(0, 0.2, (4,)).astype(np.float32),
    }
    g.op(
        "input_1",
        "Placeholder",
        [],
        shape={"shape": {"dim": [{"size": s} for s in ("1", "3", "8", "8")]}},
    )
    pads = g.const("pads", np.asarray([[0, 0], [0, 0], [1, 1], [1, 1]]), "DT_INT32")
    x = g.op("pad", "Pad", ["input_1", pads])
    x = g.perm("t1", x, (0, 2, 3, 1))
    kernel = g.const("kernel", params["kernel"], "DT_FLOAT", fp16=True)
    conv_attr = {
        "data_format": {"s": NHWC},
        "padding": {"s": VALID},
        "strides": {"list": {"i": ["1", "1", "1", "1"]}},
        "dilations": {"list": {"i": ["1", "1", "1", "1"]}},
    }
    x = g.op("conv", "Conv2D", [x, kernel], **conv_attr)
    x = g.op("bias_add", "Add", [x, g.const("bias", params["bias"], "DT_FLOAT", fp16=True)])
    x = g.perm("t2", x, (0, 3, 1, 2))
    y = g.op("leaky", "LeakyRelu", [x], alpha={"f": 0.1})
    fill = g.const("fill", np.asarray(-1e4, dtype=np.float32), "DT_FLOAT")
    m = g.op("padv2", "PadV2", [y, pads, fill])
    m = g.perm("t3", m, (0, 2, 3, 1))
    pool_attr = {
        "data_format": {"s": NHWC},
        "padding": {"s": VALID},
        "ksize": {"list": {"i": ["1", "3", "3", "1"]}},
        "strides": {"list": {"i": ["1", "2", "2", "1"]}},
    }
    m = g.op("pool", "MaxPool", [m], **pool_attr)
    size = g.const("size", np.asarray([8, 8]), "DT_INT32")
    r = g.op(
        "resize",
        "ResizeBilinear",
        [m, size],
        half_pixel_centers={"b": True},
        align_corners={"b": False},
    )
    r = g.perm("t4", r, (0, 3, 1, 2))
    axis = g.const("axis", np.asarray(1), "DT_INT32")
    c = g.op("concat", "ConcatV2", [y, r, axis])
    # onnx-tf rebuilds each reshape target as constant + SparseToDense(zeros).
    empty = g.const("where", np.zeros((0, 1)), "DT_INT64")
    dense_shape = g.const("dense_shape", np.asarray([3]), "DT_INT64")
    values = g.const("values", np.zeros((0,)), "DT_INT64")
    zero = g.const("zero", np.asarray(0), "DT_INT64")
    std = g.op("s2d", "SparseToDense", [empty, dense_shape, values, zero], T={"type": "DT_INT64"})
    sizes = g.const("sizes", np.asarray([5, 3]), "DT_INT32")
    split_dim = g.const("split_dim", np.asarray(1), "DT_INT32")
    for level in range(3):
        split = g.op(f"split{level}", "SplitV", [c, sizes, split_dim], num_split={"i": "2"})
        scores = g.op(f"sig{level}", "Sigmoid", [split])
        for kind, src, channels, out in (
            ("cls", scores, 5, f"Identity{'' if level == 0 else f'_{level}'}"),
            ("box", f"{split}:1", 3, f"Identity_{level + 3}"),
        ):
            base = g.const(f"{kind}{level}/shape", np.asarray([1, channels, -1]), "DT_INT64")
            shape = g.op(f"{kind}{level}/add", "AddV2", [base, std])
            flat = g.op(f"{kind}{level}/reshape", "Reshape", [src, shape])
            g.op(out, "Identity", [g.perm(f"{kind}{level}/t", flat, (0, 2, 1))])
    outputs = {}
    for level in range(3):
        for name, channels in (
            (f"Identity{'' if level == 0 else f'_{level}'}", 5),
            (f"Identity_{level + 3}", 3),
        ):
            dims = [{"size": s} for s in ("1", "64", str(channels))]
            outputs[f"{name}:0"] = {"name": f"{name}:0", "tensorShape": {"dim": dims}}
    model = {
        "format": "graph-model",
        "signature": {"outputs": outputs},
        "modelTopology": {"node": g.nodes},
        "weightsManifest": [{"paths": ["graph.bin"], "weights": [w for w, _ in g.weights]}],
    }
    return model, b"".join(d for _, d in g.weights), params


def reference(x: np.ndarray, params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """TensorFlow semantics in numpy: ``cls`` [1, 64, 5] and ``box`` [1, 64, 3]."""
    kernel = params["kernel"].astype(np.float16).astype(np.float64)
    bias = params["bias"].astype(np.float16).astype(np.float64)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))).transpose(0, 2, 3, 1)
    windows = sliding_window_view(padded, (3, 3), axis=(1, 2))  # N, H, W, C, kh, kw
    conv = np.einsum("nhwcij,ijco->nhwo", windows, kernel) + bias
    y = np.where(conv > 0, conv, 0.1 * conv).transpose(0, 3, 1, 2)  # NCHW
    m = np.pad(y, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-1e4)
    pooled = sliding_window_view(m, (3, 3), axis=(2, 3))[:, :, ::2, ::2].max(axis=(4, 5))
    resized = np.stack(
        [
            cv2.resize(ch.astype(np.float32), (8, 8), interpolation=cv2.INTER_LINEAR)
            for ch in pooled[0]
        ]
    )[None]
    c = np.concatenate([y, resized], axis=1)
    cls = (1 / (1 + np.exp(-c[:, :5]))).reshape(1, 5, -1).transpose(0, 2, 1)
    box = c[:, 5:].reshape(1, 3, -1).transpose(0, 2, 1)
    return cls, box


@pytest.fixture(scope="module")
def converter() -> ModuleType:
    return _load_converter()


def test_converted_graph_matches_tensorflow_semantics(
    converter: ModuleType, tmp_path: Path
) -> None:
    rng = np.random.default_rng(11)
    model_json, blob, params = build_graph(rng)
    (tmp_path / "graph.json").write_text(json.dumps(model_json))
    (tmp_path / "graph.bin").write_bytes(blob)
    model = converter.convert(tmp_path / "graph.json")
    ops = [n.op_type for n in model.graph.node]
    # Inverse transpose pairs cancel and the bias is folded into the convolution.
    assert "Add" not in ops
    assert ops.count("Conv") == 1
    assert [o.name for o in model.graph.output] == list(converter.OUTPUT_NAMES.values())
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = rng.normal(0, 1, (1, 3, 8, 8)).astype(np.float32)
    names = [o.name for o in session.get_outputs()]
    outputs = dict(zip(names, session.run(None, {"input": x}), strict=True))
    cls, box = reference(x.astype(np.float64), params)
    for level in (8, 16, 32):
        np.testing.assert_allclose(outputs[f"cls_{level}"], cls, atol=1e-4)
        np.testing.assert_allclose(outputs[f"box_{level}"], box, atol=1e-4)


def test_weights_are_dequantised_from_fp16(converter: ModuleType, tmp_path: Path) -> None:
    model_json, blob, params = build_graph(np.random.default_rng(2))
    (tmp_path / "graph.bin").write_bytes(blob)
    weights = converter.load_weights(model_json, tmp_path)
    assert weights["kernel"].dtype == np.float32
    np.testing.assert_array_equal(weights["kernel"], params["kernel"].astype(np.float16))
    assert weights["sizes"].tolist() == [5, 3]
    (tmp_path / "graph.bin").write_bytes(blob + b"\x00\x00")
    with pytest.raises(ValueError, match="2 unread bytes"):
        converter.load_weights(model_json, tmp_path)
