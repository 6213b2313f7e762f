"""A detector that also looks at tiles of a region of interest, batched into one call.

The whole frame and every tile are prepared as the wrapped detector prepares a
frame, stacked into one batch and run in one inference call on a batch-free copy
of the model (:mod:`edge_agent.detectors.batching`), or handed to a camera batcher
shared with other cameras (:mod:`edge_agent.detectors.multicam`); each slice is decoded as a
frame of its own and the results are merged (:mod:`edge_agent.detectors.tiles`).
A detector that is not an ONNX detector runs its slices one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge_agent.detectors.base import OnnxDetector
from edge_agent.detectors.batching import batched_runner
from edge_agent.detectors.multicam import BatchRunner
from edge_agent.detectors.preprocess import Prepared
from edge_agent.detectors.tiles import Tile, merge, plan_tiles
from edge_agent.detectors.types import Detections, Detector


@dataclass(frozen=True, slots=True)
class TileLayout:
    """Where to tile: ``region`` x1, y1, x2, y2 in source pixels, and how."""

    region: tuple[float, float, float, float]
    columns: int = 2
    rows: int = 1
    overlap: float = 0.25
    full_frame: bool = True
    edge_margin: float = 2.0


@dataclass(frozen=True, slots=True)
class TiledInput:
    """One frame's slices prepared for the model, stacked as one batch."""

    tensor: npt.NDArray[np.float32]
    slices: tuple[Prepared, ...]
    tiles: tuple[Tile, ...]


class TiledDetector:
    """Wraps a detector; its detections cover the whole frame and the tiled region."""

    def __init__(
        self,
        detector: Detector,
        layout: TileLayout,
        *,
        runner: BatchRunner | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.detector = detector
        self.layout = layout
        self.model_id = detector.model_id
        self.sha256 = detector.sha256
        self._plans: dict[tuple[int, int], tuple[Tile, ...]] = {}
        self._runner: BatchRunner | None = runner
        if runner is None and isinstance(detector, OnnxDetector):
            self._runner = batched_runner(
                detector.runner.path,
                detector.sha256,
                providers=detector.runner.providers,
                cache_dir=cache_dir,
                fp16=detector.runner.fp16,
            )

    @property
    def runner(self) -> BatchRunner | None:
        """What runs the stacked slices (None: slices one at a time on the wrapped detector)."""
        return self._runner

    def tiles_for(self, width: int, height: int) -> tuple[Tile, ...]:
        plan = self._plans.get((width, height))
        if plan is None:
            layout = self.layout
            plan = tuple(
                plan_tiles(
                    width,
                    height,
                    layout.region,
                    columns=layout.columns,
                    rows=layout.rows,
                    overlap=layout.overlap,
                )
            )
            self._plans[(width, height)] = plan
        return plan

    def _crops(self, frame_bgr: npt.NDArray[np.uint8]) -> list[npt.NDArray[np.uint8]]:
        tiles = self.tiles_for(frame_bgr.shape[1], frame_bgr.shape[0])
        crops = [frame_bgr] if self.layout.full_frame else []
        return crops + [frame_bgr[t.y1 : t.y2, t.x1 : t.x2] for t in tiles]

    def _onnx(self) -> OnnxDetector:
        if not isinstance(self.detector, OnnxDetector):
            raise TypeError("staged tiling needs an ONNX detector")
        return self.detector

    def prepare(self, frame_bgr: npt.NDArray[np.uint8]) -> TiledInput:
        detector = self._onnx()
        slices = tuple(detector.prepare(np.ascontiguousarray(c)) for c in self._crops(frame_bgr))
        tensor = np.concatenate([s.tensor for s in slices], axis=0)
        tiles = self.tiles_for(frame_bgr.shape[1], frame_bgr.shape[0])
        return TiledInput(tensor=tensor, slices=slices, tiles=tiles)

    def infer(self, prepared: TiledInput) -> list[npt.NDArray[np.float32]]:
        """All slices in one inference call."""
        assert self._runner is not None
        return self._runner.run(prepared.tensor)

    def infer_each(self, prepared: TiledInput) -> list[list[npt.NDArray[np.float32]]]:
        """Each slice in its own call on the wrapped detector's model (the reference)."""
        detector = self._onnx()
        return [detector.infer(s) for s in prepared.slices]

    def finish(self, outputs: list[npt.NDArray[np.float32]], prepared: TiledInput) -> Detections:
        detector = self._onnx()
        per_slice = []
        for i, item in enumerate(prepared.slices):
            boxes, scores, ids = detector.decode_outputs([o[i : i + 1] for o in outputs])
            per_slice.append(detector.select(boxes, scores, ids, item))
        return self._merge(per_slice, prepared.tiles, detector.iou_threshold)

    def _merge(
        self, per_slice: list[Detections], tiles: tuple[Tile, ...], iou_threshold: float
    ) -> Detections:
        whole = per_slice[0] if self.layout.full_frame else None
        tiled = per_slice[1:] if self.layout.full_frame else per_slice
        shifted = []
        for tile, found in zip(tiles, tiled, strict=True):
            boxes = found.boxes + np.asarray([tile.x1, tile.y1, tile.x1, tile.y1], np.float32)
            shifted.append((tile, Detections(boxes, found.scores, found.class_ids)))
        return merge(
            whole, shifted, iou_threshold=iou_threshold, edge_margin=self.layout.edge_margin
        )

    def detect(self, frame_bgr: npt.NDArray[np.uint8]) -> Detections:
        if self._runner is not None:
            prepared = self.prepare(frame_bgr)
            return self.finish(self.infer(prepared), prepared)
        per_slice = [self.detector.detect(np.ascontiguousarray(c)) for c in self._crops(frame_bgr)]
        tiles = self.tiles_for(frame_bgr.shape[1], frame_bgr.shape[0])
        iou = float(getattr(self.detector, "iou_threshold", 0.6))
        return self._merge(per_slice, tiles, iou)
