"""What a detector plugin declares: its key, its config class and its detector class."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from pydantic import Field

from edge_agent.detectors.base import OnnxDetector
from edge_agent.detectors.types import TRAFFIC_CLASSES
from edge_agent.errors import AgentError, AgentValueError
from edge_agent.inference.manifest import default_models_dir
from fieldproof.config import ConfigModel

OutputLayout = Sequence[tuple[str, Sequence[int | str | None]]]
"""Name and shape of each output of a model, in order."""


class DetectorConfigBase(ConfigModel):
    """Settings every detector takes; a plugin's config adds ``type`` and ``model``."""

    # Declared for type checkers only: each plugin's config defines both fields, with
    # ``type`` narrowed to its own key, and pydantic must not see them here first.
    if TYPE_CHECKING:
        type: str
        model: str | None

    providers: tuple[str, ...] | None = Field(
        default=None,
        description="execution providers in order (cpu, cuda, tensorrt); default: best offered",
    )
    score_threshold: float = Field(default=0.35, ge=0.0, le=1.0, description="minimum score")
    iou_threshold: float | None = Field(
        default=None, gt=0.0, le=1.0, description="NMS IoU threshold; default per detector"
    )
    classes: tuple[str, ...] = Field(
        default=TRAFFIC_CLASSES, description="COCO class names to keep"
    )
    fp16: bool = Field(default=False, description="TensorRT fp16 engines where TensorRT runs")


@dataclass(frozen=True, slots=True)
class DetectorPlugin:
    """One kind of detector: built from its config, or matched to a model by its outputs."""

    key: str
    config: type[DetectorConfigBase]
    detector: type[OnnxDetector]
    default_model: str | None = None
    reads: Callable[[OutputLayout], bool] | None = None

    def __post_init__(self) -> None:
        field = self.config.model_fields.get("type")
        if field is None or get_args(field.annotation) != (self.key,):
            raise AgentError(
                f"detector plugin {self.key!r}: {self.config.__name__}.type must be "
                f"Literal[{self.key!r}]"
            )

    @property
    def description(self) -> str:
        return self.config.model_fields["type"].description or self.key

    def model_path(self, model: str | Path | None) -> Path:
        """``model`` as a path, or the shipped default when none is given."""
        if model is not None:
            return Path(model)
        if self.default_model is None:
            raise AgentValueError(
                f"detector {self.key!r} has no default model; give it a model path"
            )
        return default_models_dir() / self.default_model

    def build(self, config: DetectorConfigBase) -> OnnxDetector:
        """The detector ``config`` describes."""
        return self.detector(
            self.model_path(config.model),
            providers=config.providers,
            score_threshold=config.score_threshold,
            iou_threshold=config.iou_threshold,
            classes=config.classes,
            fp16=config.fp16,
        )
