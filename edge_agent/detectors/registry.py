"""The one place detector plugins are registered: every module of ``plugins/``.

Each plugin module declares a :class:`DetectorPlugin` as ``PLUGIN``; this module
collects them by key. A model path with no key is matched to a plugin by its
manifest entry or, for an operator's own export, by the layout of its outputs.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from pathlib import Path

from edge_agent.detectors import plugins
from edge_agent.detectors.base import OnnxDetector
from edge_agent.detectors.plugin import DetectorConfigBase, DetectorPlugin
from edge_agent.errors import AgentError, AgentValueError
from edge_agent.inference.manifest import find_entry


def _discover() -> dict[str, DetectorPlugin]:
    found: dict[str, DetectorPlugin] = {}
    for info in sorted(pkgutil.iter_modules(plugins.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{plugins.__name__}.{info.name}")
        plugin = getattr(module, "PLUGIN", None)
        if not isinstance(plugin, DetectorPlugin):
            raise AgentError(f"{module.__name__} declares no PLUGIN = DetectorPlugin(...)")
        if plugin.key in found:
            raise AgentError(f"detector key {plugin.key!r} declared twice ({module.__name__})")
        found[plugin.key] = plugin
    return found


PLUGINS: dict[str, DetectorPlugin] = _discover()
DEFAULT_DETECTOR = "nanodet"


def default_config() -> DetectorConfigBase:
    """The detector a config without a ``detector`` section runs."""
    return PLUGINS[DEFAULT_DETECTOR].config.model_validate({"type": DEFAULT_DETECTOR})


def _sniff(path: Path) -> DetectorPlugin:
    """The plugin that reads a model file: by its manifest entry, else its output layout."""
    entry = find_entry(path)
    if entry is not None and entry.detector in PLUGINS:
        return PLUGINS[entry.detector]
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped exceptions
        raise AgentValueError(f"{path} is not a loadable ONNX model: {exc}") from exc
    layout = [(output.name, tuple(output.shape)) for output in session.get_outputs()]
    for plugin in PLUGINS.values():
        if plugin.reads is not None and plugin.reads(layout):
            return plugin
    raise AgentValueError(
        f"cannot tell which detector reads {path}; name it as KEY:PATH "
        f"with KEY one of {', '.join(PLUGINS)}"
    )


def resolve(spec: str) -> tuple[DetectorPlugin, Path]:
    """``nanodet`` / ``yolo:/m.onnx`` / ``/m.onnx`` → plugin and model path.

    Only a registered key counts as a prefix, so a path may hold colons.
    """
    if spec in PLUGINS:
        plugin = PLUGINS[spec]
        return plugin, plugin.model_path(None)
    path = Path(spec)
    if not path.is_file():
        for key, plugin in PLUGINS.items():
            if spec.startswith(f"{key}:"):
                return plugin, plugin.model_path(spec.removeprefix(f"{key}:"))
        raise AgentValueError(
            f"unknown detector {spec!r}: neither a registered detector "
            f"({', '.join(PLUGINS)}) nor an existing model file"
        )
    return _sniff(path), path


def build(
    spec: str,
    *,
    providers: Sequence[str] | None = None,
    score_threshold: float = 0.35,
    iou_threshold: float | None = None,
    classes: Sequence[str] | None = None,
    fp16: bool = False,
) -> OnnxDetector:
    """Build a detector by registry key, ``KEY:PATH`` or model path."""
    plugin, path = resolve(spec)
    return plugin.detector(
        path,
        providers=providers,
        score_threshold=score_threshold,
        iou_threshold=iou_threshold,
        classes=classes,
        fp16=fp16,
    )


def build_from_config(config: DetectorConfigBase) -> OnnxDetector:
    """Build the detector a validated config section describes."""
    return PLUGINS[config.type].build(config)
