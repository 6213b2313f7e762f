"""A batch-size-free copy of a detector model, for tiles batched into one inference call.

Detector exports often pin the batch dimension to 1: in the declared input and
output shapes and in ``Reshape`` targets such as ``[1, 80, -1]``. This module
rewrites the serialized model just enough to accept any batch: the first input
dimension becomes symbolic, output and intermediate shapes are left to ONNX
Runtime's own inference, and a leading 1 in a ``Reshape`` target becomes 0
("copy the input's dimension"). It reads the protobuf wire format directly, so
the device needs no ``onnx`` package.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from edge_agent.inference.errors import InferenceError
from edge_agent.inference.runner import OnnxRunner, default_cache_root
from fieldproof.cid import varint  # protobuf's varint is the same LEB128

Field = tuple[int, int, bytes]
"""Field number, wire type and payload (a length-delimited field without its length)."""

# ModelProto.graph; GraphProto.node/initializer/input/output/value_info;
# NodeProto.input/op_type; TensorProto.data_type/int64_data/name/raw_data;
# ValueInfoProto.type; TypeProto.tensor_type; TypeProto.Tensor.shape;
# TensorShapeProto.dim; Dimension.dim_param.
_GRAPH, _NODE, _INIT, _INPUT, _OUTPUT, _VALUE_INFO = 7, 1, 5, 11, 12, 13
_NODE_INPUT, _OP_TYPE = 1, 4
_DATA_TYPE, _INT64_DATA, _NAME, _RAW = 2, 7, 8, 9
_TYPE, _TENSOR, _SHAPE, _DIM, _DIM_PARAM = 2, 1, 2, 1, 2
_INT64 = 7
BATCH_DIM = "batch"


def _readvarint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise InferenceError("truncated model file")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def parse(data: bytes) -> list[Field]:
    """Top-level fields of one protobuf message, in order."""
    fields: list[Field] = []
    pos = 0
    while pos < len(data):
        key, pos = _readvarint(data, pos)
        number, wire = key >> 3, key & 7
        start = pos
        if wire == 0:
            _, pos = _readvarint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, start = _readvarint(data, pos)
            pos = start + length
        else:
            raise InferenceError(f"unsupported protobuf wire type {wire}")
        if pos > len(data):
            raise InferenceError("truncated model file")
        fields.append((number, wire, data[start:pos]))
    return fields


def serialize(fields: Sequence[Field]) -> bytes:
    parts = []
    for number, wire, payload in fields:
        parts.append(varint(number << 3 | wire))
        if wire == 2:
            parts.append(varint(len(payload)))
        parts.append(payload)
    return b"".join(parts)


def _strings(fields: Sequence[Field], number: int) -> list[str]:
    return [p.decode() for n, w, p in fields if n == number and w == 2]


def _map_field(message: bytes, number: int, change: Callable[[bytes], bytes]) -> bytes:
    """``message`` with every payload of field ``number`` passed through ``change``."""
    return serialize([(n, w, change(p) if n == number else p) for n, w, p in parse(message)])


def _in_tensor_type(value_info: bytes, change: Callable[[bytes], bytes]) -> bytes:
    """Apply ``change`` to the ``TypeProto.Tensor`` of a ``ValueInfoProto``."""
    return _map_field(value_info, _TYPE, lambda t: _map_field(t, _TENSOR, change))


def _symbolic_first_dim(value_info: bytes) -> bytes:
    def first_dim_free(shape: bytes) -> bytes:
        dims = parse(shape)
        first = next(i for i, d in enumerate(dims) if d[0] == _DIM)
        dims[first] = (_DIM, 2, serialize([(_DIM_PARAM, 2, BATCH_DIM.encode())]))
        return serialize(dims)

    return _in_tensor_type(value_info, lambda t: _map_field(t, _SHAPE, first_dim_free))


def _without_shape(value_info: bytes) -> bytes:
    return _in_tensor_type(value_info, lambda t: serialize([f for f in parse(t) if f[0] != _SHAPE]))


def _zero_lead(number: int, wire: int, payload: bytes) -> bytes:
    if number == _RAW and payload[:8] == (1).to_bytes(8, "little"):
        return bytes(8) + payload[8:]
    if number == _INT64_DATA and wire == 2 and payload[:1] == b"\x01":
        return b"\x00" + payload[1:]
    return payload


def _batch_free_target(tensor: bytes) -> bytes:
    """A Reshape target whose leading 1 becomes 0 (copy the batch dimension)."""
    fields = parse(tensor)
    data_type = next((int(p[0]) for n, w, p in fields if n == _DATA_TYPE and w == 0), None)
    if data_type != _INT64:
        return tensor
    return serialize([(n, w, _zero_lead(n, w, p)) for n, w, p in fields])


def dynamic_batch(model: bytes) -> bytes:
    """The serialized model ``model`` with a free batch dimension (see the module doc)."""
    top = parse(model)
    graph_at = next((i for i, f in enumerate(top) if f[0] == _GRAPH), None)
    if graph_at is None:
        raise InferenceError("not an ONNX model: no graph")
    graph = parse(top[graph_at][2])
    consumers: dict[str, set[bool]] = {}
    for number, _, payload in graph:
        if number != _NODE:
            continue
        node = parse(payload)
        is_reshape = _strings(node, _OP_TYPE) == ["Reshape"]
        for position, name in enumerate(_strings(node, _NODE_INPUT)):
            consumers.setdefault(name, set()).add(is_reshape and position == 1)
    targets = {name for name, uses in consumers.items() if uses == {True}}
    initializer_names = {_strings(parse(p), _NAME)[0] for n, _, p in graph if n == _INIT}
    inputs = [
        p for n, _, p in graph if n == _INPUT and _strings(parse(p), 1)[0] not in initializer_names
    ]
    if not inputs:
        raise InferenceError("model has no graph input")

    def rewrite(number: int, payload: bytes) -> bytes:
        if number == _INPUT and payload in inputs:
            return _symbolic_first_dim(payload)
        if number == _OUTPUT:
            return _without_shape(payload)
        if number == _INIT and _strings(parse(payload), _NAME)[0] in targets:
            return _batch_free_target(payload)
        return payload

    # Intermediate shapes (value_info) are dropped: they pin the batch to 1 too.
    out = [(n, w, rewrite(n, p)) for n, w, p in graph if n != _VALUE_INFO]
    top[graph_at] = (_GRAPH, 2, serialize(out))
    return serialize(top)


_lock = threading.Lock()
_runners: dict[tuple[str, str, tuple[str, ...] | None, bool], OnnxRunner] = {}


def batched_runner(
    model_path: Path,
    sha256: str,
    *,
    providers: Sequence[str] | None = None,
    cache_dir: Path | None = None,
    fp16: bool = False,
) -> OnnxRunner:
    """A runner of the batch-free copy of ``model_path``, one per model shared by cameras.

    The copy is written once under ``cache_dir`` (named by the source's sha256) and
    loaded pinned to its own hash, so a tampered cache file is refused.
    """
    key = (str(model_path), sha256, tuple(providers) if providers is not None else None, fp16)
    with _lock:
        runner = _runners.get(key)
        if runner is not None:
            return runner
        data = dynamic_batch(Path(model_path).read_bytes())
        digest = hashlib.sha256(data).hexdigest()
        directory = cache_dir or default_cache_root().parent / "batched"
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{Path(model_path).stem}-{sha256[:16]}-batch.onnx"
        if not target.exists() or hashlib.sha256(target.read_bytes()).hexdigest() != digest:
            handle, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(tmp, target)
        runner = OnnxRunner(target, providers=providers, expected_sha256=digest, fp16=fp16)
        _runners[key] = runner
        return runner
