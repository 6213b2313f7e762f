"""Detector config: one model per plugin, discriminated by ``type``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edge_agent.detectors.types import TRAFFIC_CLASSES
from fieldproof.config import ConfigModel


class _DetectorConfigBase(ConfigModel):
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


class NanoDetConfig(_DetectorConfigBase):
    type: Literal["nanodet"] = Field(description="NanoDet-m COCO-80 shipped in models/")
    model: str | None = Field(default=None, description="model path; default the shipped one")


class YoloConfig(_DetectorConfigBase):
    type: Literal["yolo"] = Field(description="an Ultralytics YOLOv8/YOLO11 ONNX export")
    model: str = Field(description="path to the exported .onnx file")


DetectorConfig = Annotated[NanoDetConfig | YoloConfig, Field(discriminator="type")]
