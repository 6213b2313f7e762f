"""The one place detector plugins are registered.

Each plugin module declares ``KEY`` and a detector class; this module maps the key
to a :class:`DetectorPlugin` saying how to build it and which model it loads by
default. A model path with no key is matched to a plugin by its manifest entry or,
for an operator's own export, by the shape of its outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edge_agent.detectors import nanodet, yolo
from edge_agent.detectors.base import OnnxDetector
from edge_agent.errors import AgentValueError
from edge_agent.inference.manifest import default_models_dir, find_entry

DetectorFactory = Callable[..., OnnxDetector]


@dataclass(frozen=True, slots=True)
class DetectorPlugin:
    """How to build one kind of detector."""

    key: str
    description: str
    factory: DetectorFactory
    default_model: str | None


PLUGINS: dict[str, DetectorPlugin] = {
    plugin.key: plugin
    for plugin in (
        DetectorPlugin(
            key=nanodet.KEY,
            description="NanoDet-m COCO-80 (416x416), shipped in models/",
            factory=nanodet.NanoDetDetector,
            default_model=nanodet.DEFAULT_MODEL,
        ),
        DetectorPlugin(
            key=yolo.KEY,
            description="an Ultralytics YOLOv8/YOLO11 ONNX export the operator brings",
            factory=yolo.YoloDetector,
            default_model=None,
        ),
    )
}
DEFAULT_DETECTOR = nanodet.KEY


def _sniff(path: Path) -> str:
    """Plugin key for a model file: its manifest entry, else its output layout."""
    entry = find_entry(path)
    if entry is not None and entry.detector:
        return entry.detector
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped exceptions
        raise AgentValueError(f"{path} is not a loadable ONNX model: {exc}") from exc
    outputs = session.get_outputs()
    if tuple(o.name for o in outputs) == nanodet.OUTPUT_NAMES:
        return nanodet.KEY
    if len(outputs) == 1 and len(outputs[0].shape) == 3:
        return yolo.KEY
    raise AgentValueError(
        f"cannot tell which detector reads {path}; name it as KEY:PATH "
        f"with KEY one of {', '.join(PLUGINS)}"
    )


def resolve(name_or_path: str) -> tuple[DetectorPlugin, Path]:
    """``nanodet`` / ``yolo:/m.onnx`` / ``/m.onnx`` → plugin and model path."""
    key, sep, rest = name_or_path.partition(":")
    if sep and key in PLUGINS:
        return PLUGINS[key], Path(rest)
    if name_or_path in PLUGINS:
        plugin = PLUGINS[name_or_path]
        if plugin.default_model is None:
            raise AgentValueError(
                f"detector {plugin.key!r} has no default model; pass {plugin.key}:PATH"
            )
        return plugin, default_models_dir() / plugin.default_model
    path = Path(name_or_path)
    if not path.is_file():
        raise AgentValueError(
            f"unknown detector {name_or_path!r}: neither a registered detector "
            f"({', '.join(PLUGINS)}) nor an existing model file"
        )
    return PLUGINS[_sniff(path)], path


def build(
    name_or_path: str,
    *,
    providers: Sequence[str] | None = None,
    score_threshold: float = 0.35,
    iou_threshold: float | None = None,
    classes: Sequence[str] | None = None,
    fp16: bool = False,
) -> OnnxDetector:
    """Build a detector by registry key, ``KEY:PATH`` or model path."""
    plugin, path = resolve(name_or_path)
    kwargs: dict[str, object] = {
        "providers": providers,
        "score_threshold": score_threshold,
        "classes": classes,
        "fp16": fp16,
    }
    if iou_threshold is not None:
        kwargs["iou_threshold"] = iou_threshold
    return plugin.factory(path, **kwargs)
